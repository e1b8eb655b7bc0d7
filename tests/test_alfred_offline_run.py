"""The offline loop end to end on the ALFRED twin, with a stand-in oracle and two tiny methods.

The real reward methods and oracles live elsewhere; these stand-ins use the same contracts
(RewardMethod, BufferView, Feedback, rate_many) so the loop's plumbing is tested on its own:
queries are counted and rated on whole trajectories, rewards are relabelled, IQL learns, the
results directory has the online runner's files, and a killed run resumes to the same metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import torch

from benchmark.config import RunConfig, get_budget, resolve_task
from benchmark.loops.harness import METRIC_FIELDS, Parts
from benchmark.loops.offline import run_offline
from benchmark.methods.base import MethodConfig, RewardMethod
from benchmark.rl.iql import IQLConfig
from envs import get_task
from oracle_cache.types import Rating

torch.set_num_threads(1)


class ProgressOracle:
    """Rates a trajectory by the privileged progress of its last frame (a noiseless teacher)."""

    name = "progress-oracle"

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def rate_many(self, queries: list[Any]) -> list[Rating]:
        self.calls += queries
        return [
            Rating(
                int(round(q.context["progress"] * (q.levels - 1))), "", {"frames": len(q.frames)}
            )
            for q in queries
        ]

    def prefer_many(self, queries: list[Any]) -> list[Any]:
        raise NotImplementedError

    def stats(self) -> dict[str, int]:
        return {"hits": 0, "misses": len(self.calls), "provider_calls": len(self.calls)}


class DenseGT(RewardMethod):
    name = "test-gt"
    env_reward: ClassVar = "dense"
    needs_frames: ClassVar = False

    def reward(self, frames: np.ndarray, observations: np.ndarray) -> np.ndarray:
        raise AssertionError("the loop supplies the env's reward for env_reward methods")


@dataclass
class RidgeConfig(MethodConfig):
    l2: float = 1.0


class RatedRidge(RewardMethod):
    """Rates whole episodes and regresses the rating on observations (plumbing, not a method)."""

    name = "test-ridge"
    Config = RidgeConfig
    query_kind: ClassVar = "rate"
    needs_frames: ClassVar = False

    def __init__(self, task, config, seed) -> None:
        super().__init__(task, config, seed)
        self.rng = np.random.default_rng(seed)
        self.x: list[np.ndarray] = []
        self.y: list[float] = []
        self.w: np.ndarray | None = None
        self.segment_lengths: list[int] = []

    def query_and_update(self, buffer, feedback, num_queries: int) -> dict[str, float]:
        segs = buffer.segments(self.task.segment_length, num_queries, self.rng)
        self.segment_lengths += [len(s) for s in segs]
        for seg, rating in zip(segs, feedback.rate(segs), strict=True):
            obs = buffer.observations(seg)
            self.x.append(obs)
            self.y += [rating.level / (feedback.levels - 1)] * len(seg)
        x = np.concatenate(self.x)
        self.w = np.linalg.solve(
            x.T @ x + self.config.l2 * np.eye(x.shape[1]), x.T @ np.array(self.y)
        )
        return {"loss": float(np.mean((x @ self.w - self.y) ** 2))}

    @property
    def is_ready(self) -> bool:
        return self.w is not None

    def reward(self, frames: np.ndarray, observations: np.ndarray) -> np.ndarray:
        return (observations @ self.w).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {"w": self.w}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.w = state["w"]


BUDGET = {
    "offline_episodes": 40,
    "offline_updates": 300,
    "eval_every": 100,
    "max_queries": 12,
    "queries_per_session": 6,
    "eval_episodes": 3,
}


def _parts(method_cls, batch: int = 128, **budget: int) -> Parts:
    task = get_task("alfred/pick-and-place")
    b = get_budget("smoke").with_overrides(**{**BUDGET, **budget})
    method = method_cls(task, method_cls.Config(), 0)
    return Parts(task, b, method, ProgressOracle(), IQLConfig(lr=1e-3, batch_size=batch))


def _cfg(tmp_path, method: str, out: str = "results") -> RunConfig:
    return RunConfig(
        task="alfred/pick-and-place", method=method, seed=0, out_dir=str(tmp_path / out)
    )


def test_offline_run_writes_results_and_learns_with_gt_reward(tmp_path) -> None:
    parts = _parts(DenseGT)
    root = run_offline(_cfg(tmp_path, "test-gt"), parts=parts)
    for f in (
        "config.json",
        "metrics.csv",
        "cache_stats.json",
        "phases.json",
        "versions.json",
        "done.json",
    ):
        assert (root / f).exists(), f
    m = pd.read_csv(root / "metrics.csv")
    assert list(m.columns) == METRIC_FIELDS
    assert list(m["step"]) == [0, 100, 200, 300]
    assert (m["queries"] == 0).all() and m["episodes"].iloc[0] == 40
    assert m["success_rate"].iloc[-1] >= 0.5 > m["success_rate"].iloc[0]  # expert-light data
    # computed once from the relabelled dataset, whose expert episodes span every level
    assert m["reward_alignment"].nunique() == 1 and 0.0 <= m["reward_alignment"].iloc[0] <= 1.0
    assert not (root / "checkpoint.pt").exists()
    assert run_offline(_cfg(tmp_path, "test-gt"), parts=parts) == root  # done: not rerun
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = EventAccumulator(str(root / "tb"))  # mirrored like an online run's
    tb.Reload()
    assert [e.step for e in tb.Scalars("success_rate")] == [0, 100, 200, 300]


def test_rating_method_rates_whole_trajectories_within_budget(tmp_path) -> None:
    parts = _parts(RatedRidge, batch=16, offline_updates=20, eval_every=20)
    root = run_offline(_cfg(tmp_path, "test-ridge"), parts=parts)
    m = pd.read_csv(root / "metrics.csv")
    assert (m["queries"] == 12).all()
    oracle, method = parts.oracle, parts.method
    assert len(oracle.calls) == 12
    assert all(1 <= len(q.frames) <= 8 for q in oracle.calls)  # subsampled trajectories
    assert all(q.frames[0].shape == (224, 224, 3) for q in oracle.calls)  # oracle resolution
    assert all(q.instruction == "Put a mug on the shelf." and q.levels == 3 for q in oracle.calls)
    assert max(method.segment_lengths) > 1  # segment_length 0: whole episodes


def test_killed_offline_run_resumes_to_the_same_metrics(tmp_path) -> None:
    small = {"batch": 16, "offline_updates": 60, "eval_every": 20}
    unbroken = pd.read_csv(
        run_offline(_cfg(tmp_path, "test-gt", "a"), parts=_parts(DenseGT, **small)) / "metrics.csv"
    )

    class Killed(Exception):
        pass

    def kill_at_second_eval(step: int, **_: Any) -> None:
        if step == 40:
            raise Killed

    cfg = _cfg(tmp_path, "test-gt", "b")
    with pytest.raises(Killed):
        run_offline(cfg, progress=kill_at_second_eval, parts=_parts(DenseGT, **small))
    resumed = pd.read_csv(run_offline(replace(cfg), parts=_parts(DenseGT, **small)) / "metrics.csv")
    assert len(resumed) == 4
    cols = [c for c in METRIC_FIELDS if c != "wall_s"]
    pd.testing.assert_frame_equal(unbroken[cols], resumed[cols])


def test_backend_switch_resolves_alfred_names() -> None:
    assert resolve_task("alfred/pick-and-place", None).backend == "twin"
    assert resolve_task("alfred/pick-and-place", "thor").name == "alfred-thor/pick-and-place"
    assert resolve_task("alfred/pick-and-place", "twin").backend == "twin"
