"""The example CI workflow (examples/ci/) does what it says: its replay step, run here exactly as
the workflow runs it, replays the committed bundle bit for bit, and fails on a miss.

The `sysdeps` and `install` steps need root and the network, so they are only checked to be
the script's own steps; the replay step runs `make bench CACHE=replay BUNDLE=...` with this
interpreter instead of a fresh `.venv` (MAKE_ARGS).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmark.golden import SWEEPS, load_expected, metrics_digest
from benchmark.leaderboard.digests import tree_digest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "ci" / "replay-bundle.yml"
SCRIPT = "examples/ci/replay.sh"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def _steps() -> list[dict]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    (job,) = doc["jobs"].values()
    return job["steps"]


def _run_step(step: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """A `run:` line of the workflow, with the workflow's env, in the repository root."""
    (job,) = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    full = {
        **os.environ,
        **{k: str(v) for k, v in job.get("env", {}).items()},
        "OUT": str(tmp_path / "ci-results"),
        "MAKE_ARGS": f"-o .venv/.install-stamp PY={sys.executable}",
        **env,
    }
    return subprocess.run(
        ["bash", "-c", step], cwd=ROOT, env=full, capture_output=True, text=True, timeout=900
    )


def test_the_workflow_calls_the_script_step_by_step_and_uploads_the_report():
    steps = _steps()
    runs = [s["run"] for s in steps if "run" in s]
    assert runs == [f"bash {SCRIPT} {name}" for name in ("sysdeps", "install", "replay")]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"  # the report of a failed replay is the one worth reading
    assert upload["with"]["path"] == "${{ env.OUT }}"


def test_the_replay_step_reproduces_the_golden_run_and_leaves_the_bundle_alone(tmp_path):
    (replay,) = [s["run"] for s in _steps() if s.get("run", "").endswith(" replay")]
    bundle = SWEEPS["scripted"].bundle
    before = tree_digest(bundle)
    res = _run_step(replay, tmp_path)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    out = tmp_path / "ci-results"
    reports = list((out / "sweeps").glob("*/report.html"))  # what the workflow uploads
    assert len(reports) == 1, reports
    metrics = out / "metaworld__drawer-open" / "erl-vlm" / "seed0" / "metrics.csv"
    golden = load_expected(SWEEPS["scripted"])["runs"]["metaworld/drawer-open/erl-vlm/seed0"]
    assert metrics_digest(metrics) == golden  # through make bench, in a worker: bit for bit
    assert tree_digest(bundle) == before


def test_the_replay_step_fails_on_a_miss_and_says_what_to_record(tmp_path):
    (replay,) = [s["run"] for s in _steps() if s.get("run", "").endswith(" replay")]
    res = _run_step(replay, tmp_path, SEEDS="1")  # a seed the bundle never recorded
    assert res.returncode != 0
    text = " ".join((res.stdout + res.stderr).split())
    assert "CacheMiss" in text and "answer for key" in text, text[-3000:]
    log = next((tmp_path / "ci-results").rglob("run.log")).read_text()
    assert "--seeds 1" in log and "--cache record" in log and "oracle_cache export" in log
