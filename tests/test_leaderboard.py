"""Leaderboard machinery on synthetic runs (fast): protocols, schema, validation, standings.

The helpers here write run directories in the runner's layout (config.json, metrics.csv,
versions.json, done.json) so other tests (the browser tests) can build boards and reports
without training anything.
"""

from __future__ import annotations

import copy
import csv
import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from benchmark.leaderboard.cli import main as lb_main
from benchmark.leaderboard.protocol import PROTOCOLS_FILE, get_protocol, load_protocols
from benchmark.leaderboard.schema import json_schema
from benchmark.leaderboard.standings import GENERATED, write_standings
from benchmark.leaderboard.submit import write_submission
from benchmark.leaderboard.validate import validate_file, validate_files
from benchmark.results import RunPaths, write_json

METRIC_FIELDS = [
    "step",
    "episodes",
    "success_rate",
    "eval_return",
    "train_success",
    "queries",
    "oracle_hits",
    "oracle_misses",
    "oracle_calls",
    "reward_loss",
    "wall_s",
]
DEMO_TASKS = ["metaworld/drawer-open", "metaworld/sweep-into"]


def demo_protocols(tmp: Path) -> Path:
    """A protocols file with a 2-task x 3-seed scripted board and a vlm one (no real runs)."""
    smoke = get_protocol("smoke").model_dump(mode="json")
    demo = {
        **smoke,
        "id": "demo",
        "title": "DEMO board for tests",
        "tasks": DEMO_TASKS,
        "seeds": [0, 1, 2],
        "board": "demo/metaworld/scripted",
    }
    vlm = {
        **demo,
        "id": "demo-vlm",
        "track": "vlm",
        "oracle": {"provider": "gemini", "options": {}},
        "board": "demo/metaworld/vlm",
    }
    path = tmp / "protocols.json"
    path.write_text(json.dumps({"protocols": [smoke, demo, vlm]}))
    return path


def write_fake_run(
    results: Path,
    proto,
    task: str,
    method: str,
    seed: int,
    final: float,
    oracle: str = "scripted",
) -> Path:
    """One finished run whose success curve rises to `final` at the protocol's last step."""
    paths = RunPaths.for_run(results, task, method, seed)
    paths.root.mkdir(parents=True, exist_ok=True)
    budget = proto.resolved_budget()
    steps = list(range(0, budget["total_steps"], budget["eval_every"])) + [budget["total_steps"]]
    rows = []
    for i, step in enumerate(steps):
        frac = i / (len(steps) - 1)
        row = dict.fromkeys(METRIC_FIELDS, 0)
        row.update(
            step=step,
            success_rate=round(final * frac, 4) if i < len(steps) - 1 else final,
            eval_return=round(100 * final * frac + seed, 3),
            queries=min(budget["max_queries"], 12 * i),
            wall_s=0.5 * i,
        )
        rows.append(row)
    with paths.metrics.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=METRIC_FIELDS)
        w.writeheader()
        w.writerows(rows)
    write_json(
        paths.config,
        {
            "run": {"task": task, "method": method, "seed": seed, "threads": 1},
            "task": {"name": task},
            "method": {"name": method},
            "budget": {**budget, "notes": {}},
            "oracle": {"name": oracle, "provider": proto.oracle.provider},
            "sac": dict(proto.sac),  # what the protocol pins (the smoke one it copies)
        },
    )
    write_json(paths.versions, {"python": "3.11", "torch": "test"})
    write_json(paths.done, {"final_success_rate": final, "steps": steps[-1], "wall_s": 1.5})
    return paths.root


def fake_info(name: str) -> dict:
    return {
        "name": name,
        "version": "1.0",
        "authors": ["Test Author"],
        "description": f"synthetic entry {name}",
        "code": {
            "ref": f"fake.module:{name}",
            "class_path": f"fake.module:{name}",
            "url": None,
            "git_commit": None,
            "git_dirty": None,
            "source_sha256": None,
        },
        "query_kind": "rate",
        "config": {},
    }


def fake_finals(name: str, tasks: list[str], seeds: list[int], level: float) -> dict:
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return {
        (t, s): float(np.clip(round(level + rng.normal(0, 0.15), 2), 0, 1))
        for t in tasks
        for s in seeds
    }


def make_fake_board(
    root: Path,
    proto,
    entries: dict[str, float],
    work: Path,
    oracle: str = "scripted",
    cache: Path | None = None,
    protocols_file: Path | None = None,
) -> dict[str, Path]:
    """Submissions for `entries` (name -> typical success) and the board's standings."""
    out = {}
    for name, level in entries.items():
        results = work / name
        for (task, seed), final in fake_finals(name, proto.tasks, proto.seeds, level).items():
            write_fake_run(results, proto, task, name, seed, final, oracle)
        kind = "baseline" if name in ("sparse", "gt-reward", "erl-vlm") else "submission"
        info = fake_info(name)
        if kind == "baseline":  # the suite's list names a baseline with its registry name
            info["code"]["ref"] = name
        out[name] = write_submission(name, proto, results, cache, root, info, kind)
    write_standings(proto, root, protocols_file, quiet=True)
    return out


@pytest.fixture(scope="module")
def _demo_template(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    pfile = demo_protocols(tmp)
    proto = get_protocol("demo", path=pfile)
    make_fake_board(
        tmp / "boards",
        proto,
        {"sparse": 0.1, "gt-reward": 0.8, "mine": 0.5},
        tmp / "work",
        protocols_file=pfile,
    )
    return tmp


@pytest.fixture
def demo(_demo_template, tmp_path):
    """A 3-entry board (built once per module, copied per test so tests can tamper with it)."""
    shutil.copytree(_demo_template / "boards", tmp_path / "boards")
    pfile = demo_protocols(tmp_path)
    proto = get_protocol("demo", path=pfile)
    subs = proto.board_dir(tmp_path / "boards") / "submissions"
    files = {p.stem: p for p in subs.glob("*.json")}
    return {"pfile": pfile, "proto": proto, "root": tmp_path / "boards", "files": files}


def _problems(path: Path, pfile: Path) -> list[str]:
    return validate_files([path], protocols_file=pfile).files[0].problems


def _edit(path: Path, fn) -> None:
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


# --- protocols and schema ---------------------------------------------------------------------


def test_official_protocols_are_well_formed():
    from envs import get_task

    protocols = load_protocols()
    official = [(p.suite, p.track, p.kind) for p in protocols.values() if p.official]
    # one official protocol per (suite, track, kind): `submit` without --protocol finds it
    assert len(official) == len(set(official))
    assert set(official) == {
        ("metaworld", "scripted", "online"),
        ("metaworld", "vlm", "online"),
        ("alfred", "vlm", "online"),
        ("metaworld", "scripted", "reward-model"),
    }
    assert len({p.board for p in protocols.values()}) == len(protocols)  # one board, one protocol
    for p in protocols.values():
        p.resolved_budget()  # budget exists and its overrides are valid fields
        assert len(set(p.seeds)) == len(p.seeds) >= 2
        if p.official:  # reward-model boards sit beside the online ones of their suite
            kind = "" if p.kind == "online" else f"-{p.kind}"
            assert p.board.startswith(f"{p.suite}{kind}") and p.board.endswith(f"/{p.track}")
        assert (p.track == "scripted") == (p.oracle.provider == "scripted")
        for t in p.tasks:
            if t.startswith("metaworld/"):
                assert get_task(t).suite == p.suite
    smoke = protocols["smoke"]
    assert not smoke.official and smoke.board.startswith("smoke/")
    # the scripted boards that bracket (docs/leaderboard.md); the old ones keep their definitions
    assert get_protocol(suite="metaworld", track="scripted").id == "metaworld-online-v1"
    rm = get_protocol(suite="metaworld", track="scripted", kind="reward-model")
    assert rm.id == "metaworld-reward-model-v3"
    for old in ("metaworld-scripted", "alfred-scripted", "alfred-scripted-v2"):  # cannot bracket
        assert not protocols[old].official, old


def test_schema_file_matches_the_models():
    """leaderboards/submission.schema.json is generated: regenerate it with `schema --write`."""
    on_disk = json.loads((PROTOCOLS_FILE.parent / "submission.schema.json").read_text())
    assert on_disk == json.loads(json.dumps(json_schema())), (
        "run `python -m benchmark.leaderboard schema --write leaderboards/submission.schema.json`"
    )


# --- validation -------------------------------------------------------------------------------


def test_fresh_submissions_validate(demo):
    report = validate_files(root=demo["root"], protocols_file=demo["pfile"])
    assert report.ok, report.text()
    assert len(report.files) == 3


def test_tampered_per_seed_value_is_rejected_with_reasons(demo):
    path = demo["files"]["mine"]

    def bump(doc):
        run = doc["runs"][1]
        new = 1.0 if run["final_success"] < 0.5 else 0.0
        run["final_success"] = new
        run["curve"]["success_rate"][-1] = new

    _edit(path, bump)
    problems = "\n".join(_problems(path, demo["pfile"]))
    assert "summary mismatch: summary.iqm" in problems
    assert "summary mismatch: summary.per_task[metaworld/drawer-open].mean" in problems
    assert "runs[metaworld/drawer-open seed 1].final_success is" in problems
    assert "but its metrics file ends with" in problems
    assert "content digest mismatch" in problems


def test_swapped_metrics_file_is_a_digest_mismatch(demo):
    path = demo["files"]["mine"]
    csv_path = path.parent / "mine" / "metrics" / "metaworld__sweep-into" / "seed2.csv"
    csv_path.write_bytes(csv_path.read_bytes() + b"\r\n")  # same values, other bytes
    problems = _problems(path, demo["pfile"])
    assert problems == [problems[0]]  # exactly one thing is wrong, and it is named precisely
    assert problems[0].startswith("runs[metaworld/sweep-into seed 2]: digest mismatch: ")


def test_incomplete_submission_names_the_missing_run(demo):
    path = demo["files"]["mine"]
    _edit(path, lambda d: d["runs"].pop(4))  # sweep-into seed 1
    problems = _problems(path, demo["pfile"])
    assert (
        "missing run: task metaworld/sweep-into seed 1 (the protocol needs every task x seed)"
        in problems
    )


def test_out_of_range_value_is_a_schema_error(demo):
    path = demo["files"]["mine"]
    _edit(path, lambda d: d["runs"][0].update(final_success=1.5))
    problems = _problems(path, demo["pfile"])
    assert any(
        p.startswith("schema: runs.0.final_success: Input should be less than or equal to 1")
        for p in problems
    ), problems


def test_protocol_and_budget_mismatch_are_named(demo):
    path = demo["files"]["mine"]

    def change(doc):
        doc["protocol"]["seeds"] = [0, 1]
        doc["resolved_budget"]["total_steps"] = 999
        doc["sac"]["hidden_dim"] = 256

    _edit(path, change)
    text = "\n".join(_problems(path, demo["pfile"]))
    assert "protocol.seeds is [0, 1] but protocol 'demo' fixes [0, 1, 2]" in text
    assert "resolved_budget.total_steps is 999 but protocol 'demo' runs with 360" in text
    assert "sac.hidden_dim is 256 but protocol 'demo' sets 32" in text


def test_a_bf16_entry_on_an_fp32_protocol_is_refused(demo):
    """Protocols record SAC's precision (issue 19): bf16 gives other digits, so an entry that
    ran bf16 cannot stand on a board whose protocol ran fp32."""
    path = demo["files"]["mine"]
    _edit(path, lambda doc: doc["sac"].update(precision="bf16"))
    text = "\n".join(_problems(path, demo["pfile"]))
    assert "sac.precision is 'bf16' but protocol 'demo' sets 'fp32'" in text


def test_every_sac_protocol_records_its_precision():
    """A protocol that pins SAC settings names its precision, explicitly or as the fp32 every
    protocol written before the field existed ran with; ALFRED and reward-model protocols run no
    SAC and stay empty."""
    protocols = load_protocols()
    for proto in protocols.values():
        if proto.sac:
            assert proto.sac["precision"] in ("fp32", "bf16"), proto.id
        else:
            assert proto.kind == "reward-model" or proto.suite.startswith("alfred"), proto.id
    assert protocols["metaworld-online-v1"].sac["precision"] == "fp32"
    bf16 = protocols["smoke"].model_copy().model_dump()
    bf16["sac"]["precision"] = "bf16"
    assert type(protocols["smoke"]).model_validate(bf16).sac["precision"] == "bf16"
    bf16["sac"]["precision"] = "fp16"
    with pytest.raises(ValueError, match="sac.precision must be one of fp32, bf16"):
        type(protocols["smoke"]).model_validate(bf16)


def test_every_sac_protocol_records_its_matmul_kernels(demo):
    """Protocols written before `sac.matmul` existed ran PyTorch's own fp32 kernels and read as
    `aten`, their entries too (the committed ones validate in test_protocol_pins); an entry made
    with today's oneDNN default is refused on such a board, and unknown kernels are refused."""
    protocols = load_protocols()
    assert all(p.sac["matmul"] == "aten" for p in protocols.values() if p.sac)
    path = demo["files"]["mine"]
    _edit(path, lambda doc: doc["sac"].update(matmul="onednn"))
    text = "\n".join(_problems(path, demo["pfile"]))
    assert "sac.matmul is 'onednn' but protocol 'demo' sets 'aten'" in text
    doc = protocols["smoke"].model_dump()
    doc["sac"]["matmul"] = "blas"
    with pytest.raises(ValueError, match="sac.matmul must be one of onednn, aten"):
        type(protocols["smoke"]).model_validate(doc)


def test_wrong_oracle_for_the_track_is_rejected(tmp_path):
    pfile = demo_protocols(tmp_path)
    proto = get_protocol("demo", path=pfile)
    files = make_fake_board(
        tmp_path / "b", proto, {"m": 0.5}, tmp_path / "w", oracle="gemini", protocols_file=pfile
    )
    text = "\n".join(_problems(files["m"], pfile))
    assert "track 'scripted' needs the scripted teacher, but runs used ['gemini']" in text


def test_duplicate_names_and_misnamed_files_are_rejected(demo):
    path = demo["files"]["mine"]
    copy_path = path.with_name("mine-copy.json")
    shutil.copyfile(path, copy_path)
    report = validate_files(root=demo["root"], protocols_file=demo["pfile"])
    by_name = {f.path.name: f.problems for f in report.files}
    assert (
        "file name 'mine-copy.json' must be the method name: 'mine.json'"
        in by_name["mine-copy.json"]
    )
    assert any(p.startswith("duplicate name: method name 'mine'") for p in by_name["mine.json"])


def test_submission_outside_its_board_is_rejected(demo, tmp_path):
    elsewhere = tmp_path / "elsewhere" / "submissions"
    elsewhere.mkdir(parents=True)
    src = demo["files"]["mine"]
    shutil.copyfile(src, elsewhere / src.name)
    shutil.copytree(src.parent / "mine", elsewhere / "mine")
    problems = _problems(elsewhere / src.name, demo["pfile"])
    assert (
        len(problems) == 1 and "belongs in <leaderboards>/demo/metaworld/scripted/" in problems[0]
    )


def test_vlm_track_carries_a_cache_bundle_checked_by_digest(tmp_path):
    import diskcache

    pfile = demo_protocols(tmp_path)
    proto = get_protocol("demo-vlm", path=pfile)
    cache = tmp_path / "cache"
    with diskcache.Cache(str(cache)) as store:
        for i in range(3):
            store[f"{i:064x}"] = {"key": f"{i:064x}", "answer": i % 2, "analysis": "ok"}
    files = make_fake_board(
        tmp_path / "b", proto, {"m": 0.5}, tmp_path / "w", "gemini-test", cache, pfile
    )
    doc = json.loads(files["m"].read_text())
    bundle = files["m"].parent / doc["cache_bundle"]["path"]
    assert bundle.is_dir() and doc["cache_bundle"]["files"] >= 1
    assert validate_file(files["m"], pfile).ok
    target = sorted(p for p in bundle.rglob("*") if p.is_file())[0]
    target.write_text(target.read_text() + "\n")
    problems = _problems(files["m"], pfile)
    assert len(problems) == 1 and problems[0].startswith("cache_bundle: digest mismatch"), problems
    # and a vlm submission without any bundle is incomplete
    _edit(files["m"], lambda d: d.update(cache_bundle=None))
    assert any("cache_bundle is missing" in p for p in _problems(files["m"], pfile))


# --- standings and CLI ------------------------------------------------------------------------


def test_standings_rank_by_iqm_and_are_marked_generated(demo):
    board = demo["proto"].board_dir(demo["root"])
    readme = (board / "README.md").read_text()
    assert readme.startswith(GENERATED)
    table = [line for line in readme.splitlines() if line.startswith("| ") and "|---" not in line]
    names = [line.split("|")[2].strip() for line in table[1:]]
    assert names == ["gt-reward †", "mine", "sparse †"]
    assert "[" in table[1] and "P(> sparse)" in table[0]
    standings = json.loads((board / "standings.json").read_text())
    iqms = [r["iqm"] for r in standings["rows"]]
    assert iqms == sorted(iqms, reverse=True)
    for png in ("standings.png", "curves.png"):
        data = (board / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    page = (board / "index.html").read_text()
    assert 'id="ranking"' in page and 'id="per-task"' in page and "<script>" in page
    for external in ('src="http', "src='http", 'href="http', "@import", "url(http"):
        assert external not in page, f"index.html must not load external assets ({external})"


def test_standings_list_rejected_entries_instead_of_hiding_them(demo):
    path = demo["files"]["mine"]
    _edit(path, lambda d: d["runs"].pop())
    std = write_standings(demo["proto"], demo["root"], demo["pfile"], quiet=True)
    assert [r["name"] for r in std.rows] == ["gt-reward", "sparse"]
    assert std.rejected and std.rejected[0][0] == "mine"
    assert "## Not listed: failed validation" in std.files["readme"].read_text()


def test_cli_validate_reports_and_exits_nonzero_on_tampering(demo, capsys):
    args = ["--root", str(demo["root"]), "--protocols", str(demo["pfile"])]
    assert lb_main(["validate", *args]) == 0
    assert capsys.readouterr().out.count("OK ") == 3
    _edit(demo["files"]["mine"], lambda d: d["summary"].update(iqm=0.99))
    assert lb_main(["validate", str(demo["files"]["mine"]), *args]) == 1
    out = capsys.readouterr().out
    assert "REJECTED" in out and "summary mismatch: summary.iqm is 0.99" in out


def test_cli_standings_regenerates_every_board(demo, capsys):
    board = demo["proto"].board_dir(demo["root"])
    (board / "README.md").unlink()
    args = ["--root", str(demo["root"]), "--protocols", str(demo["pfile"])]
    assert lb_main(["standings", *args]) == 0
    assert (board / "README.md").exists()
    assert "demo: 3 entr(ies), 0 rejected" in capsys.readouterr().out


def test_unknown_protocol_is_a_clear_error(capsys):
    assert lb_main(["standings", "--protocol", "nope"]) == 2
    assert "Unknown protocol 'nope'; choose one of" in capsys.readouterr().err


def test_deep_copy_of_a_valid_document_keeps_its_digest(demo):
    """The content digest is order-independent: reformatting a file keeps it valid."""
    path = demo["files"]["mine"]
    doc = json.loads(path.read_text())
    path.write_text(json.dumps(copy.deepcopy(doc), indent=4, sort_keys=False))
    assert validate_file(path, demo["pfile"]).ok


def test_wired_into_the_benchmark_cli(capsys):
    from benchmark.cli import main as bench_main

    assert bench_main(["leaderboard", "protocols"]) == 0
    assert "smoke: suite metaworld" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        bench_main(["leaderboard", "-h"])
    assert "{submit,validate,standings,baselines,protocols,schema}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("cores", "runs", "threads", "jobs", "want", "warns"),
    [
        (2, 2, 1, None, 2, False),  # one thread each: both runs side by side
        (2, 2, 1, 1, 2, False),  # --jobs 1 would give 2 threads: overridden
        (16, 15, 1, None, 16, False),  # run_local caps 16 processes at the 15 runs
        (16, 2, 1, None, None, True),  # impossible with run_local's split: say so
        (4, 4, 2, None, 2, False),
    ],
)
def test_protocol_runs_are_pinned_to_the_protocol_threads(
    monkeypatch, tmp_path, cores, runs, threads, jobs, want, warns
):
    import benchmark.sweep.local
    from benchmark.config import RunConfig
    from benchmark.leaderboard import submit as submit_mod

    calls = []
    monkeypatch.setattr(benchmark.sweep.local, "run_local", lambda c, jobs=None: calls.append(jobs))
    monkeypatch.setattr(submit_mod.os, "cpu_count", lambda: cores)
    configs = [RunConfig(task="t", method="m", seed=s, out_dir=str(tmp_path)) for s in range(runs)]
    if warns:
        with pytest.warns(UserWarning, match="cannot run 2 run"):
            submit_mod._run_pinned(configs, jobs, threads)
    else:
        submit_mod._run_pinned(configs, jobs, threads)
    assert calls == [want]
