"""Pick the right loop for a task: online SAC for continuous control, offline IQL for
trajectory tasks with discrete actions (ALFRED)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.config import RunConfig
from envs import get_task


def run_any(cfg: RunConfig, progress: Any = None) -> Path:
    task = get_task(cfg.task)
    if task.action_kind == "discrete":
        from benchmark.loops.offline import run_offline

        return run_offline(cfg, progress=progress)
    from benchmark.loops.online import run

    return run(cfg, progress=progress)
