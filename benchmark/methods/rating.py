"""ERL-VLM and RbRL: reward learning from absolute ratings.

A feedback session samples segments from the buffer (single states on MetaWorld, whole
trajectories on ALFRED), asks the oracle to rate each one, adds them to the labelled set
(copies of the segments' reward-resolution frames: the buffer may evict them), and trains the
reward ensemble for up to `reward_epochs` epochs over everything labelled so far.
ERL-VLM = MAE loss + class weights + stratified batches; RbRL = cross-entropy, uniform batches.

Training follows ERL-VLM's reference code: each member draws its own batches (its own shuffle of
the labelled set), the members' losses are summed into one Adam step, an epoch is one pass over
the labelled set, and a session stops early once the training accuracy exceeds
`stop_accuracy` after at least two epochs (the reference's 0.97 rule).

Reward scale (a deviation, on by default): the RbRL loss only sees min-max normalised returns,
so it never sets the reward's scale, which stays whatever the initialisation and Adam's drift
make it. With the reference's head init (+-1e-3) the spread of relabelled rewards measured
~0.001 at 64 px (~0.04 at the paper's 224 px, whose head has 64x more inputs) on a synthetic
problem the model ranks perfectly: too small for SAC next to its entropy bonus. So after each
session the ensemble-mean reward is rescaled so the labelled states span [0, 1], the scale on
which RbRL places its class bins. `reward_scale="raw"` restores the reference's raw output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from benchmark.methods.base import BufferView, Feedback, MethodConfig
from benchmark.methods.learned import LearnedReward, check_choice
from benchmark.methods.reward_model import (
    ce_loss,
    class_weights,
    mae_loss,
    rbrl_logits,
    reference_stratified_batches,
    segment_returns,
    stratified_batches,
    uniform_batches,
)
from envs.spec import TaskSpec
from oracle_cache.teachers import UNANSWERED


@dataclass
class RatingConfig(MethodConfig):
    """ERL-VLM's defaults (paper and reference scripts); every field is an ablation switch."""

    #: rating levels, 2..5; None = the feedback's (the task's: drawer-open 3, sweep-into 2, soccer 2)
    levels: int | None = None
    loss: Literal["mae", "ce", "label_smoothing"] = "mae"
    #: label-smoothing strength for loss="label_smoothing" (torch's convention: eps / levels
    #: goes to every class)
    label_smoothing: float = 0.1
    sampling: Literal["stratified", "uniform"] = "stratified"
    #: how stratified batches are filled: "even" (each class dealt evenly over all batches:
    #: no batch lacks a class) or "reference" (the reference code's floor shares with the
    #: remainder left to the last batch, reward_model_vlm_rating.py:647-715)
    sampler: Literal["even", "reference"] = "even"
    class_weights: bool = True
    #: "complement" (reference code: 1 - class frequency) or "inverse" (1 / class frequency)
    weight_scheme: Literal["complement", "inverse"] = "complement"
    #: states per rated segment; None = the task's (MetaWorld 1, ALFRED 0 = whole episode)
    segment_length: int | None = None
    ensemble: int = 3
    lr: float = 3e-4
    #: RbRL's logit sharpness k (the reference's softmax_temp)
    k: float = 30.0
    #: reward-training batch (the reference uses 512 for the CNN, 128 for the state MLP)
    batch_size: int = 512
    #: epochs per feedback session (paper: 10); the runner sets it from the budget
    reward_epochs: int = 10
    #: stop a session early once training accuracy exceeds this (after 2 epochs); None = never
    stop_accuracy: float | None = 0.97
    #: "frames" (the paper) or "state" (an MLP on observations, for runs without frames)
    inputs: Literal["frames", "state"] = "frames"
    #: "minmax": rewards rescaled so the labelled states span [0, 1] (refitted every session);
    #: "raw": the ensemble's tanh output, as in the reference code (see the module docstring)
    reward_scale: Literal["minmax", "raw"] = "minmax"
    #: MAE without class weights: "reference" averages over classes as the reference's
    #: `F.l1_loss` does (with class weights it sums over classes, as the reference does);
    #: "sum" sums over classes in both (this suite before: L times the reference's)
    mae_reduction: Literal["reference", "sum"] = "reference"
    #: with loss="label_smoothing", weight classes too (this suite before); the reference's
    #: label-smoothed loss takes no class weights
    smoothing_weights: bool = False


class ERLVLM(LearnedReward):
    """ERL-VLM (Luu et al., ICML 2025): ratings, RbRL boundaries, MAE, class weights, stratified."""

    name = "erl-vlm"
    Config = RatingConfig
    query_kind = "rate"
    rng_stream = 7

    def __init__(self, task: TaskSpec, config: RatingConfig, seed: int) -> None:
        check_choice("loss", config.loss, ("mae", "ce", "label_smoothing"))
        check_choice("sampling", config.sampling, ("stratified", "uniform"))
        check_choice("weight_scheme", config.weight_scheme, ("complement", "inverse"))
        check_choice("sampler", config.sampler, ("even", "reference"))
        check_choice("mae_reduction", config.mae_reduction, ("reference", "sum"))
        super().__init__(task, config, seed)
        if config.levels is not None and not 2 <= config.levels <= 5:
            raise ValueError(f"levels must be between 2 and 5, got {config.levels}")
        self.levels = config.levels or task.levels
        self.segments: list[np.ndarray] = []  # inputs of each rated segment [len, ...]
        self.indices: list[np.ndarray] = []  # their buffer indices at the time of asking
        self.labels: list[int] = []
        self.sessions = 0

    @property
    def is_ready(self) -> bool:
        return self.model is not None and self.sessions > 0

    # --- one feedback session -----------------------------------------------------------------
    def query_and_update(
        self, buffer: BufferView, feedback: Feedback, num_queries: int
    ) -> dict[str, float]:
        """Rate `num_queries` segments, add them to the labelled set, retrain on all of it.

        Returns loss (mean per member over the last epoch), reward_acc (training accuracy of the
        last epoch), epochs, labels (labelled set size), asked, class_<i> counts.
        """
        if self.config.levels is None and self.sessions == 0:
            self.levels = int(feedback.levels)
        segments = buffer.segments(self.segment_length, num_queries, self.rng)
        ratings = feedback.rate(segments)
        for seg, rating in zip(segments, ratings, strict=True):
            level = int(rating.level)
            if level == UNANSWERED:  # no answer (a `skip` teacher, an unparsable reply): no label
                continue
            if not 0 <= level < self.levels:
                raise ValueError(f"rating {level} outside 0..{self.levels - 1}")
            self.segments.append(self.inputs_of(buffer, seg))
            self.indices.append(np.asarray(seg).copy())
            self.labels.append(level)
        if not self.labels:
            return {"loss": float("nan"), "labels": 0.0, "asked": float(len(ratings))}
        if self.model is None:
            self.build(self.segments[0][0])
        self.sessions += 1
        loss, acc, epochs = self.train(self.config.reward_epochs)
        self.rescale(self.segments)
        counts = np.bincount(self.labels, minlength=self.levels)
        return {
            "loss": loss,
            "reward_acc": acc,
            "epochs": float(epochs),
            "labels": float(len(self.labels)),
            "asked": float(len(ratings)),
            **{f"class_{i}": float(c) for i, c in enumerate(counts)},
        }

    def _epoch_batches(self, labels: np.ndarray) -> list[np.ndarray]:
        if self.config.sampling == "stratified" and self.config.sampler == "reference":
            return reference_stratified_batches(
                labels, self.config.batch_size, self.levels, self.rng
            )
        if self.config.sampling == "stratified":
            return stratified_batches(labels, self.config.batch_size, self.rng)
        return uniform_batches(len(labels), self.config.batch_size, self.rng)

    def train(self, epochs: int) -> tuple[float, float, int]:
        """Up to `epochs` passes over the labelled set; returns (loss, accuracy, epochs run)."""
        cfg, model, opt = self.config, self.model, self.opt
        labels = np.asarray(self.labels)
        weights = (
            class_weights(labels, self.levels, cfg.weight_scheme) if cfg.class_weights else None
        )
        loss_value, acc, epoch = float("nan"), float("nan"), 0
        for epoch in range(1, epochs + 1):
            # every member shuffles the labelled set its own way (ensemble diversity)
            member_batches = [self._epoch_batches(labels) for _ in range(model.n_members)]
            losses, correct, seen = [], 0, 0
            for step in range(len(member_batches[0])):
                loss = torch.zeros(())
                for m, batches in enumerate(member_batches):
                    b = batches[step]
                    if len(b) < 2:
                        continue  # min-max normalisation needs two returns
                    y = torch.from_numpy(labels[b])
                    w = None if weights is None else torch.from_numpy(weights[labels[b]]).float()
                    returns = segment_returns(model, m, [self.segments[i] for i in b])
                    logits = rbrl_logits(returns, y, self.levels, cfg.k)
                    loss = loss + self._loss(logits, y, w)
                    correct += int((logits.argmax(-1) == y).sum())
                    seen += len(b)
                if not loss.requires_grad:
                    continue
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item() / model.n_members)
            if losses:
                loss_value, acc = float(np.mean(losses)), correct / seen
            if cfg.stop_accuracy is not None and epoch >= 2 and acc > cfg.stop_accuracy:
                break
        return loss_value, acc, epoch

    def _loss(self, logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        cfg = self.config
        if cfg.loss == "mae":
            return mae_loss(logits, y, w, average_classes=cfg.mae_reduction == "reference")
        if cfg.loss == "label_smoothing":
            return ce_loss(logits, y, w if cfg.smoothing_weights else None, cfg.label_smoothing)
        return ce_loss(logits, y, w)

    # --- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            **self.learned_state(),
            "segments": list(self.segments),
            "indices": list(self.indices),
            "labels": list(self.labels),
            "levels": self.levels,
            "sessions": self.sessions,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.segments, self.labels = list(state["segments"]), list(state["labels"])
        self.indices = list(state.get("indices", []))
        self.levels = int(state.get("levels", self.levels))
        self.sessions = int(state["sessions"])
        example = self.segments[0][0] if self.segments else None
        self.load_learned_state(state, example)


@dataclass
class RbRLConfig(RatingConfig):
    """Vanilla RbRL: cross-entropy, uniform batches, no class weights."""

    loss: Literal["mae", "ce", "label_smoothing"] = "ce"
    sampling: Literal["stratified", "uniform"] = "uniform"
    class_weights: bool = False


class RbRL(ERLVLM):
    """RbRL (White et al., AAAI 2024): ratings with cross-entropy and uniform batches."""

    name = "rbrl"
    Config = RbRLConfig
