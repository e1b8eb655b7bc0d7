"""The scripted teacher: an offline stand-in for a VLM, calibrated to the paper's accuracies.

It rates from privileged task progress (passed as `context`, never seen by a method): progress
is binned into the requested levels (success is always the top level), then a noise model
errs. The default profile, `ordinal`, errs with probability 1 - accuracy, mostly to an adjacent
level, optionally biased up or down; the other profiles (`oracle_cache.teachers`: oracle,
symmetric, systematic, vlm-like, skip) make other kinds of error, chosen with `profile=`. The
noise is drawn from the query's content (or a field over the view), so the same frames get the
same answer, like a VLM at temperature 0. Its answers say that they are scripted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from oracle_cache.fields import uniform_field
from oracle_cache.keys import frame_digest
from oracle_cache.teachers import (
    DEFAULT_LENGTHSCALE,
    DEFAULT_VIEW_SHARE,
    UNANSWERED,
    destinations,
    field_point,
    get_profile,
    pair_point,
    pick,
)
from oracle_cache.types import NO_PREFERENCE, OracleError, Preference, Rating

#: options every profile takes (the ones it has no use for are simply not in its identity)
_COMMON_OPTIONS = ("no_preference_band", "seed", "profile")

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


def _check_options(profile: str, given: Mapping[str, bool]) -> None:
    """One clear line for an option the chosen profile has no use for."""
    allowed = set(get_profile(profile).options) | set(_COMMON_OPTIONS)
    extra = sorted(k for k, v in given.items() if v and k not in allowed)
    if extra:
        hint = " (it takes rate = 1 - accuracy)" if "accuracy" in extra else ""
        raise ValueError(
            f"teacher profile {profile!r} does not use {', '.join(extra)}{hint}; it takes "
            f"{', '.join(get_profile(profile).options)}"
        )


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
        profile: str = "ordinal",
        rate: float | None = None,
        lengthscale: float | None = None,
        base: str | None = None,
        view_share: float | None = None,
    ) -> None:
        given = {
            "accuracy": accuracy is not None,
            "task_accuracy": task_accuracy is not None,
            "bias": bias != 0.0,
            "decay": decay != 1.5,
            "rate": rate is not None,
            "lengthscale": lengthscale is not None,
            "base": base is not None,
            "view_share": view_share is not None,
        }
        _check_options(profile, given)
        self.profile = profile
        self.noise_rate = self._check_rate(profile, rate, accuracy, task_accuracy)
        if profile == "ordinal" and rate is not None:
            accuracy = 1.0 - rate  # so a noise sweep can name every profile alike
        if lengthscale is not None and not lengthscale > 0:
            raise ValueError(f"lengthscale must be > 0, got {lengthscale}")
        self.lengthscale = lengthscale or DEFAULT_LENGTHSCALE
        if view_share is not None and not 0.0 <= view_share <= 1.0:
            raise ValueError(f"view_share must be in [0, 1], got {view_share}")
        self.view_share = DEFAULT_VIEW_SHARE if view_share is None else float(view_share)
        self._inner: ScriptedTeacher | None = None
        self.base = base or "oracle" if profile == "skip" else None
        if profile == "skip":
            base = self.base
            if base == "skip":
                raise ValueError("skip's base must be another profile (e.g. base=vlm-like)")
            get_profile(base)
            self._inner = ScriptedTeacher(
                no_preference_band=no_preference_band, seed=seed, profile=base
            )
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

    @staticmethod
    def _check_rate(
        profile: str,
        rate: float | None,
        accuracy: float | None,
        task_accuracy: Mapping[str, float] | None,
    ) -> float | None:
        try:
            rate = None if rate is None else float(rate)
        except (TypeError, ValueError):
            raise ValueError(f"rate must be a number in [0, 1], got {rate!r}") from None
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1] (share of wrong answers), got {rate}")
        if profile == "skip" and rate is None:
            raise ValueError(
                "profile 'skip' needs rate=<share of queries left unanswered, 0..1>: no "
                "published figure sets it"
            )
        if rate is not None and (accuracy is not None or task_accuracy is not None):
            raise ValueError("give rate or accuracy/task_accuracy, not both (rate overrides them)")
        return rate

    # --- identity (part of every cache key) ----------------------------------------------------
    def profile_params(self) -> dict[str, Any]:
        """What defines a non-ordinal profile's answers; only what it reads, so keys are stable."""
        spec = get_profile(self.profile)
        out: dict[str, Any] = {"profile": self.profile}
        if "rate" in spec.options:
            out["rate"] = self.noise_rate
        if "task_accuracy" in spec.options and self.noise_rate is None:
            out["task_accuracy"] = dict(sorted(self.task_accuracy.items()))
        if "lengthscale" in spec.options:
            out["lengthscale"] = self.lengthscale
        if "view_share" in spec.options:
            out["view_share"] = self.view_share
        if self._inner is not None:
            inner = self._inner.identity()["params"]
            out["base"] = inner if "profile" in inner else {"profile": "ordinal", **inner}
        out["no_preference_band"] = self.no_preference_band
        if spec.placement != "none":
            out["seed"] = self.seed
        return out

    def identity(self) -> dict[str, Any]:
        if self.profile != "ordinal":
            return {
                "provider": "scripted",
                "model": "scripted-teacher",
                "params": self.profile_params(),
            }
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
        if self.noise_rate is not None:
            return 1.0 - self.noise_rate
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
        if self.profile != "ordinal":
            return self._rate_profile(frames, instruction, levels, context)
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
        if self.profile != "ordinal":
            return self._prefer_profile(frames_a, frames_b, instruction, context)
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

    # --- the other profiles (oracle_cache.teachers) --------------------------------------------
    def _skipped(
        self, groups: Sequence[Sequence[np.ndarray]], instruction: str, extra: str
    ) -> bool:
        """skip's own draw, apart from the base's, so answered queries get the base's answer."""
        return self._rng("skip", groups, instruction, extra).random() < float(self.noise_rate or 0)

    def _draws(
        self,
        kind: str,
        groups: Sequence[Sequence[np.ndarray]],
        instruction: str,
        extra: str,
        points: Callable[[], tuple[list[float], str]],
    ) -> tuple[float, float, str]:
        """(u_error, u_where, placed_by): two uniforms that place and direct an error.

        Independent placement draws them from the frames; view placement reads two smooth
        fields at the state's view (`points`); vlm-like does the latter for a `view_share` of
        its queries, chosen per frame. Either way each is uniform, so the error rate is exact.
        """
        rng = self._rng(kind, groups, instruction, extra)
        placement = get_profile(self.profile).placement
        share = self.view_share if self.profile == "vlm-like" else 1.0
        if placement == "independent" or (placement == "view" and share < 1.0):
            u_err, u_where = float(rng.random()), float(rng.random())
            if placement == "independent" or rng.random() >= share:
                return u_err, u_where, "frames"
        point, placed_by = points()
        key = f"{self.seed}|{instruction}|{kind}"
        u_err = uniform_field(point, f"{key}-error")
        return u_err, uniform_field(point, f"{key}-where"), placed_by

    def _rate_profile(
        self,
        frames: Sequence[np.ndarray],
        instruction: str,
        levels: int,
        context: Mapping[str, Any] | None,
    ) -> Rating:
        ctx = self._require(context, "progress")
        level = true_level(ctx["progress"], bool(ctx.get("success", False)), levels)
        if self._inner is not None:  # skip
            if self._skipped([frames], instruction, str(levels)):
                return Rating(
                    level=UNANSWERED,
                    analysis="[scripted teacher, not a VLM; profile skip] no usable answer",
                    meta={"provider": "scripted", "profile": "skip", "unanswered": True},
                )
            r = self._inner.rate(frames, instruction, levels, ctx)
            return Rating(r.level, r.analysis, {**r.meta, "profile": "skip"})
        acc, answer, placed_by = 1.0, level, "none"
        if self.profile != "oracle" and levels >= 2:
            acc = self.accuracy_for(ctx)
            u_err, u_where, placed_by = self._draws(
                "rate",
                [frames],
                instruction,
                str(levels),
                lambda: field_point(ctx, self.lengthscale),
            )
            if u_err >= acc:
                answer = pick(destinations(self.profile, level, levels), u_where)
        return Rating(
            level=answer,
            analysis=(
                f"[scripted teacher, not a VLM; profile {self.profile}] progress "
                f"{float(ctx['progress']):.2f} -> level {level} of {levels}; answered {answer} "
                f"(accuracy {acc:.3f})"
            ),
            meta={
                "provider": "scripted",
                "profile": self.profile,
                "true_level": level,
                "accuracy": acc,
                "placed_by": placed_by,
            },
        )

    def _prefer_profile(
        self,
        frames_a: Sequence[np.ndarray],
        frames_b: Sequence[np.ndarray],
        instruction: str,
        context: Mapping[str, Any] | None,
    ) -> Preference:
        ctx = self._require(context, "a", "b")
        if self._inner is not None:  # skip
            if self._skipped([frames_a, frames_b], instruction, ""):
                return Preference(
                    label=NO_PREFERENCE,
                    analysis="[scripted teacher, not a VLM; profile skip] no usable answer",
                    meta={"provider": "scripted", "profile": "skip", "unanswered": True},
                )
            p = self._inner.prefer(frames_a, frames_b, instruction, ctx)
            return Preference(p.label, p.analysis, {**p.meta, "profile": "skip"})
        a, b = ctx["a"], ctx["b"]
        pa = 1.0 if a.get("success") else float(a["progress"])
        pb = 1.0 if b.get("success") else float(b["progress"])
        acc = self.accuracy_for(ctx) if self.profile != "oracle" else 1.0
        if abs(pa - pb) < self.no_preference_band:
            label = truth = NO_PREFERENCE
        else:
            truth = label = 0 if pa > pb else 1
            if self.profile != "oracle":
                u_err, _, _ = self._draws(
                    "prefer",
                    [frames_a, frames_b],
                    instruction,
                    "",
                    lambda: pair_point(a, b, self.lengthscale),
                )
                label = truth if u_err < acc else 1 - truth
        return Preference(
            label=label,
            analysis=(
                f"[scripted teacher, not a VLM; profile {self.profile}] progress a={pa:.2f} "
                f"b={pb:.2f}; answered {label} (accuracy {acc:.3f})"
            ),
            meta={
                "provider": "scripted",
                "profile": self.profile,
                "true_label": truth,
                "accuracy": acc,
            },
        )
