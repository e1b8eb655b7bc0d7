"""Abuse tests: every bad command-line input is answered before any worker starts, with one line
that says what to do (exit status 2, no traceback), and a key given on the command line reaches
the provider but no file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import benchmark.sweep.local as sweep_mod
from benchmark.cli import main as cli_main
from benchmark.sweep.local import RunOutcome
from tests.test_sweep import SWEEP_BUDGET

SECRET = "SECRET123"


@pytest.fixture
def no_workers(monkeypatch: pytest.MonkeyPatch) -> list:
    """run_local replaced by a tripwire: a check that comes too late fails the test."""
    started: list = []

    def tripwire(configs, jobs=None, threads=None):
        started.append(configs)
        raise AssertionError(f"{len(configs)} run(s) were started for a bad input")

    monkeypatch.setattr(sweep_mod, "run_local", tripwire)
    return started


def _sweep(tmp_path: Path, *extra: str) -> list[str]:
    out, cache = str(tmp_path / "out"), str(tmp_path / "cache")
    return ["sweep", "--out", out, "--cache-dir", cache, "--methods", "gt-reward", *extra]


def _one_error_line(capsys: pytest.CaptureFixture, code: int, says: str, status: int = 2) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == status, err
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert says in lines[0], err
    return lines[0]


SWEEP_CASES = [
    # --seeds (today: a ValueError traceback, or a sweep of nothing)
    (["--seeds", "0-"], "both ends"),
    (["--seeds", "a"], "not a seed"),
    (["--seeds", "-1"], "0 or more"),
    (["--seeds", "3-1"], "a range must go up (e.g. 1-3)"),
    (["--seeds", ""], "--seeds is empty"),
    (["--seeds", "0,,1"], "empty item"),
    (["--seeds", "0,0"], "given twice"),
    # budget values of the wrong type or out of range (today: accepted, or failed in a worker)
    (["--budget-opt", "total_steps=-5"], "total_steps=-5: must be greater than 0"),
    (["--budget-opt", "total_steps=NaN"], "total_steps=NaN: must be"),
    (["--budget-opt", "total_steps=abc"], "must be an integer"),
    (["--budget-opt", "total_steps=1.5"], "must be an integer"),
    (["--budget-opt", "eval_episodes=0"], "eval_episodes=0: must be greater than 0"),
    (["--budget-opt", "feedback_every=0"], "feedback_every=0: must be greater than 0"),
    (["--budget-opt", "no_such_field=1"], "no such option"),
    (["--budget-opt", "total_steps"], "expected key=value"),
    # SAC and method options
    (["--sac-opt", "tau=NaN"], "tau=NaN: must be"),
    (["--sac-opt", "tau=2"], "in (0, 1]"),
    (["--sac-opt", "batch_size=0"], "greater than 0"),
    (["--methods", "erl-vlm", "--method-opt", "levels=7"], "between 2 and 5"),
    (["--methods", "erl-vlm", "--method-opt", "lr=abc"], "must be a number"),
    (["--methods", "erl-vlm", "--method-opt", "loss=l2"], "one of 'mae', 'ce'"),
    (["--methods", "erl-vlm", "--method-opt", "class_weights=1"], "true or false"),
    (["--methods", "erl-vlm,rl-vlm-f", "--method-opt", "loss=ce"], "no such option"),
    (["--methods", ""], "--methods is empty"),
    (["--tasks", " , "], "--tasks is empty"),
    # the oracle (today: rejected only once a worker builds it)
    (["--oracle", "gpt5"], "--oracle 'gpt5': unknown; choose one of scripted, gemini, openai"),
    (["--oracle-opt", "accuracy=2"], "accuracy=2: must be in [0, 1]"),
    (["--oracle-opt", "temprature=0"], "no option(s) ['temprature']"),
    (["--oracle", "openai", "--oracle-opt", "timeout=abc"], 'timeout="abc": must be'),
    (["--log", "tensorbord"], "--log tensorbord: unknown"),
]


@pytest.mark.parametrize(("extra", "says"), SWEEP_CASES, ids=[" ".join(e) for e, _ in SWEEP_CASES])
def test_bad_sweep_input_is_one_line_before_any_worker(tmp_path, capsys, no_workers, extra, says):
    code = cli_main(_sweep(tmp_path, *extra))
    _one_error_line(capsys, code, says)
    assert no_workers == []


def test_a_secret_is_not_echoed_in_an_error(tmp_path, capsys, no_workers):
    code = cli_main(_sweep(tmp_path, "--oracle", "openai", "--oracle-opt", "api_keys=[1, 2]"))
    line = _one_error_line(capsys, code, "api_keys=<redacted>")
    assert "1, 2" not in line


def test_jobs_must_be_positive(tmp_path, capsys, no_workers):
    with pytest.raises(SystemExit) as exc:
        cli_main(_sweep(tmp_path, "--jobs", "0"))
    assert exc.value.code == 2
    assert "--jobs: '0' is not a positive integer" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--out", "--cache-dir"])
@pytest.mark.parametrize("where", ["file", "under_file"])
def test_out_or_cache_dir_that_is_a_file(tmp_path, capsys, no_workers, flag, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    target = blocker if where == "file" else blocker / "sub"
    code = cli_main([*_sweep(tmp_path), flag, str(target)])
    _one_error_line(capsys, code, f"{flag} '{target}'")


def _without_dac_override() -> list[str]:
    """A prefix that runs a command unable to write into a read-only directory, even as root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only directory is writable")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


TRIPWIRE = (
    "import sys, benchmark.sweep.local as s\n"
    "def tripwire(*a, **k): raise SystemExit('a worker was started')\n"
    "s.run_local = tripwire\n"
    "from benchmark.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@pytest.mark.parametrize("flag", ["--out", "--cache-dir"])
def test_read_only_out_or_cache_dir(tmp_path, flag):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        argv = [*_sweep(tmp_path), flag, str(locked / "results")]
        proc = subprocess.run(
            [*_without_dac_override(), sys.executable, "-c", TRIPWIRE, *argv],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
    finally:
        locked.chmod(0o755)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "cannot write in" in lines[0] and flag in lines[0], proc.stderr


def test_report_on_a_missing_directory(tmp_path, capsys):
    code = cli_main(["report", str(tmp_path / "nowhere")])
    _one_error_line(capsys, code, "does not exist; give the --out directory of a sweep")


def test_report_on_a_directory_without_finished_runs(tmp_path, capsys):
    code = cli_main(["report", str(tmp_path)])
    _one_error_line(capsys, code, "No finished runs", status=1)


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "cannot read it"), ("{", "not JSON"), ('{"task": "x", "bogus": 1}', "bogus")],
)
def test_run_with_a_bad_config_file(tmp_path, capsys, content, says):
    path = tmp_path / "cfg.json"
    if content is not None:
        path.write_text(content)
    code = cli_main(["run", "--config", str(path)])
    _one_error_line(capsys, code, says)


def test_failed_workers_are_not_told_to_run_make_bench(tmp_path, capsys, monkeypatch):
    def all_fail(configs, jobs=None, threads=None):
        return [RunOutcome(c, ok=False, error="RuntimeError: boom") for c in configs]

    monkeypatch.setattr(sweep_mod, "run_local", all_fail)
    code = cli_main(_sweep(tmp_path, "--seeds", "0,1"))
    err = capsys.readouterr().err
    assert code == 1
    assert "make bench" not in err and "Traceback" not in err
    assert "error: all 2 runs failed" in err and "run.log" in err


# --- secrets ---------------------------------------------------------------------------------
def test_redaction_keeps_names_and_numbers_and_cuts_the_value_everywhere():
    from benchmark.inputs import REDACTED, redact_secrets

    doc = {
        "run": {"oracle_options": {"api_keys": [SECRET, "k2-long"], "max_output_tokens": 64}},
        "hfToken": SECRET,
        "usage": {"input_tokens": 12, "prompt_token_count": 3},
        "errors": [f"401 for key {SECRET}"],
        "empty_key": "",
    }
    out = redact_secrets(doc)
    assert out["run"]["oracle_options"] == {"api_keys": REDACTED, "max_output_tokens": 64}
    assert out["hfToken"] == REDACTED
    assert out["usage"] == doc["usage"]
    assert out["errors"] == [f"401 for key {REDACTED}"]
    assert out["empty_key"] == ""
    assert SECRET in json.dumps(doc)  # the caller's copy is untouched


def test_a_key_from_the_command_line_reaches_the_provider_and_no_file(tmp_path, capsys):
    from oracle_cache.scripted import ScriptedTeacher
    from oracle_cache.testing.fake_server import FakeVLMServer

    pytest.importorskip("openai")
    budget = [f"--budget-opt={k}={v}" for k, v in SWEEP_BUDGET.items()]
    with FakeVLMServer(teacher=ScriptedTeacher(accuracy=1.0)) as srv:
        argv = [
            *_sweep(tmp_path, "--seeds", "0", "--jobs", "1"),
            *["--methods", "erl-vlm", "--oracle", "openai", "--log", "tensorboard"],
            *["--oracle-opt", f"api_keys={SECRET}", "--oracle-opt", f"base_url={srv.url}/v1"],
            *["--oracle-opt", "backoff=0.01", "--oracle-opt", "timeout=10"],
            *budget,
            *["--sac-opt", "hidden_dim=32", "--sac-opt", "batch_size=32"],
        ]
        code = cli_main(argv)
        keys = srv.keys_seen()
    assert code == 0, capsys.readouterr().err
    assert SECRET in keys  # it reached the provider, in memory
    written = [p for d in ("out", "cache") for p in (tmp_path / d).rglob("*") if p.is_file()]
    assert any(p.name == "config.json" for p in written) and any(
        p.name == "sweep.json" for p in written
    )
    leaks = [str(p) for p in written if SECRET.encode() in p.read_bytes()]
    assert leaks == []
    cfg = json.loads(next(p for p in written if p.name == "config.json").read_text())
    assert cfg["run"]["oracle_options"]["api_keys"] == "<redacted>"


def test_a_budget_override_is_checked_wherever_it_is_applied():
    """`run --config` and the leaderboard build budgets without the sweep's CLI: same checks."""
    from benchmark.config import get_budget

    with pytest.raises(ValueError, match="eval_episodes=0: must be greater than 0"):
        get_budget("smoke").with_overrides(eval_episodes=0)


def test_run_config_read_back_leaves_a_redacted_key_to_the_environment(tmp_path):
    from benchmark.cli_checks import load_run_config
    from benchmark.config import RunConfig
    from benchmark.inputs import REDACTED

    path = tmp_path / "cfg.json"
    opts = {"api_keys": REDACTED, "base_url": "http://127.0.0.1:9/v1"}
    path.write_text(json.dumps({"task": "t", "method": "m", "seed": 0, "oracle_options": opts}))
    cfg = load_run_config(str(path), RunConfig)
    assert cfg.oracle_options == {"base_url": "http://127.0.0.1:9/v1"}
