"""A complete new reward method in one file: regress the oracle's ratings on the state.

Use it as a template. Run it with
    make bench METHODS=examples.my_method:RatingRegression
or register a name for it (`@register_method`, or an entry point in the `vlmbench.methods`
group of your own package) and use that name instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmark.methods.base import BufferView, Feedback, MethodConfig, RewardMethod
from envs.spec import TaskSpec


@dataclass
class RatingRegressionConfig(MethodConfig):
    hidden: int = 64
    lr: float = 1e-3
    reward_epochs: int = 10  # the runner fills this in from the budget


class RatingRegression(RewardMethod):
    """Rate single states, fit an MLP from observation to rating / (levels - 1) with MSE."""

    name = "rating-regression"
    Config = RatingRegressionConfig
    query_kind = "rate"  # the runner gives this method a feedback channel for ratings
    needs_frames = False  # it learns from observations, so the buffer need not keep frames

    def __init__(self, task: TaskSpec, config: RatingRegressionConfig, seed: int) -> None:
        super().__init__(task, config, seed)
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.net: nn.Module | None = None
        self.x: list[np.ndarray] = []
        self.y: list[float] = []

    @property
    def is_ready(self) -> bool:
        return self.net is not None

    def reward(self, frames: np.ndarray, observations: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.net(torch.as_tensor(observations, dtype=torch.float32))[:, 0].numpy()

    def query_and_update(
        self, buffer: BufferView, feedback: Feedback, num_queries: int
    ) -> dict[str, float]:
        segments = buffer.segments(1, num_queries, self.rng)  # single states
        for seg, rating in zip(segments, feedback.rate(segments), strict=True):
            self.x.append(buffer.observations(seg)[0])
            self.y.append(rating.level / max(1, feedback.levels - 1))
        if self.net is None:
            dim = len(self.x[0])
            self.net = nn.Sequential(
                nn.Linear(dim, self.config.hidden), nn.ReLU(), nn.Linear(self.config.hidden, 1)
            )
            self.opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)
        x = torch.as_tensor(np.array(self.x), dtype=torch.float32)
        y = torch.as_tensor(self.y, dtype=torch.float32)[:, None]
        for _ in range(self.config.reward_epochs):
            loss = nn.functional.mse_loss(self.net(x), y)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
        return {"loss": loss.item(), "labels": float(len(self.y))}

    def state_dict(self) -> dict[str, Any]:
        return {
            "x": list(self.x),  # copies: the runner may keep this dict while training goes on
            "y": list(self.y),
            "rng": self.rng.bit_generator.state,
            "net": None if self.net is None else copy.deepcopy(self.net.state_dict()),
            "opt": None if self.net is None else copy.deepcopy(self.opt.state_dict()),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.x, self.y = list(state["x"]), list(state["y"])
        self.rng.bit_generator.state = state["rng"]
        if state["net"] is not None:
            dim = len(self.x[0])
            self.net = nn.Sequential(
                nn.Linear(dim, self.config.hidden), nn.ReLU(), nn.Linear(self.config.hidden, 1)
            )
            self.opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)
            self.net.load_state_dict(state["net"])
            self.opt.load_state_dict(state["opt"])
