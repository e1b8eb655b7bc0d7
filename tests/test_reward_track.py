"""The reward-model track end to end at a tiny size: metrics rows, references, resume after a
kill, a results directory of another loop, and the command line's bad inputs."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest

import benchmark.loops.reward_track as track
from benchmark.analysis.reward_table import write_table
from benchmark.cli import main as cli_main
from benchmark.config import RunConfig
from benchmark.loops.dispatch import run_any
from benchmark.results import RunPaths
from tests.test_abuse_cli import _one_error_line, _sweep, no_workers  # noqa: F401 (fixture)
from tests.test_logged_episodes import TINY

#: long enough for the expert to open the drawer (it does by step ~45), so success is scored
RECIPE = replace(TINY, episode_steps=60)

BUDGET = {"max_queries": 9, "queries_per_session": 3, "reward_epochs": 1}
TINY_MODEL = {"ensemble": 1, "batch_size": 8}
LEARNING = ["step", "queries", "score", "epic_distance", "voc", "success_auc", "reward_alignment"]


@pytest.fixture(autouse=True)
def tiny_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(track, "RECIPE", RECIPE)


def _cfg(tmp_path, method: str, out: str = "out") -> RunConfig:
    return RunConfig(
        task="metaworld/drawer-open",
        method=method,
        seed=0,
        budget="smoke",
        cache_dir=str(tmp_path / "cache" / "oracle"),
        out_dir=str(tmp_path / out),
        budget_overrides=dict(BUDGET),
        method_options=dict(TINY_MODEL) if method in ("erl-vlm", "rl-vlm-f") else {},
        log_sinks=[],
        loop="reward-model",
    )


def test_the_track_scores_learners_and_references_on_the_same_held_out_data(tmp_path) -> None:
    rows = {}
    for method in ("gt-reward", "sparse", "erl-vlm", "rl-vlm-f"):
        root = run_any(_cfg(tmp_path, method))
        m = pd.read_csv(root / "metrics.csv")
        assert list(m.columns) == track.FIELDS
        assert m["step"].tolist() == [3, 6, 9]  # one row per session, on the shared query axis
        assert m["score"].between(0, 1).all() and (m["score"] == m["success_rate"]).all()
        done = json.loads((root / "done.json").read_text())
        assert done["final_success_rate"] == pytest.approx(m["score"].iloc[-1])
        config = json.loads((root / "config.json").read_text())
        assert config["track"] == "reward-model" and config["run"]["loop"] == "reward-model"
        rows[method] = m
    # the dense reward is the reference the score measures distance to
    assert (rows["gt-reward"]["score"] == 1.0).all()
    assert (rows["gt-reward"]["queries"] == 0).all()
    assert rows["sparse"]["success_auc"].iloc[-1] == 1.0  # it is the success indicator
    assert rows["sparse"]["score"].iloc[-1] < 1.0
    for learner in ("erl-vlm", "rl-vlm-f"):
        assert rows[learner]["queries"].tolist() == [3, 6, 9]
    # every method at a seed used one dataset, built once
    assert len(list((tmp_path / "cache" / "logged").rglob("*.npz"))) == 1
    # the track's own table: one line per method, the reference at the top with score 1
    table = write_table(tmp_path / "out").read_text().splitlines()
    assert table[2].startswith("| metaworld/drawer-open | gt-reward | 1 | 0 | 1.00 ± 0.00 |")
    assert sum(line.startswith("| metaworld/") for line in table) == 4


def test_a_killed_run_resumes_to_the_metrics_of_an_unbroken_one(tmp_path) -> None:
    unbroken = pd.read_csv(run_any(_cfg(tmp_path, "erl-vlm", "unbroken")) / "metrics.csv")
    cfg = _cfg(tmp_path, "erl-vlm", "killed")
    emitted = []

    def kill_after_second_row(**kw) -> None:
        emitted.append(kw)
        if len(emitted) == 2:  # row 2 is written, its checkpoint is not: like a kill -9 there
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        track.run_reward_track(cfg, progress=kill_after_second_row)
    paths = RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed)
    assert paths.checkpoint.exists() and not paths.done.exists()
    resumed = pd.read_csv(run_any(replace(cfg)) / "metrics.csv")
    pd.testing.assert_frame_equal(unbroken[LEARNING], resumed[LEARNING])


def test_a_finished_run_of_another_loop_is_not_taken_for_this_one(tmp_path) -> None:
    cfg = _cfg(tmp_path, "sparse")
    run_any(cfg)
    with pytest.raises(RuntimeError, match="holds a finished 'reward-model' run"):
        run_any(replace(cfg, loop="auto"))


def test_the_loop_flag_refuses_a_task_without_an_expert(tmp_path, capsys, no_workers) -> None:  # noqa: F811
    args = _sweep(tmp_path, "--loop", "reward-model", "--tasks", "alfred/pick-cool-then-place")
    _one_error_line(capsys, cli_main(args), "--loop reward-model: alfred/pick-cool-then-place")
    assert no_workers == []


def test_an_unknown_loop_is_refused(tmp_path, capsys, no_workers) -> None:  # noqa: F811
    with pytest.raises(SystemExit) as exc:
        cli_main(_sweep(tmp_path, "--loop", "reward"))
    assert exc.value.code == 2
    assert "invalid choice: 'reward'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown loop 'reward'"):
        run_any(replace(_cfg(tmp_path, "sparse"), loop="reward"))


def test_make_bench_defaults_to_the_track_and_a_named_task_to_its_loop() -> None:
    from tests.test_docker_static import _make_n

    default = _make_n("bench", "STAMP=Makefile")  # a prerequisite that exists: no install
    assert '--loop "reward-model"' in default
    assert '--methods "erl-vlm,rbrl,gt-reward,sparse"' in default
    assert '--out "results/reward-model"' in default
    alfred = _make_n("bench", "STAMP=Makefile", "TASK=alfred")
    assert '--loop "auto"' in alfred and '--methods "erl-vlm"' in alfred
    assert '--out "results"' in alfred


def test_run_refuses_a_config_with_an_unknown_loop(tmp_path, capsys) -> None:
    cfg = tmp_path / "run.json"
    cfg.write_text(
        json.dumps({"task": "metaworld/drawer-open", "method": "sparse", "seed": 0, "loop": "rm"})
    )
    _one_error_line(
        capsys, cli_main(["run", "--config", str(cfg)]), "loop 'rm'; choose one of auto"
    )
