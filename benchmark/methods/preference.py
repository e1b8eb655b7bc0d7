"""RL-VLM-F (Wang et al., ICML 2024): reward learning from pairwise VLM preferences.

Each session samples pairs of segments, asks which better achieves the goal, drops "no
preference" answers (-1), and fits the same reward ensemble with the Bradley-Terry model:
P(b preferred over a) = softmax([R_a, R_b])[1], where R is a segment's predicted return.
Training follows RL-VLM-F's reference code: each member shuffles the pairs its own way, the
members' cross-entropies are summed into one Adam step, batch 64 for the CNN, and a session stops
early once the training accuracy exceeds 0.97.

Reward scale: as for ERL-VLM (see benchmark/methods/rating.py), the relabelling reward is
rescaled so the labelled states span [0, 1]. At 64 px the head has 64x fewer inputs than at the
paper's 224 px, so under Adam the Bradley-Terry fit grows the reward's scale far more slowly
(training loss still ~0.68 = ln 2 after three smoke sessions); the rescaling keeps the two
methods on the same footing. `reward_scale="raw"` restores the reference's output.

Schedule: RL-VLM-F's run.sh (yufeiwang63/RL-VLM-F `run.sh`, the three MetaWorld tasks) runs its
own: 40 queries every 4000 steps up to 20,000, 10 reward epochs, 5 on soccer with reward lr
1e-4, and pairs whose two images are identical are dropped after asking (`reward_model.py`,
`diff < 1e-3`). With the budget's `method_schedule` (the default) the online loop runs that
schedule, scaled as the budget scales the paper's (`follow_reference_schedule`); without it,
ERL-VLM's schedule from the budget and no identical-pair filter (this suite before).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from benchmark.methods.base import BufferView, Feedback, MethodConfig
from benchmark.methods.learned import LearnedReward
from benchmark.methods.reward_model import bradley_terry_loss, segment_returns, uniform_batches
from envs.spec import TaskSpec
from oracle_cache.types import NO_PREFERENCE


@dataclass
class PreferenceConfig(MethodConfig):
    """RL-VLM-F's defaults; the ensemble, learning rate and schedule match ERL-VLM's."""

    #: states per compared segment; None = the task's (MetaWorld 1: single images)
    segment_length: int | None = None
    ensemble: int = 3
    lr: float = 3e-4
    #: reward-training batch (RL-VLM-F's reference: 64 for the CNN)
    batch_size: int = 64
    reward_epochs: int = 10
    #: stop a session early once training accuracy exceeds this; None = never
    stop_accuracy: float | None = 0.97
    inputs: Literal["frames", "state"] = "frames"
    #: "minmax": rewards rescaled so the labelled states span [0, 1] (refitted every session),
    #: as for ERL-VLM, so both see the same reward scale; "raw": the reference's tanh output
    reward_scale: Literal["minmax", "raw"] = "minmax"


class RLVLMF(LearnedReward):
    """RL-VLM-F (Wang et al., ICML 2024): VLM preferences, Bradley-Terry reward model."""

    name = "rl-vlm-f"
    Config = PreferenceConfig
    query_kind = "prefer"
    rng_stream = 11
    #: run.sh's schedule at the paper's scale (num_interact, reward_batch, max_feedback)
    reference_schedule: ClassVar[dict[str, int]] = {
        "feedback_every": 4000,
        "queries_per_session": 40,
        "max_queries": 20_000,
    }

    def __init__(self, task: TaskSpec, config: PreferenceConfig, seed: int) -> None:
        super().__init__(task, config, seed)
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []  # copies of both segments' inputs
        self.labels: list[int] = []
        self.asked = 0
        #: drop pairs whose two inputs are identical (set by `follow_reference_schedule`)
        self.drop_identical = False

    def follow_reference_schedule(self, explicit: set[str]) -> dict[str, int]:
        """Take run.sh's settings (options in `explicit` were set by the user and are kept);
        returns its schedule at the paper's scale, which the loop scales to the budget."""
        self.drop_identical = True
        if self.task.name.split("@")[0].endswith("/soccer"):  # run.sh: reward_update=5, 1e-4
            if "reward_epochs" not in explicit:
                self.config.reward_epochs = max(1, round(self.config.reward_epochs / 2))
            if "lr" not in explicit:
                self.config.lr = 1e-4
        return dict(self.reference_schedule)

    @property
    def is_ready(self) -> bool:
        return self.model is not None

    def query_and_update(
        self, buffer: BufferView, feedback: Feedback, num_queries: int
    ) -> dict[str, float]:
        """Ask `num_queries` pairs; returns loss, reward_acc, epochs, labels, asked, dropped."""
        a = buffer.segments(self.segment_length, num_queries, self.rng)
        b = buffer.segments(self.segment_length, num_queries, self.rng)
        answers = feedback.prefer(list(zip(a, b, strict=True)))
        self.asked += len(answers)
        for seg_a, seg_b, answer in zip(a, b, answers, strict=True):
            if answer.label == NO_PREFERENCE:
                continue  # RL-VLM-F drops "no preference" answers
            pair = (self.inputs_of(buffer, seg_a), self.inputs_of(buffer, seg_b))
            if self.drop_identical and np.array_equal(*pair):
                continue  # and pairs of identical images
            self.pairs.append(pair)
            self.labels.append(int(answer.label))
        stats = {
            "labels": float(len(self.labels)),
            "asked": float(self.asked),
            "dropped": float(self.asked - len(self.labels)),
        }
        if not self.pairs:
            return {"loss": float("nan"), **stats}
        if self.model is None:
            self.build(self.pairs[0][0][0])
        loss, acc, epochs = self.train(self.config.reward_epochs)
        self.rescale([seg for pair in self.pairs for seg in pair])
        return {"loss": loss, "reward_acc": acc, "epochs": float(epochs), **stats}

    def train(self, epochs: int) -> tuple[float, float, int]:
        """Up to `epochs` passes over the pairs; returns (loss, accuracy, epochs run)."""
        model, opt = self.model, self.opt
        labels = np.asarray(self.labels)
        loss_value, acc, ran = float("nan"), float("nan"), 0
        for _ in range(epochs):
            ran += 1
            member_batches = [
                uniform_batches(len(labels), self.config.batch_size, self.rng)
                for _ in range(model.n_members)
            ]
            losses, correct, seen = [], 0, 0
            for step in range(len(member_batches[0])):
                loss = torch.zeros(())
                for m, batches in enumerate(member_batches):
                    b = batches[step]
                    y = torch.from_numpy(labels[b])
                    r_a = segment_returns(model, m, [self.pairs[i][0] for i in b])
                    r_b = segment_returns(model, m, [self.pairs[i][1] for i in b])
                    loss = loss + bradley_terry_loss(r_a, r_b, y)
                    correct += int(((r_b > r_a).long() == y).sum())
                    seen += len(b)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item() / model.n_members)
            loss_value, acc = float(np.mean(losses)), correct / seen
            if self.config.stop_accuracy is not None and acc > self.config.stop_accuracy:
                break
        return loss_value, acc, ran

    def state_dict(self) -> dict[str, Any]:
        return {
            **self.learned_state(),
            "pairs": list(self.pairs),
            "labels": list(self.labels),
            "asked": self.asked,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pairs, self.labels = list(state["pairs"]), list(state["labels"])
        self.asked = int(state["asked"])
        self.load_learned_state(state, self.pairs[0][0][0] if self.pairs else None)
