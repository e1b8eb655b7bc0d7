"""Relabelling a logged dataset whose episodes end on success (ALFRED): every step must cost.

A learned reward rescaled to [0, 1] (what the rating methods hand over) is positive on every
step. With episodes that terminate on success and a time limit IQL bootstraps through, such a
reward makes a long failed episode worth more than a short successful one, and IQL learns not
to finish (issue 6: erl-vlm 0 % success on pick-cool-then-place at the short budget).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from benchmark.loops.offline import relabel
from benchmark.loops.offline_data import OfflineDataset
from benchmark.methods.base import RewardMethod


def _dataset(lengths: list[int], successes: list[bool]) -> OfflineDataset:
    """Episodes of the given lengths; a successful one terminates on its last step, a failed one
    times out. The observation's first entry is the (hidden) progress the fake reward reads."""
    eps = np.concatenate([np.full(n, i) for i, n in enumerate(lengths)])
    steps = np.concatenate([np.arange(n) for n in lengths])
    last = np.concatenate([np.arange(n) == n - 1 for n in lengths])
    won = np.concatenate([np.full(n, s) for n, s in zip(lengths, successes, strict=True)])
    progress = np.concatenate(
        [
            (np.arange(1, n + 1) / n) if s else np.full(n, 0.5)
            for n, s in zip(lengths, successes, strict=True)
        ]
    ).astype(np.float32)
    n = len(eps)
    obs = np.stack([progress, np.zeros(n)], 1).astype(np.float32)
    return OfflineDataset(
        obs=obs,
        next_obs=obs.copy(),
        actions=np.zeros(n, np.int64),
        masks=np.ones((n, 2), bool),
        next_masks=np.ones((n, 2), bool),
        terminals=last & won,
        timeouts=last & ~won,
        episode_ids=eps.astype(np.int64),
        steps=steps.astype(np.int64),
        frames=np.zeros((n, 0), np.uint8),
        snapshots=np.zeros((n, 1)),
        sources=np.zeros(n, np.int8),
        rewards=np.zeros(n, np.float32),
        privileged={
            "gt_reward": np.diff(progress, prepend=0).astype(np.float32),
            "sparse_reward": (last & won).astype(np.float32),
            "success": last & won,
            "progress": progress,
        },
    )


class RescaledLearned(RewardMethod):
    """A learned reward as the rating methods hand it over: in [0, 1], higher with progress."""

    name = "rescaled"
    needs_frames: ClassVar = False

    def reward(self, frames: np.ndarray, observations: np.ndarray) -> np.ndarray:
        return observations[:, 0].astype(np.float32)


class SparseEnv(RewardMethod):
    name = "sparse-env"
    env_reward: ClassVar = "sparse"

    def reward(self, frames: np.ndarray, observations: np.ndarray) -> np.ndarray:
        raise AssertionError("the loop supplies the env's reward")


def _returns(data: OfflineDataset, discount: float = 0.99) -> list[float]:
    return [float((data.rewards[e] * discount ** np.arange(len(e))).sum()) for e in data.episodes()]


def test_short_success_is_worth_more_than_a_long_failure_after_relabelling() -> None:
    # a 4-step success vs a 30-step failure that hovers at half progress
    data = _dataset([4, 30], [True, False])
    info = relabel(RescaledLearned(None, None, 0), data)
    success, failure = _returns(data)
    # without the shift: success 0.25+0.5+0.75+1 = 2.5 < failure ~ 0.5 * 26 = 13
    assert success > failure
    assert data.rewards.max() == 0.0 and data.rewards.min() < 0.0
    assert info["offset"] == 1.0 and "success" in info["rule"]
    # the shift keeps the method's ordering of states
    assert (
        np.argsort(data.rewards, kind="stable").tolist()
        == np.argsort(data.obs[:, 0], kind="stable").tolist()
    )


def test_datasets_without_terminal_transitions_keep_the_learned_reward() -> None:
    data = _dataset([6, 8], [False, False])
    info = relabel(RescaledLearned(None, None, 0), data)
    np.testing.assert_array_equal(data.rewards, data.obs[:, 0])
    assert info["offset"] == 0.0


class DenseEnv(SparseEnv):
    name = "dense-env"
    env_reward: ClassVar = "dense"


def test_env_rewards_are_not_shifted_by_default() -> None:
    data = _dataset([4, 30], [True, False])
    relabel(SparseEnv(None, None, 0), data)
    np.testing.assert_array_equal(data.rewards, data.privileged["success"].astype(np.float32))


def test_shift_env_charges_every_step_of_the_env_rewards_too() -> None:
    """`offline_shift_env_rewards`: sparse becomes -1 per step until success, progress
    differences minus their largest step; both still rank a short success above a long failure."""
    data = _dataset([4, 30], [True, False])
    info = relabel(SparseEnv(None, None, 0), data, shift_env=True)
    np.testing.assert_array_equal(data.rewards, data.privileged["success"] - np.float32(1))
    assert info["offset"] == 1.0 and "every step costs" in info["rule"]
    data = _dataset([4, 30], [True, False])
    info = relabel(DenseEnv(None, None, 0), data, shift_env=True)
    gt = data.privileged["gt_reward"]
    np.testing.assert_array_equal(data.rewards, gt - gt.max())
    assert info["offset"] == float(gt.max()) and data.rewards.max() == 0.0
    success, failure = _returns(data)
    assert success > failure
    # without terminal transitions there is nothing to charge for: left alone
    data = _dataset([6, 8], [False, False])
    assert relabel(DenseEnv(None, None, 0), data, shift_env=True)["offset"] == 0.0
    np.testing.assert_array_equal(data.rewards, data.privileged["gt_reward"])
