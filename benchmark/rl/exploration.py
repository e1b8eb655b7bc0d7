"""PEBBLE's unsupervised pre-training reward: a particle estimate of state entropy.

Each state's intrinsic reward is its distance to its k-th nearest neighbour among a random
sample of stored states, normalised by a running standard deviation, so the agent is pushed
toward states it has not visited before feedback starts (Lee et al., 2021; Liu & Abbeel, 2021).

`norm="welford"` (the default) keeps an exact running mean and variance of the distances.
`norm="reference"` is the reference code's batch update (tunglm2203/erlvlm `utils.py:400-414`,
used at `agent/sac.py:200-201`), whose new mean is `mean + delta + batch_count / tot_count`,
a `+` where a `*` belongs: the "running" mean is the newest batch's mean plus a count ratio,
and the variance then adds the squared gap between consecutive batch means rather than the
gap to the overall mean. It is there to measure what the fix changes.
"""

from __future__ import annotations

import numpy as np
import torch

NORMS = ("welford", "reference")


class StateEntropyReward:
    def __init__(self, k: int = 5, sample_size: int = 10_000, norm: str = "welford") -> None:
        if norm not in NORMS:
            raise ValueError(f"entropy_norm must be one of {', '.join(NORMS)}; got {norm!r}")
        self.k = k
        self.sample_size = sample_size
        self.norm = norm
        self.count = 1e-4 if norm == "reference" else 0
        self.mean = 0.0
        #: Welford's sum of squares, or the reference's variance (it starts at 1)
        self.m2 = 1.0 if norm == "reference" else 0.0

    def __call__(
        self, states: torch.Tensor, memory: np.ndarray, rng: np.random.Generator
    ) -> torch.Tensor:
        if len(memory) > self.sample_size:
            memory = memory[rng.integers(0, len(memory), self.sample_size)]
        mem = torch.from_numpy(memory)
        k = min(self.k + 1, len(mem))
        dist = torch.cdist(states, mem).topk(k, dim=1, largest=False).values[:, -1]
        if self.norm == "reference":
            return dist / self._reference_std(dist)
        for d in dist.tolist():  # Welford's running variance
            self.count += 1
            delta = d - self.mean
            self.mean += delta / self.count
            self.m2 += delta * (d - self.mean)
        std = (self.m2 / max(1, self.count - 1)) ** 0.5 or 1.0
        return dist / std

    def _reference_std(self, dist: torch.Tensor) -> float:
        """The reference's batch update of (mean, var, count), its bug included; returns std."""
        b_mean, b_var, b_count = float(dist.mean()), float(dist.var()), len(dist)
        delta, total = b_mean - self.mean, self.count + b_count
        self.mean = self.mean + delta + b_count / total  # sic: the reference's `+`
        self.m2 = (
            self.m2 * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        ) / total
        self.count = total
        return self.m2**0.5

    def state_dict(self) -> dict[str, float]:
        """The running statistics: a resumed run must normalise exactly as before the kill."""
        return {"count": self.count, "mean": self.mean, "m2": self.m2}

    def load_state_dict(self, state: dict[str, float]) -> None:
        count = state["count"]
        self.count = count if self.norm == "reference" else int(count)
        self.mean, self.m2 = state["mean"], state["m2"]
