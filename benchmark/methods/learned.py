"""What ERL-VLM and RL-VLM-F share: a reward ensemble trained on oracle labels.

Both keep copies of the labelled segments' inputs (frames, or observations for `inputs="state"`),
train the same ensemble (reward_model.py) from the run's seed alone, rescale its output so the
labelled states span [0, 1] (the "Reward scale" deviation in rating.py's docstring;
`reward_scale="raw"` keeps the reference's output) and checkpoint model, optimiser, scale and
their own RNG. A subclass adds how it asks (ratings or preferences) and how it trains.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np
import torch

from benchmark.methods.base import BufferView, MethodConfig, RewardMethod
from benchmark.methods.reward_model import RewardEnsemble, build_ensemble, minmax_scale, predict
from envs.spec import TaskSpec


def check_choice(option: str, value: object, allowed: tuple[str, ...]) -> None:
    """One clear line for an option outside its choices."""
    if value not in allowed:
        raise ValueError(f"{option} must be one of {', '.join(allowed)}; got {value!r}")


class LearnedReward(RewardMethod):
    """A reward ensemble fitted to oracle labels; config needs segment_length, ensemble, lr,
    inputs and reward_scale."""

    #: the second word of the method's own RNG seed ([seed, rng_stream]): methods differ
    rng_stream: ClassVar[int] = 0

    def __init__(self, task: TaskSpec, config: MethodConfig, seed: int) -> None:
        super().__init__(task, config, seed)
        check_choice("inputs", config.inputs, ("frames", "state"))
        check_choice("reward_scale", config.reward_scale, ("minmax", "raw"))
        self.segment_length = (
            task.segment_length if config.segment_length is None else config.segment_length
        )
        self.rng = np.random.default_rng([seed, self.rng_stream])
        self.model: RewardEnsemble | None = None
        self.opt: torch.optim.Optimizer | None = None
        self.scale = (0.0, 1.0)  # (lo, hi - lo) of the labelled states' rewards

    @property
    def needs_frames(self) -> bool:  # type: ignore[override]
        return self.config.inputs == "frames"

    def reward(self, frames: np.ndarray, observations: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise RuntimeError(f"{self.name} has no reward model before its first session")
        r = predict(self.model, frames if self.config.inputs == "frames" else observations)
        if self.config.reward_scale == "raw":
            return r
        lo, span = self.scale
        return (r - lo) / span

    def inputs_of(self, buffer: BufferView, idx: np.ndarray) -> np.ndarray:
        """A copy of a segment's model inputs (the buffer may evict them later)."""
        data = buffer.frames(idx) if self.needs_frames else buffer.observations(idx)
        return np.array(data, copy=True)

    def build(self, example: np.ndarray) -> None:
        """The ensemble for inputs shaped like `example`, from the run's seed alone (the global
        torch RNG is left untouched), and its Adam optimiser."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.model = build_ensemble(example, self.config.inputs, self.config.ensemble)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.config.lr)

    def rescale(self, segments: list[np.ndarray]) -> None:
        """Refit the [0, 1] scale to the labelled segments (done after every session)."""
        self.scale = minmax_scale(self.model, segments)

    def learned_state(self) -> dict[str, Any]:
        """Model, optimiser, scale and RNG; subclasses add their labelled data."""
        return {
            "model": None if self.model is None else copy.deepcopy(self.model.state_dict()),
            "opt": None if self.opt is None else copy.deepcopy(self.opt.state_dict()),
            "scale": self.scale,
            "rng": copy.deepcopy(self.rng.bit_generator.state),
        }

    def load_learned_state(self, state: dict[str, Any], example: Any) -> None:
        """Restore `learned_state`; `example` is one input, to rebuild the ensemble's shape."""
        self.scale = tuple(state.get("scale", (0.0, 1.0)))
        self.rng.bit_generator.state = state["rng"]
        if state["model"] is not None:
            self.build(example)
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["opt"])
