"""A run killed mid-way resumes from its checkpoint and ends with the metrics of an unbroken run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace

import pandas as pd
import pytest

from benchmark.config import RunConfig
from benchmark.loops.online import run
from benchmark.results import RunPaths
from tests.test_record_replay import LEARNING_COLUMNS, TINY_BUDGET, TINY_SAC

BUDGET = {**TINY_BUDGET, "total_steps": 540, "eval_every": 90}


def _cfg(tmp_path, mode: str, out: str) -> RunConfig:
    return RunConfig(
        task="metaworld/drawer-open",
        method="erl-vlm",
        seed=0,
        budget="smoke",
        oracle="scripted",
        cache_mode=mode,
        cache_dir=str(tmp_path / "cache"),
        out_dir=str(tmp_path / out),
        budget_overrides=dict(BUDGET),
        sac=dict(TINY_SAC),
    )


@pytest.mark.timeout(900)
def test_killed_run_resumes_to_identical_metrics(tmp_path):
    unbroken = pd.read_csv(run(_cfg(tmp_path, "record", "unbroken")) / "metrics.csv")

    cfg = _cfg(tmp_path, "replay", "killed")
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(json.dumps(asdict(cfg)))
    paths = RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmark", "run", "--config", str(cfg_file)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 600
    # kill -9 once a checkpoint exists from the second evaluation on: mid-run, with rows written
    while time.time() < deadline and proc.poll() is None:
        if (
            paths.checkpoint.exists()
            and paths.metrics.exists()
            and len(paths.metrics.read_text().splitlines()) >= 3
        ):
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"run ended before it could be killed: {proc.stderr.read()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not paths.done.exists()

    # resumed the way it was started, through `benchmark run --config` (in-process here), which
    # logs the resume to the run's run.log as a sweep's worker does
    from benchmark.cli import main as cli_main

    assert cli_main(["run", "--config", str(cfg_file)]) == 0
    assert "resumed" in paths.log.read_text()
    resumed = pd.read_csv(paths.metrics)
    pd.testing.assert_frame_equal(unbroken[LEARNING_COLUMNS], resumed[LEARNING_COLUMNS])
    assert run(replace(cfg)) == paths.root  # a finished run is not rerun


def test_resume_upgrades_an_older_metrics_header(tmp_path):
    """A run begun before a metric existed resumes into one CSV that pandas reads whole."""
    paths = RunPaths.for_run(str(tmp_path), "metaworld/drawer-open", "erl-vlm", 0)
    paths.root.mkdir(parents=True)
    old = ["step", "success_rate", "wall_s"]
    for step in (0, 10, 20):  # the third row was written after the checkpoint: dropped
        paths.append_metrics({"step": step, "success_rate": 0.5, "wall_s": 1.0}, old)
    new = ["step", "success_rate", "reward_alignment", "wall_s"]
    paths.truncate_metrics(2, new)
    paths.append_metrics(
        {"step": 20, "success_rate": 1.0, "reward_alignment": 0.25, "wall_s": 2.0}, new
    )
    m = pd.read_csv(paths.metrics)
    assert list(m.columns) == new
    assert m["step"].tolist() == [0, 10, 20]
    assert m["reward_alignment"].isna().tolist() == [True, True, False]
    assert m["success_rate"].tolist() == [0.5, 0.5, 1.0]
