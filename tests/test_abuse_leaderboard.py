"""Abuse and fault tests for the leaderboard (issue 25, items 3, 6, 7, 9): forged entries, false
baseline claims, paths that escape the submission, HTML in submission fields, unimportable code
under --rerun, and a submitter's code that attacks the validator during a re-run.

Each test starts from a copy of the committed smoke board and forges what an attacker would:
the digests are recomputed, so only the new checks (not the integrity digests) can catch it.
Everything stays on this machine; the sandbox tests open no socket beyond loopback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from benchmark.leaderboard.cli import main as lb_main
from benchmark.leaderboard.digests import content_digest, sha256_file, tree_digest
from benchmark.leaderboard.protocol import DEFAULT_ROOT, get_protocol
from benchmark.leaderboard.summary import compute_summary, score_matrix

SMOKE = "smoke/metaworld/scripted"
SECRETS = {
    "GEMINI_API_KEY": "gm-secret-4b1d",
    "OPENAI_API_KEY": "sk-secret-77aa",
    "HF_TOKEN": "hf-secret-9c0e",
}


@pytest.fixture
def board(tmp_path: Path) -> Path:
    """A writable copy of the committed smoke board; returns its submissions/ directory."""
    src = DEFAULT_ROOT / SMOKE / "submissions"
    dst = tmp_path / "boards" / SMOKE / "submissions"
    shutil.copytree(src, dst)
    return dst


def _root(subs: Path) -> Path:
    return subs.parents[3]


def _rewrite_csv(path: Path, success: float) -> None:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    rows[-1]["success_rate"] = repr(success)
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(out.getvalue())


def forge(subs: Path, name: str, src: str = "rating-regression", edit=None, success=None) -> Path:
    """A new entry `name` made from `src`: files moved under `name/`, `edit(doc)` applied, and
    every digest and the summary recomputed, i.e. internally consistent, as a forger makes it."""
    doc = json.loads((subs / f"{src}.json").read_text())
    if src != name:
        shutil.rmtree(subs / name, ignore_errors=True)
        shutil.copytree(subs / src, subs / name)
    doc["method"]["name"] = name
    for run in doc["runs"]:
        run["metrics_file"] = run["metrics_file"].replace(f"{src}/", f"{name}/", 1)
        if success is not None:
            _rewrite_csv(subs / run["metrics_file"], success)
            run["final_success"] = success
            run["curve"]["success_rate"][-1] = success
    if edit:
        edit(doc, subs)
    for run in doc["runs"]:
        target = Path(run["metrics_file"])
        target = target if target.is_absolute() else subs / target
        if target.is_file():
            run["metrics_sha256"] = sha256_file(target)
    proto = get_protocol("smoke")
    doc["summary"] = compute_summary(
        score_matrix(doc["runs"], proto.tasks, proto.seeds), proto.tasks
    )
    doc = json.loads(json.dumps(doc))
    doc["content_sha256"] = content_digest(doc)
    path = subs / f"{name}.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def _validate(capsys, *args: str) -> tuple[int, str]:
    rc = lb_main(["validate", *args])
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return rc, out.out


def _standings(subs: Path, capsys) -> tuple[str, dict, str]:
    lb_main(["standings", "--protocol", "smoke", "--root", str(_root(subs))])
    capsys.readouterr()
    board = subs.parent
    rows = json.loads((board / "standings.json").read_text())["rows"]
    return (
        (board / "README.md").read_text(),
        {r["name"]: r for r in rows},
        (board / "index.html").read_text(),
    )


# --- item 6: a full forgery validates, but is never shown as verified --------------------------


def test_forged_entry_with_recomputed_digests_is_marked_unverified(board, capsys):
    path = forge(board, "forged", success=1.0)  # both seeds "solved" the task
    rc, out = _validate(capsys, str(path))
    assert rc == 0, out  # self-consistent: the digests cannot tell
    readme, rows, page = _standings(board, capsys)
    assert rows["forged"]["verified"] is False and rows["forged"]["iqm"] == 1.0
    line = next(ln for ln in readme.splitlines() if ln.startswith("| 1 | forged"))
    assert "*unverified*" in line
    assert 'data-name="forged"><td data-value="1">1</td>' in page
    assert '<td class="t un">unverified</td>' in page.split('data-name="forged"')[1]


def test_claimed_baseline_off_the_suite_list_is_refused(board, capsys):
    def claim(doc, _):
        doc["kind"] = "baseline"

    mine = forge(board, "my-baseline", edit=claim)
    rc, out = _validate(capsys, str(mine))
    assert rc == 1
    assert "kind 'baseline' is reserved for the suite's own methods" in out
    assert "'my-baseline' is not one of erl-vlm, gt-reward, rbrl, rl-vlm-f, sparse" in out

    # the name of a listed baseline with other code behind it is refused as well
    (board / "sparse.json").unlink()
    shutil.rmtree(board / "sparse")

    def impostor(doc, _):
        doc["kind"] = "baseline"
        doc["method"]["code"]["ref"] = "my_pkg.fake:Sparse"

    fake = forge(board, "sparse", edit=impostor)
    rc, out = _validate(capsys, str(fake))
    assert rc == 1 and "'sparse' is listed with code.ref 'sparse', not 'my_pkg.fake:Sparse'" in out


def test_baseline_mark_comes_from_the_suite_list_not_from_kind(board, capsys):
    def unclaim(doc, _):
        doc["kind"] = "submission"

    shutil.move(board / "sparse", board / "sparse-orig")
    shutil.move(board / "sparse.json", board / "sparse-orig.json")
    forge(board, "sparse", src="sparse-orig", edit=unclaim)
    (board / "sparse-orig.json").unlink()
    readme, rows, _ = _standings(board, capsys)
    assert rows["sparse"]["kind"] == "baseline"  # on the list, whatever the file says
    assert rows["rating-regression"]["kind"] == "submission"
    assert "| sparse † |" in readme


def test_rerun_records_verification_that_an_edit_voids(board, capsys, monkeypatch):
    import benchmark.leaderboard.rerun as rerun_mod

    calls = []

    def fake_rerun(path, *args, **kwargs):
        calls.append(Path(path).name)
        return [], ["isolation: test double"]

    monkeypatch.setattr(rerun_mod, "rerun_check", fake_rerun)
    path = board / "rating-regression.json"
    rc, out = _validate(capsys, "--rerun", str(path))
    assert rc == 0 and calls == ["rating-regression.json"] and "REPRODUCED" in out
    record = json.loads((board.parent / "verified.json").read_text())["entries"]
    assert (
        record["rating-regression"]["content_sha256"]
        == json.loads(path.read_text())["content_sha256"]
    )
    assert record["rating-regression"]["isolation"] == "test double"
    _, rows, _ = _standings(board, capsys)
    assert rows["rating-regression"]["verified"] is True
    assert rows["sparse"]["verified"] is False  # never re-run here

    # editing the entry after its re-run (digests recomputed) makes it unverified again
    forge(board, "rating-regression", src="rating-regression", success=1.0)
    _, rows, _ = _standings(board, capsys)
    assert rows["rating-regression"]["verified"] is False
    # and a record copied by hand onto another entry does not match that entry's digest
    entries = json.loads((board.parent / "verified.json").read_text())
    entries["entries"]["sparse"] = dict(entries["entries"]["rating-regression"])
    (board.parent / "verified.json").write_text(json.dumps(entries))
    _, rows, _ = _standings(board, capsys)
    assert rows["sparse"]["verified"] is False


# --- item 7: every path stays inside the entry's own directory ---------------------------------


def _outside_copy(board: Path, tmp: Path) -> Path:
    """A well-formed metrics file outside the board (what an escaping path would read)."""
    src = board / "rating-regression/metrics/metaworld__drawer-open/seed0.csv"
    out = tmp / "outside" / "metrics.csv"
    out.parent.mkdir(exist_ok=True)
    shutil.copyfile(src, out)
    return out


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("absolute", "must be relative to the submission file, not absolute"),
        ("dotdot", "must not contain '..'"),
        ("other-entry", "must lie under 'forged/' (the entry's own directory)"),
        ("backslash", "must be a POSIX path"),
        ("symlink", "leads outside 'forged/' through a symbolic link"),
    ],
)
def test_metrics_path_outside_the_entry_is_refused_unread(board, tmp_path, capsys, given, why):
    outside = _outside_copy(board, tmp_path)

    def point(doc, subs):
        run = doc["runs"][0]
        if given == "absolute":
            run["metrics_file"] = str(outside)
        elif given == "dotdot":
            run["metrics_file"] = os.path.relpath(outside, subs)
        elif given == "other-entry":
            run["metrics_file"] = run["metrics_file"].replace("forged/", "sparse/", 1)
        elif given == "backslash":
            run["metrics_file"] = run["metrics_file"].replace("/", "\\")
        else:
            link = subs / run["metrics_file"]
            link.unlink()
            link.symlink_to(outside)

    path = forge(board, "forged", edit=point)
    rc, out = _validate(capsys, str(path))
    assert rc == 1, out
    assert "runs[metaworld/drawer-open@random seed 0].metrics_file " in out and why in out
    assert "digest mismatch" not in out and "curve." not in out  # it was never opened


@pytest.mark.parametrize("given", ["absolute", "dotdot", "link-inside"])
def test_cache_bundle_path_outside_the_entry_is_refused(board, tmp_path, capsys, given):
    secret = tmp_path / "outside" / "bundle"
    secret.mkdir(parents=True)
    (secret / "entries.jsonl").write_text('{"secret": "do not read"}\n')

    def attach(doc, subs):
        if given == "link-inside":
            inside = subs / "forged" / "bundle"
            inside.mkdir()
            (inside / "entries.jsonl").symlink_to(secret / "entries.jsonl")
            rel, target = "forged/bundle", inside
        else:
            rel = str(secret) if given == "absolute" else os.path.relpath(secret, subs)
            target = secret
        digest, count = tree_digest(target)
        doc["cache_bundle"] = {"path": rel, "sha256": digest, "files": max(count, 1)}

    rc, out = _validate(capsys, str(forge(board, "forged", edit=attach)))
    assert rc == 1, out
    expected = {
        "absolute": "cache_bundle.path",
        "dotdot": "must not contain '..'",
        "link-inside": "cache_bundle: 'entries.jsonl' is a link leading outside the bundle",
    }[given]
    assert expected in out and "do not read" not in out


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\xff\xfe not utf-8", "not valid JSON: the file is not UTF-8 text"),
        (b"[" * 100_000, "not valid JSON"),
        (None, "is a directory, not a submission JSON file"),
    ],
)
def test_unreadable_submission_files_give_one_line(board, capsys, content, why):
    bad = board / "bad.json"
    if content is None:
        bad.mkdir()
    else:
        bad.write_bytes(content)
    rc, out = _validate(capsys, str(bad))
    assert rc == 1 and f"REJECTED {bad}" in out and why in out


# --- item 9: HTML in submission fields, and unimportable code under --rerun --------------------


def test_html_from_submission_fields_is_escaped_in_the_generated_pages(board, capsys):
    def inject(doc, _):
        doc["method"]["authors"] = ["<script>alert(1)</script>", "[click](javascript:alert(2))"]
        doc["method"]["version"] = "<img src=x onerror=alert(3)>"

    forge(board, "injected", edit=inject)
    (board / "<img src=y onerror=alert(4)>.json").write_text("{}")  # a rejected file's name
    readme, rows, page = _standings(board, capsys)
    assert rows["injected"]["authors"][0] == "<script>alert(1)</script>"  # data kept as is
    for raw in ("<script>", "<img src=", "](javascript:"):
        assert raw not in readme, raw
    assert "&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in readme
    assert "&lt;img src=y onerror=alert\\(4\\)&gt;" in readme  # the rejected entry, inert
    assert page.count("<script>") == 1 and "<img src=x" not in page and "<img src=y" not in page


def test_unimportable_code_ref_under_rerun_is_one_clear_line(board, capsys):
    def nowhere(doc, _):
        doc["method"]["code"]["ref"] = "nowhere_pkg.mod:Nope"

    path = forge(board, "nowhere", edit=nowhere)
    rc, out = _validate(capsys, "--rerun", str(path))
    assert rc == 1
    problems = [ln for ln in out.splitlines() if ln.startswith("  - ")]
    assert problems == [
        "  - the re-run failed: cannot import the method 'nowhere_pkg.mod:Nope': "
        "ModuleNotFoundError: No module named 'nowhere_pkg'"
    ], out
    assert f"NOT REPRODUCED {path}" in out
    assert not (board.parent / "verified.json").exists()


# --- item 3: the re-run sandbox ----------------------------------------------------------------


def _namespace_or_skip() -> None:
    from benchmark.leaderboard.sandbox import namespace_problem

    if namespace_problem():
        pytest.skip(f"no namespaces on this machine: {namespace_problem()}")


@pytest.fixture(params=["namespace", "guard"])
def sandbox(request, tmp_path, monkeypatch):
    """A prepared sandbox in each isolation mode, with secrets in the validator's environment."""
    from benchmark.leaderboard.sandbox import Limits, Sandbox

    if request.param == "namespace":
        _namespace_or_skip()
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    limits = Limits(memory_gb=2, cpu_s=1, open_files=64, file_size_gb=0.01, wall_s=20)
    box = Sandbox(tmp_path / "box", limits, request.param)
    box.prepare({"note.txt": "input"})
    yield box
    box.cleanup()


def _py(box, code: str):
    from benchmark.leaderboard.sandbox import interpreter

    res = box.run([interpreter(), "-c", textwrap.dedent(code)])
    return res, res.log.read_text()


def test_sandbox_environment_has_no_secrets(sandbox):
    res, out = _py(sandbox, "import os, json; print(json.dumps(dict(os.environ)))")
    env = json.loads(out.strip().splitlines()[-1])
    assert res.returncode == 0
    assert not set(SECRETS) & set(env) and not any(v in out for v in SECRETS.values())
    assert env["HOME"] == str(sandbox.home) and env["VLMBENCH_SANDBOX"] == "1"


def test_sandbox_code_copy_is_read_only(sandbox):
    if sandbox.mode == "guard" and os.geteuid() == 0:
        pytest.skip("root ignores file modes: only the namespace path keeps root out of the copy")
    res, out = _py(
        sandbox,
        """
        import pathlib, benchmark
        try:
            (pathlib.Path(benchmark.__file__).parent / "pwned.py").write_text("x")
            print("WROTE")
        except OSError as err:
            print("refused", err.errno)
        """,
    )
    assert "refused" in out and "WROTE" not in out
    assert not list(sandbox.code.rglob("pwned.py"))


def test_sandbox_blocks_the_network(sandbox):
    res, out = _py(
        sandbox,
        """
        import socket
        for host in ("192.0.2.1", "example.com"):
            try:
                socket.create_connection((host, 80), timeout=1)
                print("CONNECTED", host)
            except OSError as err:
                print("blocked", type(err).__name__, host)
        srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
        socket.create_connection(srv.getsockname(), timeout=1).close()
        print("loopback ok")
        """,
    )
    assert "CONNECTED" not in out and out.count("blocked NetworkBlocked") == 2, out
    assert "loopback ok" in out


def test_sandbox_namespace_blocks_code_that_bypasses_the_guard(tmp_path):
    """C-level sockets skip the Python guard: only the network namespace stops them."""
    from benchmark.leaderboard.sandbox import Limits, Sandbox

    _namespace_or_skip()
    box = Sandbox(tmp_path / "box", Limits(wall_s=20), "namespace")
    box.prepare({})
    res, out = _py(
        box,
        """
        import _socket, errno
        s = _socket.socket(); s.settimeout(2)
        print("errno", errno.errorcode.get(s.connect_ex(("192.0.2.1", 80))))
        """,
    )
    box.cleanup()
    assert "errno ENETUNREACH" in out, out


def test_sandbox_namespace_hides_the_validators_files(tmp_path, monkeypatch):
    from benchmark.leaderboard.protocol import REPO_ROOT
    from benchmark.leaderboard.sandbox import Limits, Sandbox

    _namespace_or_skip()
    holder = subprocess.Popen(["sleep", "120"], env={**os.environ, **SECRETS})  # a secret-holder
    box = Sandbox(tmp_path / "box", Limits(wall_s=20), "namespace")
    try:
        box.prepare({})
        res, out = _py(
            box,
            f"""
            import os, pathlib
            seen = b""
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    seen += pathlib.Path(f"/proc/{{pid}}/environ").read_bytes()
                except OSError:
                    pass
            print("secret seen" if {list(SECRETS.values())[0]!r}.encode() in seen else "no secret")
            print("repo visible" if pathlib.Path({str(REPO_ROOT / "pyproject.toml")!r}).exists()
                  else "repo hidden")
            for target in ("/etc/pwned", {str(tmp_path / "pwned")!r}):
                try:  # /etc is read-only; /tmp is an empty tmpfs, gone with the sandbox
                    open(target, "w").write("x"); print("wrote", target)
                except OSError as err:
                    print("refused", target)
            """,
        )
    finally:
        holder.kill()
        holder.wait()
        box.cleanup()
    assert "no secret" in out and "repo hidden" in out and "refused /etc/pwned" in out, out
    assert not Path("/etc/pwned").exists() and not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("code", "expect"),
    [
        ("b = bytearray(3 << 30)", "MemoryError"),
        ("while True: pass", "the CPU-time limit"),
        ("fs = [open('/dev/null') for _ in range(200)]", "Too many open files"),
        ("open('big', 'wb').write(b'x' * (20 << 20))", "File too large"),
        ("import time; time.sleep(600)", "the wall-clock limit"),
    ],
)
def test_sandbox_resource_limits(sandbox, code, expect):
    from dataclasses import replace

    if "sleep" in code:
        sandbox.limits = replace(sandbox.limits, wall_s=2)
    res, out = _py(sandbox, code)
    assert res.returncode != 0
    assert expect in out + res.reason(), (out, res.reason())


def _survivors(token: str) -> list[int]:
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if token.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                pids.append(int(entry))
        except OSError:
            pass
    return pids


def test_sandbox_kills_what_the_rerun_leaves_behind(sandbox):
    token = f"lb-token-{uuid.uuid4().hex}"
    res, out = _py(
        sandbox,
        f"""
        import os, subprocess, sys
        sleeper = [sys.executable, "-c", "import time; time.sleep(300)", {token!r}]
        for _ in range(4):  # detached: their own session, out of the process group
            subprocess.Popen(sleeper, start_new_session=True)
        if os.fork() == 0:  # a double fork: the daemon's parent exits at once
            if os.fork() == 0:
                os.setsid(); os.execv(sys.executable, sleeper)
            os._exit(0)
        print("spawned")
        """,
    )
    assert "spawned" in out
    left = _survivors(token)
    for pid in left:  # clean up before failing
        os.kill(pid, 9)
    assert left == []


# --- item 3 end to end: a malicious method under `validate --rerun` ----------------------------

EVIL = '''
"""A submission that attacks the validator: each attempt is recorded, then the run fails."""
import json, os, pathlib, socket, subprocess, sys

from benchmark.methods.base import RewardMethod

TOKEN, OUTSIDE, SECRET, ALLOC = {token!r}, {outside!r}, {secret!r}, {alloc}


def attempt(fn):
    try:
        return "ALLOWED " + str(fn())[:120]
    except BaseException as err:
        return f"blocked {{type(err).__name__}}"


def proc_environs():
    seen = b""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            seen += pathlib.Path(f"/proc/{{pid}}/environ").read_bytes()
        except OSError:
            pass
    return "ALLOWED found" if SECRET.encode() in seen else "blocked not found"


class Evil(RewardMethod):
    name = "evil"
    query_kind = "rate"
    needs_frames = False

    def __init__(self, task, config, seed):
        super().__init__(task, config, seed)
        found = [k for k in os.environ if any(m in k for m in ("KEY", "TOKEN", "SECRET"))]
        report = {{
            "env": "ALLOWED " + ",".join(found) if found else "blocked none",
            "proc_environ": proc_environs(),
            "write_code": attempt(lambda: pathlib.Path(__file__).with_name("pwned.py").write_text("x")),
            "write_outside": attempt(lambda: open(OUTSIDE, "r+").write("pwned")),
            "network": attempt(lambda: socket.create_connection(("192.0.2.1", 80), timeout=1)),
            "allocate": attempt(lambda: len(bytearray(ALLOC))),
        }}
        sleeper = [sys.executable, "-c", "import time; time.sleep(300)", TOKEN]
        for _ in range(8):
            subprocess.Popen(sleeper, start_new_session=True)
        home = pathlib.Path(os.environ["HOME"])
        (home / f"attack-{{seed}}.json").write_text(json.dumps(report))
        raise RuntimeError("evil: attacks done")

    def reward(self, frames, observations):
        raise NotImplementedError
'''


def test_malicious_method_is_contained_and_reported_cleanly(board, tmp_path, capsys, monkeypatch):
    token = f"lb-evil-{uuid.uuid4().hex}"
    outside = tmp_path / "validator-file.txt"
    outside.write_text("the validator's own file\n")
    code = tmp_path / "evilcode"
    code.mkdir()
    (code / "evil_method.py").write_text(
        EVIL.format(
            token=token, outside=str(outside), secret=SECRETS["GEMINI_API_KEY"], alloc=6 << 30
        )
    )
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    holder = subprocess.Popen(["sleep", "300"])  # holds the secrets in its /proc/<pid>/environ

    def evil(doc, _):
        doc["method"]["code"]["ref"] = "evil_method:Evil"

    path = forge(board, "evil", edit=evil)
    work = tmp_path / "scratch"
    try:
        rc, out = _validate(
            capsys,
            "--rerun",
            str(path),
            "--code-path",
            str(code),
            "--work-dir",
            str(work),
            "--max-memory-gb",
            "4",
            "--timeout-s",
            "300",
        )
    finally:
        holder.kill()
        holder.wait()
    left = _survivors(token)
    for pid in left:
        os.kill(pid, 9)
    assert rc == 1 and f"NOT REPRODUCED {path}" in out
    problems = [ln for ln in out.splitlines() if ln.startswith("  - ")]
    assert len(problems) == 1 and "RuntimeError: evil: attacks done" in problems[0], out
    reports = [json.loads(p.read_text()) for p in (work / "evil" / "home").glob("attack-*.json")]
    assert len(reports) == 2, out  # one per seed, from the sweep's two worker processes
    from benchmark.leaderboard.sandbox import namespace_problem

    # without namespaces (the guard fallback) files and /proc of the same user stay readable and
    # root ignores file modes: docs/leaderboard.md lists these gaps; this machine has namespaces
    tolerated = set()
    if namespace_problem():
        tolerated = {"proc_environ", "write_outside"} | (
            {"write_code"} if os.geteuid() == 0 else set()
        )
    for report in reports:
        allowed = {
            k: v for k, v in report.items() if v.startswith("ALLOWED") and k not in tolerated
        }
        assert not allowed, report
    assert left == [], f"{len(left)} process(es) outlived the re-run"
    assert outside.read_text() == "the validator's own file\n"
    assert not list(code.rglob("pwned.py")) and not (board.parent / "verified.json").exists()


def test_the_sandbox_starts_python_through_its_resolved_environment(tmp_path, monkeypatch):
    """A virtualenv reached by a symlink inside the (hidden) repository, as a git worktree that
    shares another checkout's `.venv` has it, is started by its real path, which the sandbox
    keeps mounted; before, such a re-run exited 127 with an empty log."""
    from benchmark.leaderboard.sandbox import interpreter

    real = tmp_path / "checkout" / ".venv"
    (real / "bin").mkdir(parents=True)
    (real / "bin" / "python").touch()
    link = tmp_path / "worktree" / ".venv"
    link.parent.mkdir()
    link.symlink_to(real)
    monkeypatch.setattr(sys, "prefix", str(link))
    monkeypatch.setattr(sys, "executable", str(link / "bin" / "python"))
    assert interpreter() == str(real.resolve() / "bin" / "python")
    monkeypatch.setattr(sys, "executable", "/usr/bin/python3")  # outside its prefix: as launched
    assert interpreter() == "/usr/bin/python3"
