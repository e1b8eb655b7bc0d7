"""What every loop shares, written once: parts, results directory, metric rows, checkpoints.

A loop (online SAC, offline IQL, or one that only trains and scores a reward model) keeps its
algorithm and hands the rest to a `Harness`:

    h = Harness(cfg, progress)
    if h.finished: return h.paths.root
    parts = parts or build_parts(cfg)          # task, budget, method, oracle, agent configs
    h.start(resolved_config)                   # config.json, versions.json, metric mirrors
    state = MyState(...); payload = h.resume(state)   # restores state, phases, torch RNG
    ... h.emit(state, row) ... h.checkpoint(state, agent=...) ... with h.timed("update"): ...
    h.finish(parts.oracle, state, final_success_rate=...)

`LoopState` holds the counters a loop checkpoints; each loop subclasses it with its own.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from benchmark.config import Budget, RunConfig, resolve
from benchmark.loops.sinks import MetricSinks
from benchmark.methods.base import RewardMethod
from benchmark.methods.registry import get_method
from benchmark.record_hint import record_command
from benchmark.results import RunPaths, oracle_counters, stack_versions, write_json
from benchmark.rl.iql import IQLConfig
from benchmark.rl.sac import SACConfig
from benchmark.run_identity import RunDirMismatchError, mismatch_message, run_dir_mismatch
from envs.spec import TaskSpec

log = logging.getLogger(__name__)

#: the columns of every loop's metrics.csv, in order
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
    # stats.reward_alignment of the training reward over the labelled data, at the task's levels
    "reward_alignment",
    "wall_s",
]


@dataclass
class LoopState:
    """Counters every loop checkpoints; `step` is env steps online, updates offline."""

    step: int = 0
    metric_rows: int = 0
    wall_offset: float = 0.0
    reward_loss: float = float("nan")


@dataclass
class Parts:
    """What a run is made of, built from its config by `build_parts` (tests build their own)."""

    task: TaskSpec
    budget: Budget
    method: RewardMethod
    oracle: Any
    iql: IQLConfig
    sac: SACConfig | None = None

    @property
    def levels(self) -> int:
        """Rating levels: the method's option if it sets one, else the task's."""
        return int(getattr(self.method.config, "levels", None) or self.task.levels)

    @property
    def max_episode_steps(self) -> int:
        """The task's episode cap, or the budget's when that is shorter."""
        cap = self.budget.max_episode_steps
        return min(self.task.max_episode_steps, cap or self.task.max_episode_steps)


def build_method(cfg: RunConfig, task: TaskSpec, budget: Budget) -> RewardMethod:
    """The configured method; its `reward_epochs` default to the budget's."""
    cls = get_method(cfg.method)
    options = dict(cfg.method_options)
    if "reward_epochs" in set(cls.Config.__dataclass_fields__):
        options.setdefault("reward_epochs", budget.reward_epochs)
    return cls(task, cls.Config.from_overrides(options), cfg.seed)


def build_parts(cfg: RunConfig) -> Parts:
    """Resolve the config and build its method and oracle."""
    from oracle_cache import build_oracle  # imported here so listing tasks never loads providers

    r = resolve(cfg)
    method = build_method(cfg, r.task, r.budget)
    oracle = build_oracle(
        cfg.oracle, cfg.cache_mode, cfg.cache_dir, cfg.oracle_options, bundle=cfg.bundle
    )
    oracle.record_hint = record_command(cfg)
    return Parts(r.task, r.budget, method, oracle, r.iql, r.sac)


def describe_method(method: RewardMethod) -> dict[str, Any]:
    """The method's part of the resolved config: enough to rebuild it (class and options)."""
    return {
        "name": method.name,
        "class": f"{type(method).__module__}:{type(method).__qualname__}",
        "config": method.config.to_dict(),
        "query_kind": method.query_kind,
        "env_reward": method.env_reward,
    }


def describe_oracle(cfg: RunConfig, oracle: Any, levels: int) -> dict[str, Any]:
    """The oracle's part of the resolved config: every result names who rated it."""
    return {
        "provider": cfg.oracle,
        "name": getattr(oracle, "name", cfg.oracle),
        "mode": cfg.cache_mode,
        "cache_dir": cfg.cache_dir,
        "bundle": cfg.bundle,
        "levels": levels,
    }


def resolved_config(cfg: RunConfig, parts: Parts, **sections: Any) -> dict[str, Any]:
    """config.json: the run, task, method, budget and oracle, plus each loop's own sections."""
    return {
        "run": dict(cfg.__dict__),
        "task": parts.task.summary(),
        "method": describe_method(parts.method),
        "budget": parts.budget.to_dict(),
        "oracle": describe_oracle(cfg, parts.oracle, parts.levels),
        **sections,
    }


class Harness:
    """One run's results directory and bookkeeping; the loop owns everything it learns."""

    def __init__(
        self,
        cfg: RunConfig,
        progress: Callable[..., None] | None = None,
        fields: list[str] | None = None,
    ) -> None:
        self.cfg = cfg
        #: metrics.csv's columns: the shared ones, plus any a loop adds after them
        self.fields = list(fields or METRIC_FIELDS)
        self.paths = RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed)
        self.progress = progress
        self.phases: dict[str, float] = defaultdict(float)
        self.sinks: MetricSinks | None = None
        self._t_start = time.perf_counter()

    @property
    def finished(self) -> bool:
        """True once done.json exists: a finished run is never rerun. A finished or checkpointed
        run with other settings (another loop, budget, SAC, teacher...) in the same directory is
        an error: its results would be taken for this one's."""
        done = self.paths.done.exists()
        if done and self.paths.config.exists():
            done_loop = json.loads(self.paths.config.read_text())["run"].get("loop", "auto")
            if done_loop != self.cfg.loop:
                raise RuntimeError(
                    f"{self.paths.root} holds a finished '{done_loop}' run, not a "
                    f"'{self.cfg.loop}' one; give this sweep its own --out directory"
                )
        if done or self.paths.checkpoint.exists():
            diffs = run_dir_mismatch(self.paths.config, self.cfg)
            if diffs:
                raise RunDirMismatchError(mismatch_message(self.paths.root, diffs))
        return done

    def open(self) -> None:
        """Create the run directory and pin torch's thread count (results can depend on it)."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        torch.set_num_threads(max(1, self.cfg.threads))

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Add the block's wall time to `phase` in phases.json."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.phases[phase] += time.perf_counter() - t0

    def write_config(self, resolved: dict[str, Any]) -> None:
        write_json(self.paths.config, resolved)

    def start(self, resolved: dict[str, Any]) -> None:
        """Write config.json and versions.json, and open the metric mirrors."""
        self.write_config(resolved)
        write_json(self.paths.versions, stack_versions())
        run_name = f"{self.cfg.task} {self.cfg.method} s{self.cfg.seed}"
        self.sinks = MetricSinks(self.paths.root, self.cfg.log_sinks, resolved, run_name)

    def wall(self) -> float:
        return time.perf_counter() - self._t_start

    def emit(self, state: LoopState, oracle: Any, queries: int, **row: Any) -> None:
        """Append one metrics row (the record; sinks only mirror it) and report progress.

        `row` holds the loop's columns (step, episodes, success_rate, eval_return,
        train_success, reward_alignment); queries, oracle counters, reward loss and wall time
        are added here.
        """
        full = {
            **row,
            "queries": queries,
            **oracle_counters(oracle),
            "reward_loss": state.reward_loss,
            "wall_s": round(self.wall(), 3),
        }
        self.paths.append_metrics(full, self.fields)
        if self.sinks is not None:
            self.sinks.log(full)
        state.metric_rows += 1
        if self.progress is not None:
            self.progress(step=full["step"], success=full["success_rate"], queries=queries)

    def checkpoint(self, state: LoopState, **payload: Any) -> None:
        """Save the loop's state dicts with the counters, phases and torch's RNG."""
        with self.timed("checkpoint"):
            state.wall_offset = self.wall()
            self.paths.save_checkpoint(
                {
                    **payload,
                    "torch_rng": torch.get_rng_state(),
                    "state": asdict(state),
                    "phases": dict(self.phases),
                }
            )

    def resume(self, state: LoopState) -> dict[str, Any] | None:
        """Load the checkpoint, if any: restores `state`, phases, torch's RNG and metrics.csv
        (rows written after the checkpoint are dropped). Returns the payload for the loop's
        own parts, or None on a fresh start."""
        if self.paths.checkpoint.exists():
            ckpt = torch.load(self.paths.checkpoint, weights_only=False)
            known = {f.name for f in fields(state)}
            for name, value in ckpt["state"].items():
                if name in known:
                    setattr(state, name, value)
            torch.set_rng_state(ckpt["torch_rng"])
            self.phases.update(ckpt["phases"])
            self.paths.truncate_metrics(state.metric_rows, self.fields)
            log.info("resumed %s at step %d", self.paths.root, state.step)
        else:
            ckpt = None
        self._t_start = time.perf_counter() - state.wall_offset
        return ckpt

    def finish(self, oracle: Any, state: LoopState, final_success_rate: float) -> Path:
        """Write cache counters, phases and done.json; drop the checkpoint; close the mirrors."""
        if self.sinks is not None:
            self.sinks.close()
        self.paths.finish(
            oracle,
            self.cfg.oracle,
            self.phases,
            self.wall(),
            final_success_rate=final_success_rate,
            steps=state.step,
        )
        return self.paths.root
