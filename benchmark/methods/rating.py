"""ERL-VLM and RbRL: reward learning from absolute ratings.

A feedback session samples segments from the buffer (single states on MetaWorld, whole
trajectories on ALFRED), asks the oracle to rate each one, adds them to the labelled set, and
trains the reward ensemble for `reward_epochs` epochs over everything labelled so far.
ERL-VLM = MAE loss + class weights + stratified batches; RbRL = cross-entropy, uniform batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from benchmark.methods.base import BufferView, Feedback, MethodConfig, RewardMethod
from benchmark.methods.registry import register_method
from benchmark.reward_model import (
    FrameRewardEnsemble,
    StateRewardEnsemble,
    ce_loss,
    class_weights,
    mae_loss,
    predict,
    rbrl_logits,
    segment_returns,
    stratified_batches,
    uniform_batches,
)
from envs.spec import TaskSpec


@dataclass
class RatingConfig(MethodConfig):
    #: rating levels; None = the task's default (paper: drawer-open 3, sweep-into 2, soccer 2)
    levels: int | None = None
    loss: Literal["mae", "ce", "label_smoothing"] = "mae"
    sampling: Literal["stratified", "uniform"] = "stratified"
    class_weights: bool = True
    #: states per rated segment; None = the task's (MetaWorld 1, ALFRED 0 = whole episode)
    segment_length: int | None = None
    ensemble: int = 3
    lr: float = 3e-4
    #: RbRL's logit sharpness k
    k: float = 30.0
    batch_size: int = 128
    #: set by the runner from the budget (paper: 10 epochs per session)
    reward_epochs: int = 10
    label_smoothing: float = 0.1
    #: "frames" (the paper) or "state" (an MLP on observations)
    inputs: Literal["frames", "state"] = "frames"


@register_method
class ERLVLM(RewardMethod):
    """ERL-VLM (Luu et al., ICML 2025): ratings, RbRL boundaries, MAE, class weights, stratified."""

    name = "erl-vlm"
    Config = RatingConfig
    query_kind = "rate"

    def __init__(self, task: TaskSpec, config: RatingConfig, seed: int) -> None:
        super().__init__(task, config, seed)
        if config.levels is not None and not 2 <= config.levels <= 5:
            raise ValueError(f"levels must be between 2 and 5, got {config.levels}")
        if config.loss not in ("mae", "ce", "label_smoothing"):
            raise ValueError(f"loss must be mae, ce or label_smoothing, got {config.loss!r}")
        if config.sampling not in ("stratified", "uniform"):
            raise ValueError(f"sampling must be stratified or uniform, got {config.sampling!r}")
        self.levels = config.levels or task.levels
        self.segment_length = (
            task.segment_length if config.segment_length is None else config.segment_length
        )
        torch.manual_seed(seed)
        self.model: torch.nn.Module | None = None
        self.rng = np.random.default_rng(seed + 7)
        self.segments: list[np.ndarray] = []  # copies of the inputs of each rated segment
        self.labels: list[int] = []
        self.sessions = 0

    @property
    def needs_frames(self) -> bool:  # type: ignore[override]
        return self.config.inputs == "frames"

    def _inputs(self, buffer: BufferView, idx: np.ndarray) -> np.ndarray:
        return buffer.frames(idx) if self.config.inputs == "frames" else buffer.observations(idx)

    def _build(self, sample: np.ndarray) -> None:
        if self.config.inputs == "frames":
            self.model = FrameRewardEnsemble(self.config.ensemble, sample.shape[1])
        else:
            self.model = StateRewardEnsemble(sample.shape[-1], self.config.ensemble)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.config.lr)

    @property
    def is_ready(self) -> bool:
        return self.model is not None and self.sessions > 0

    def reward(self, frames: np.ndarray, observations: np.ndarray) -> np.ndarray:
        if self.model is None:
            return np.zeros(len(frames), np.float32)
        return predict(self.model, frames if self.config.inputs == "frames" else observations)

    # --- one feedback session -----------------------------------------------------------------
    def query_and_update(
        self, buffer: BufferView, feedback: Feedback, num_queries: int
    ) -> dict[str, float]:
        segs = buffer.segments(self.segment_length, num_queries, self.rng)
        ratings = feedback.rate(segs)
        for seg, rating in zip(segs, ratings, strict=True):
            self.segments.append(self._inputs(buffer, seg).copy())
            self.labels.append(int(rating.level))
        if self.model is None:
            self._build(self.segments[0])
        self.sessions += 1
        loss = self.train(self.config.reward_epochs)
        counts = np.bincount(self.labels, minlength=self.levels)
        return {
            "loss": loss,
            "labels": float(len(self.labels)),
            **{f"class_{i}": float(c) for i, c in enumerate(counts)},
        }

    def train(self, epochs: int) -> float:
        cfg = self.config
        labels = np.asarray(self.labels)
        weights = class_weights(labels, self.levels) if cfg.class_weights else None
        last = float("nan")
        for _ in range(epochs):
            batches = (
                stratified_batches(labels, cfg.batch_size, self.rng)
                if cfg.sampling == "stratified"
                else uniform_batches(len(labels), cfg.batch_size, self.rng)
            )
            losses = []
            for b in batches:
                if len(b) < 2:
                    continue  # min-max normalisation needs two returns
                y = torch.from_numpy(labels[b])
                w = torch.from_numpy(weights[labels[b]]).float() if weights is not None else None
                returns = segment_returns(self.model, [self.segments[i] for i in b])  # [B, members]
                loss = sum(self._loss(returns[:, m], y, w) for m in range(returns.shape[1]))
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                losses.append(loss.item() / returns.shape[1])
            last = float(np.mean(losses)) if losses else last
        return last

    def _loss(self, returns: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        logits = rbrl_logits(returns, y, self.levels, self.config.k)
        if self.config.loss == "mae":
            return mae_loss(logits, y, w)
        smoothing = self.config.label_smoothing if self.config.loss == "label_smoothing" else 0.0
        return ce_loss(logits, y, w, smoothing)

    # --- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": None if self.model is None else self.model.state_dict(),
            "opt": None if self.model is None else self.opt.state_dict(),
            "segments": self.segments,
            "labels": self.labels,
            "sessions": self.sessions,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.segments, self.labels = list(state["segments"]), list(state["labels"])
        self.sessions = state["sessions"]
        self.rng.bit_generator.state = state["rng"]
        if state["model"] is not None:
            self._build(self.segments[0])
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["opt"])


@dataclass
class RbRLConfig(RatingConfig):
    loss: Literal["mae", "ce", "label_smoothing"] = "ce"
    sampling: Literal["stratified", "uniform"] = "uniform"
    class_weights: bool = False


@register_method
class RbRL(ERLVLM):
    """RbRL (White et al., AAAI 2024): ratings with cross-entropy and uniform batches."""

    name = "rbrl"
    Config = RbRLConfig
