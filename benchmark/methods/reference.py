"""The two reference rewards every table needs: an upper and a lower bound.

They read the environment's own reward, which no learned method may see, so the runner
supplies it (`env_reward`) rather than the method reading privileged data itself.
"""

from __future__ import annotations

import numpy as np

from benchmark.methods.base import RewardMethod


class _EnvReward(RewardMethod):
    needs_frames = False

    def reward(self, frames: np.ndarray, observations: np.ndarray) -> np.ndarray:
        raise RuntimeError(f"{self.name} takes the environment's reward through the runner")


class GroundTruthReward(_EnvReward):
    """The environment's dense reward (MetaWorld's shaped reward): an upper reference."""

    name = "gt-reward"
    env_reward = "dense"


class SparseReward(_EnvReward):
    """1 on success, else 0: the lower reference (what you get without any feedback)."""

    name = "sparse"
    env_reward = "sparse"
