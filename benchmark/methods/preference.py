"""RL-VLM-F (Wang et al., ICML 2024): reward learning from pairwise VLM preferences.

Each session samples pairs of segments, asks which better achieves the goal, drops "no
preference" answers, and fits the same reward ensemble with the Bradley-Terry model: the
probability that a is preferred is softmax over the two segments' predicted returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from benchmark.methods.base import BufferView, Feedback, MethodConfig, RewardMethod
from benchmark.methods.registry import register_method
from benchmark.reward_model import (
    FrameRewardEnsemble,
    StateRewardEnsemble,
    predict,
    segment_returns,
    uniform_batches,
)
from envs.spec import TaskSpec
from oracle_cache.types import NO_PREFERENCE


@dataclass
class PreferenceConfig(MethodConfig):
    segment_length: int | None = None
    ensemble: int = 3
    lr: float = 3e-4
    batch_size: int = 128
    reward_epochs: int = 10
    inputs: Literal["frames", "state"] = "frames"


@register_method
class RLVLMF(RewardMethod):
    """RL-VLM-F (Wang et al., ICML 2024): VLM preferences, Bradley-Terry reward model."""

    name = "rl-vlm-f"
    Config = PreferenceConfig
    query_kind = "prefer"

    def __init__(self, task: TaskSpec, config: PreferenceConfig, seed: int) -> None:
        super().__init__(task, config, seed)
        self.segment_length = (
            task.segment_length if config.segment_length is None else config.segment_length
        )
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed + 11)
        self.model: torch.nn.Module | None = None
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self.labels: list[int] = []
        self.asked = 0

    @property
    def needs_frames(self) -> bool:  # type: ignore[override]
        return self.config.inputs == "frames"

    @property
    def is_ready(self) -> bool:
        return self.model is not None

    def _inputs(self, buffer: BufferView, idx: np.ndarray) -> np.ndarray:
        return buffer.frames(idx) if self.config.inputs == "frames" else buffer.observations(idx)

    def reward(self, frames: np.ndarray, observations: np.ndarray) -> np.ndarray:
        if self.model is None:
            return np.zeros(len(frames), np.float32)
        return predict(self.model, frames if self.config.inputs == "frames" else observations)

    def query_and_update(
        self, buffer: BufferView, feedback: Feedback, num_queries: int
    ) -> dict[str, float]:
        a = buffer.segments(self.segment_length, num_queries, self.rng)
        b = buffer.segments(self.segment_length, num_queries, self.rng)
        answers = feedback.prefer(list(zip(a, b, strict=True)))
        self.asked += len(answers)
        for sa, sb, p in zip(a, b, answers, strict=True):
            if p.label == NO_PREFERENCE:
                continue  # RL-VLM-F drops "no preference" answers
            self.pairs.append((self._inputs(buffer, sa).copy(), self._inputs(buffer, sb).copy()))
            self.labels.append(int(p.label))
        if not self.pairs:
            return {"loss": float("nan"), "labels": 0.0}
        if self.model is None:
            sample = self.pairs[0][0]
            self.model = (
                FrameRewardEnsemble(self.config.ensemble, sample.shape[1])
                if self.config.inputs == "frames"
                else StateRewardEnsemble(sample.shape[-1], self.config.ensemble)
            )
            self.opt = torch.optim.Adam(self.model.parameters(), lr=self.config.lr)
        loss = self.train(self.config.reward_epochs)
        return {
            "loss": loss,
            "labels": float(len(self.labels)),
            "dropped": float(self.asked - len(self.labels)),
        }

    def train(self, epochs: int) -> float:
        labels = np.asarray(self.labels)
        last = float("nan")
        for _ in range(epochs):
            losses = []
            for b in uniform_batches(len(labels), self.config.batch_size, self.rng):
                ra = segment_returns(self.model, [self.pairs[i][0] for i in b])  # [B, members]
                rb = segment_returns(self.model, [self.pairs[i][1] for i in b])
                logits = torch.stack([ra, rb], dim=1)  # [B, 2, members]
                y = torch.from_numpy(labels[b])[:, None].expand(-1, logits.shape[-1])
                loss = F.cross_entropy(logits, y) * logits.shape[-1]  # summed over members
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                losses.append(loss.item() / logits.shape[-1])
            last = float(np.mean(losses))
        return last

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": None if self.model is None else self.model.state_dict(),
            "opt": None if self.model is None else self.opt.state_dict(),
            "pairs": self.pairs,
            "labels": self.labels,
            "asked": self.asked,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pairs, self.labels, self.asked = (
            list(state["pairs"]),
            list(state["labels"]),
            state["asked"],
        )
        self.rng.bit_generator.state = state["rng"]
        if state["model"] is not None:
            sample = self.pairs[0][0]
            self.model = (
                FrameRewardEnsemble(self.config.ensemble, sample.shape[1])
                if self.config.inputs == "frames"
                else StateRewardEnsemble(sample.shape[-1], self.config.ensemble)
            )
            self.opt = torch.optim.Adam(self.model.parameters(), lr=self.config.lr)
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["opt"])
