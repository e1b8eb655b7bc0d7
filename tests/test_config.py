"""The configuration module: one RunConfig, resolved in one place, IQL configurable like SAC."""

from __future__ import annotations

import json

import pytest

from benchmark.cli import main
from benchmark.config import RunConfig, resolve


def test_resolve_builds_the_agent_configs_from_the_run_config() -> None:
    r = resolve(
        RunConfig(
            task="alfred/pick-and-place",
            method="sparse",
            seed=0,
            budget_overrides={"max_episode_steps": 20},
            sac={"batch_size": 64},
            iql={"expectile": 0.8},
        )
    )
    assert r.iql.expectile == 0.8 and r.sac.batch_size == 64
    assert r.budget.name == "smoke" and r.max_episode_steps == min(20, r.task.max_episode_steps)


def test_resolve_names_a_bad_iql_field() -> None:
    with pytest.raises(TypeError, match="nonsense"):
        resolve(
            RunConfig(task="alfred/pick-and-place", method="sparse", seed=0, iql={"nonsense": 1})
        )


def test_sweep_rejects_a_bad_iql_opt_in_one_line(tmp_path, capsys) -> None:
    code = main(["sweep", "--tasks", "alfred/pick-and-place", "--methods", "sparse",
                 "--out", str(tmp_path), "--iql-opt", "network=transformer"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: --iql-opt:") and len(err.splitlines()) == 1


def test_an_offline_run_trains_iql_with_the_configured_options(tmp_path) -> None:
    from benchmark.loops.offline import run_offline

    cfg = RunConfig(
        task="alfred/pick-and-place",
        method="sparse",
        seed=0,
        cache_dir=str(tmp_path / "cache"),
        out_dir=str(tmp_path / "out"),
        budget_overrides={"offline_episodes": 8, "offline_updates": 4, "eval_every": 4},
        iql={"expectile": 0.8, "batch_size": 16},
        log_sinks=[],
    )
    resolved = json.loads((run_offline(cfg) / "config.json").read_text())
    assert resolved["iql"]["expectile"] == 0.8 and resolved["iql"]["batch_size"] == 16
    assert resolved["run"]["iql"] == {"expectile": 0.8, "batch_size": 16}


def test_a_runs_time_limit_is_applied_once_when_the_env_is_made() -> None:
    """TaskSpec.make caps episodes at the shorter of the budget's and the task's limit."""
    import numpy as np

    from envs import get_task

    spec = get_task("alfred/pick-and-place")
    for cap, want in ((5, 5), (None, spec.max_episode_steps), (10**6, spec.max_episode_steps)):
        env = spec.make(0, cap)
        _, info = env.reset(seed=3)
        steps, done = 0, False
        while not done:
            action = int(np.flatnonzero(info["action_mask"])[-1])  # a valid, non-finishing move
            _, _, term, trunc, info = env.step(action)
            steps, done = steps + 1, term or trunc
        assert (steps, trunc, term) == (want, True, False)
        assert env.unwrapped.render_frame(16).shape == (16, 16, 3)  # the env's own methods
