"""The reward-method plug-in contract.

A method turns oracle feedback into a reward function. It never sees privileged data: it picks
*which* buffer indices to ask about, and the runner's `Feedback` renders the oracle-resolution
frames from stored snapshots, attaches the privileged context for the scripted teacher, and
counts the queries. A new method is one subclass, named as "package.module:Class", or given a
name by one line in `registry.BUILTIN` (or an entry point in the `vlmbench.methods` group).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from envs.spec import TaskSpec
from oracle_cache.types import Preference, Rating


class BufferView(Protocol):
    """What a method may read from the replay buffer (no rewards, no privileged columns)."""

    @property
    def size(self) -> int: ...

    def frames(self, idx: np.ndarray) -> np.ndarray:
        """Reward-resolution frames, uint8 [len(idx), H, W, 3]."""
        ...

    def observations(self, idx: np.ndarray) -> np.ndarray:
        """Policy observations, float32 [len(idx), obs_dim]."""
        ...

    def episode_ids(self) -> np.ndarray:
        """Episode number of every stored transition, int64 [size]."""
        ...

    def segments(self, length: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
        """`count` random runs of consecutive indices inside one episode; length 0 = whole episode."""
        ...


class Feedback(Protocol):
    """The runner's gate to the oracle: frames rendered at oracle size, privileged context attached."""

    instruction: str
    levels: int

    @property
    def budget_left(self) -> int:
        """Queries this run may still make."""
        ...

    def rate(self, segments: Sequence[np.ndarray]) -> list[Rating]:
        """Rate each segment (an array of buffer indices; length 1 = a single state)."""
        ...

    def prefer(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[Preference]:
        """Compare two segments each; label 0 = first better, 1 = second, -1 = no preference."""
        ...


@dataclass
class MethodConfig:
    """Base class of every method's hyper-parameters; subclasses add fields with paper defaults."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None) -> MethodConfig:
        """Build from defaults plus overrides; an unknown key is an error that lists the valid ones."""
        overrides = dict(overrides or {})
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - valid)
        if unknown:
            raise ValueError(
                f"Unknown option(s) {unknown} for {cls.__qualname__}; valid: {sorted(valid)}"
            )
        return cls(**overrides)


class RewardMethod(ABC):
    """A source of rewards for the agent.

    Life cycle, driven by the runner: `observe` after every environment step (optional),
    `query_and_update` at each feedback session, `reward` whenever the agent's rewards are
    (re)labelled. `env_reward` lets the reference methods (gt-reward, sparse) take the
    environment's reward through the runner instead of learning one.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[MethodConfig]] = MethodConfig
    #: "rate" or "prefer": which oracle query the method uses; None = asks nothing
    query_kind: ClassVar[Literal["rate", "prefer"] | None] = None
    #: "dense" / "sparse": the runner supplies the env reward (privileged) instead of `reward`
    env_reward: ClassVar[Literal["dense", "sparse"] | None] = None
    #: whether `reward` reads frames (the buffer then keeps reward-resolution frames)
    needs_frames: ClassVar[bool] = True

    def __init__(self, task: TaskSpec, config: MethodConfig, seed: int) -> None:
        self.task = task
        self.config = config
        self.seed = seed

    def observe(self, obs: np.ndarray, frame: np.ndarray | None) -> None:  # noqa: B027
        """Called after each environment step; most methods need nothing here."""

    @abstractmethod
    def reward(self, frames: np.ndarray, observations: np.ndarray) -> np.ndarray:
        """Rewards, float32 [N], for frames uint8 [N,H,W,3] and observations [N, obs_dim]."""

    def query_and_update(
        self, buffer: BufferView, feedback: Feedback, num_queries: int
    ) -> dict[str, float]:
        """One feedback session: ask up to `num_queries` queries, train, return scalar stats."""
        return {}

    @property
    def is_ready(self) -> bool:
        """False until the method can give a meaningful reward (e.g. before the first session)."""
        return True

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume training (checkpoints)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027
        """Restore from `state_dict`."""
