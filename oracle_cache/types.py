"""The oracle contract: what a VLM (or the scripted teacher) answers, and how it is asked.

`oracle_cache` knows frames, text and an optional privileged `context`; it never imports an
environment. `context` feeds the scripted teacher only and is never part of a cache key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

#: Preference labels, as in RL-VLM-F: 0 = first better, 1 = second better, -1 = no preference.
PREFER_FIRST, PREFER_SECOND, NO_PREFERENCE = 0, 1, -1


@dataclass(frozen=True)
class Rating:
    """An absolute rating: `level` in 0..levels-1, 0 the worst (e.g. Bad < Average < Good)."""

    level: int
    analysis: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Preference:
    """Which of two clips better achieves the instruction (PREFER_FIRST/SECOND/NO_PREFERENCE)."""

    label: int
    analysis: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RateQuery:
    """One rating request: frames of a state (1 frame) or a trajectory (several frames).

    context (privileged, not hashed): {"task": str, "progress": float in [0,1], "success": bool}.
    """

    frames: Sequence[np.ndarray]
    instruction: str
    levels: int
    context: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PreferQuery:
    """One preference request. context (privileged): {"task": str, "a": {...}, "b": {...}}."""

    frames_a: Sequence[np.ndarray]
    frames_b: Sequence[np.ndarray]
    instruction: str
    context: Mapping[str, Any] | None = None


@runtime_checkable
class Oracle(Protocol):
    """Anything that can rate and compare frames. `name` identifies the provider in results."""

    name: str

    def rate(
        self,
        frames: Sequence[np.ndarray],
        instruction: str,
        levels: int,
        context: Mapping[str, Any] | None = None,
    ) -> Rating: ...

    def prefer(
        self,
        frames_a: Sequence[np.ndarray],
        frames_b: Sequence[np.ndarray],
        instruction: str,
        context: Mapping[str, Any] | None = None,
    ) -> Preference: ...


@runtime_checkable
class Provider(Oracle, Protocol):
    """What `CachedOracle` wraps: an oracle that also says who it is and what it is asked.

    `identity()` and `prompt(...)` (with `prompt_version`) go into every cache key, so a
    replayed answer is only ever the answer to the same question from the same model.
    """

    prompt_version: str

    def identity(self) -> dict[str, Any]:
        """Provider, model and sampling parameters: the answer-determining settings."""
        ...

    def prompt(self, kind: str, instruction: str, levels: int | None, n_frames: int = 1) -> str:
        """The full prompt text of a `kind` ("rate" | "prefer") query over `n_frames` frames."""
        ...


class OracleError(RuntimeError):
    """A provider failed for good (after retries), or answered something unusable."""


class CacheMiss(LookupError):
    """Replay mode asked for a rating the cache does not hold; the message says how to record it."""

    def __str__(self) -> str:
        return str(self.args[0])
