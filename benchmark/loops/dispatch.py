"""Pick the right loop for a run: the reward-model track when the config asks for it, else
online SAC for continuous control and offline IQL for trajectory tasks with discrete actions
(ALFRED)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.config import LOOPS, RunConfig
from envs import get_task


def run_any(cfg: RunConfig, progress: Any = None) -> Path:
    if cfg.loop == "reward-model":
        from benchmark.loops.reward_track import run_reward_track

        return run_reward_track(cfg, progress=progress)
    if cfg.loop != "auto":
        raise ValueError(f"unknown loop {cfg.loop!r}; choose one of {', '.join(LOOPS)}")
    task = get_task(cfg.task)
    if task.action_kind == "discrete":
        from benchmark.loops.offline import run_offline

        return run_offline(cfg, progress=progress)
    from benchmark.loops.online import run

    return run(cfg, progress=progress)
