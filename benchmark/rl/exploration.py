"""PEBBLE's unsupervised pre-training reward: a particle estimate of state entropy.

Each state's intrinsic reward is its distance to its k-th nearest neighbour among a random
sample of stored states, normalised by a running standard deviation, so the agent is pushed
toward states it has not visited before feedback starts (Lee et al., 2021; Liu & Abbeel, 2021).
"""

from __future__ import annotations

import numpy as np
import torch


class StateEntropyReward:
    def __init__(self, k: int = 5, sample_size: int = 10_000) -> None:
        self.k = k
        self.sample_size = sample_size
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0

    def __call__(
        self, states: torch.Tensor, memory: np.ndarray, rng: np.random.Generator
    ) -> torch.Tensor:
        if len(memory) > self.sample_size:
            memory = memory[rng.integers(0, len(memory), self.sample_size)]
        mem = torch.from_numpy(memory)
        k = min(self.k + 1, len(mem))
        dist = torch.cdist(states, mem).topk(k, dim=1, largest=False).values[:, -1]
        for d in dist.tolist():  # Welford's running variance
            self.count += 1
            delta = d - self.mean
            self.mean += delta / self.count
            self.m2 += delta * (d - self.mean)
        std = (self.m2 / max(1, self.count - 1)) ** 0.5 or 1.0
        return dist / std

    def state_dict(self) -> dict[str, float]:
        """The running statistics: a resumed run must normalise exactly as before the kill."""
        return {"count": self.count, "mean": self.mean, "m2": self.m2}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.count, self.mean, self.m2 = int(state["count"]), state["mean"], state["m2"]
