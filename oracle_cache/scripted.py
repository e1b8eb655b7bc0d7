"""The scripted teacher: an offline stand-in for a VLM, calibrated to the paper's accuracies.

It rates from privileged task progress (passed as `context`, never seen by a method): progress
is binned into the requested levels (success is always the top level), then an ordinal noise
model errs with probability 1 - accuracy, mostly to an adjacent level, optionally biased up or
down. The noise is drawn from a generator seeded by the query's content, so the same frames
get the same answer, like a VLM at temperature 0. Its answers say that they are scripted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from oracle_cache.keys import frame_digest
from oracle_cache.types import NO_PREFERENCE, OracleError, Preference, Rating

#: measured VLM (Gemini) rating accuracy in the ERL-VLM paper; 0.7 is its overall figure
PAPER_ACCURACY: dict[str, float] = {
    "metaworld/sweep-into": 0.90,
    "metaworld/drawer-open": 0.65,
    "metaworld/soccer": 0.668,
}
DEFAULT_ACCURACY = 0.7


def true_levels(progress: np.ndarray, success: np.ndarray, levels: int) -> np.ndarray:
    """Equal-width bins of progress in [0, 1]; success is always the best level.

    Array form, so the runners' reward-alignment metric bins whole buffers with the very rule
    the teacher rates by.
    """
    lv = np.clip(np.floor(np.asarray(progress, float) * levels), 0, levels - 1).astype(np.int64)
    return np.where(np.asarray(success, bool), levels - 1, lv)


def true_level(progress: float, success: bool, levels: int) -> int:
    """The level of one state (see `true_levels`)."""
    return int(true_levels(progress, success, levels))


class ScriptedTeacher:
    """Deterministic, calibrated, privileged-progress teacher (BPref-style)."""

    name = "scripted"
    prompt_version = "scripted-v1"

    def __init__(
        self,
        accuracy: float | None = None,
        task_accuracy: Mapping[str, float] | None = None,
        bias: float = 0.0,
        decay: float = 1.5,
        no_preference_band: float = 0.02,
        seed: int = 0,
    ) -> None:
        if accuracy is not None and not 0.0 <= accuracy <= 1.0:
            raise ValueError(f"accuracy must be in [0, 1], got {accuracy}")
        if not -1.0 <= bias <= 1.0:
            raise ValueError(
                f"bias must be in [-1, 1] (share of errors pushed up vs down), got {bias}"
            )
        self.accuracy = accuracy
        self.task_accuracy = {**PAPER_ACCURACY, **(task_accuracy or {})}
        self.bias = bias
        self.decay = decay
        self.no_preference_band = no_preference_band
        self.seed = seed

    # --- identity (part of every cache key) ----------------------------------------------------
    def identity(self) -> dict[str, Any]:
        return {
            "provider": "scripted",
            "model": "scripted-teacher",
            "params": {
                "accuracy": self.accuracy,
                "task_accuracy": dict(sorted(self.task_accuracy.items())),
                "bias": self.bias,
                "decay": self.decay,
                "no_preference_band": self.no_preference_band,
                "seed": self.seed,
            },
        }

    def prompt(self, kind: str, instruction: str, levels: int | None, n_frames: int = 1) -> str:
        """The teacher has no prompt; this stands in for one in its keys (frames are hashed)."""
        return f"{kind}|{instruction}|levels={levels}"

    # --- helpers ------------------------------------------------------------------------------
    def accuracy_for(self, context: Mapping[str, Any] | None) -> float:
        if self.accuracy is not None:
            return self.accuracy
        task = (context or {}).get("task", "")
        if task not in self.task_accuracy:  # 'suite/task@layout': same task, another scene
            task = task.split("@", 1)[0]
        return self.task_accuracy.get(task, DEFAULT_ACCURACY)

    def _rng(
        self, kind: str, frames: Sequence[Sequence[np.ndarray]], instruction: str, extra: str
    ) -> np.random.Generator:
        h = hashlib.sha256(f"{kind}|{instruction}|{extra}|{self.seed}".encode())
        for group in frames:
            for f in group:
                h.update(frame_digest(f).encode())
        return np.random.default_rng(int.from_bytes(h.digest()[:8], "little"))

    @staticmethod
    def _require(context: Mapping[str, Any] | None, *keys: str) -> Mapping[str, Any]:
        if context is None or any(k not in context for k in keys):
            raise OracleError(
                f"the scripted teacher needs privileged context with {keys}; the runner's "
                "feedback gate supplies it (it cannot rate frames alone)"
            )
        return context

    def noisy_level(
        self, level: int, levels: int, accuracy: float, rng: np.random.Generator
    ) -> int:
        """With prob. `accuracy` the true level, else another one, nearer levels likelier."""
        if levels < 2 or rng.random() < accuracy:
            return level
        others = np.array([j for j in range(levels) if j != level])
        dist = np.abs(others - level)
        w = np.exp(-self.decay * (dist - 1)) * np.where(
            others > level, 1 + self.bias, 1 - self.bias
        )
        if w.sum() <= 0:
            return level
        return int(rng.choice(others, p=w / w.sum()))

    # --- the Oracle protocol ------------------------------------------------------------------
    def rate(
        self,
        frames: Sequence[np.ndarray],
        instruction: str,
        levels: int,
        context: Mapping[str, Any] | None = None,
    ) -> Rating:
        ctx = self._require(context, "progress")
        level = true_level(ctx["progress"], bool(ctx.get("success", False)), levels)
        acc = self.accuracy_for(ctx)
        answer = self.noisy_level(
            level, levels, acc, self._rng("rate", [frames], instruction, str(levels))
        )
        return Rating(
            level=answer,
            analysis=(
                f"[scripted teacher, not a VLM] progress {float(ctx['progress']):.2f} -> "
                f"level {level} of {levels}; answered {answer} (accuracy {acc:.3f})"
            ),
            meta={"provider": "scripted", "true_level": level, "accuracy": acc},
        )

    def prefer(
        self,
        frames_a: Sequence[np.ndarray],
        frames_b: Sequence[np.ndarray],
        instruction: str,
        context: Mapping[str, Any] | None = None,
    ) -> Preference:
        ctx = self._require(context, "a", "b")
        pa, pb = float(ctx["a"]["progress"]), float(ctx["b"]["progress"])
        pa = 1.0 if ctx["a"].get("success") else pa
        pb = 1.0 if ctx["b"].get("success") else pb
        acc = self.accuracy_for(ctx)
        if abs(pa - pb) < self.no_preference_band:
            label, truth = NO_PREFERENCE, NO_PREFERENCE
        else:
            truth = 0 if pa > pb else 1
            rng = self._rng("prefer", [frames_a, frames_b], instruction, "")
            label = truth if rng.random() < acc else 1 - truth
        return Preference(
            label=label,
            analysis=(
                f"[scripted teacher, not a VLM] progress a={pa:.2f} b={pb:.2f}; "
                f"answered {label} (accuracy {acc:.3f})"
            ),
            meta={"provider": "scripted", "true_label": truth, "accuracy": acc},
        )
