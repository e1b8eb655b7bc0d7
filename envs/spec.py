"""The task contract every environment family implements.

A `TaskSpec` is everything a run needs to know about a task without importing its simulator;
`make_env(seed)` builds the simulator lazily, so listing tasks never pulls in MuJoCo or THOR.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

#: Keys of `info` that only the runner, evaluation and the scripted teacher may read.
PRIVILEGED_INFO_KEYS: tuple[str, ...] = ("success", "gt_reward", "progress")


class EnvCapabilities:
    """Capabilities an env declares, with a simulator's defaults; loops read them, never probe.

    Every env of the suite inherits this (before `gym.Env`); a robot overrides what differs.
    """

    #: `info` carries the simulator's privileged state (success, progress, dense reward), which
    #: the scripted teacher rates from; False on a real robot
    has_privileged_state: bool = True
    #: the physical hardware the env drives; two envs with the same value share one machine, so
    #: an evaluation must not reset it mid-episode (None: a simulator, nothing shared)
    shared_hardware: str | None = None
    #: how the observation vector splits into a global block and slot sets (IQL's SlotNet reads
    #: it; envs.alfred.observation.STRUCTURE), or None for a flat vector
    obs_structure: dict[str, Any] | None = None

    def end_of_run(self, snapshots: np.ndarray) -> None:  # noqa: B027 - a hook; default: no-op
        """Called once after a run's last step, with the snapshots the run stored, before close."""


@runtime_checkable
class FrameEnv(Protocol):
    """What the suite needs from an env beyond gymnasium's API (plus `EnvCapabilities`).

    Frames are rendered on demand: the policy runs on state, the reward model on small frames,
    and the oracle on large frames re-rendered from a stored snapshot only for queried states.
    """

    has_privileged_state: bool
    shared_hardware: str | None
    obs_structure: dict[str, Any] | None

    def end_of_run(self, snapshots: np.ndarray) -> None: ...

    def render_frame(self, size: int) -> np.ndarray:
        """Current state as an RGB uint8 array of shape (size, size, 3)."""
        ...

    def snapshot(self) -> np.ndarray:
        """A flat float64 vector from which `render_snapshot` can redraw this exact state."""
        ...

    def render_snapshot(self, snapshot: np.ndarray, size: int) -> np.ndarray:
        """Draw a stored snapshot without disturbing the running episode."""
        ...


@dataclass(frozen=True)
class TaskSpec:
    """A named task: its VLM instruction, rating levels, frame settings and env factory.

    `make_env(seed)` returns a gymnasium Env that also satisfies `FrameEnv`; every `step`
    fills `info["success"]` (bool), `info["gt_reward"]` (float) and `info["progress"]`
    (float in [0, 1]); those keys are privileged (see PRIVILEGED_INFO_KEYS).
    """

    name: str
    suite: str
    instruction: str
    levels: int
    max_episode_steps: int
    make_env: Callable[[int], gym.Env]
    action_kind: Literal["continuous", "discrete"] = "continuous"
    #: side of the square frames the reward model sees
    reward_frame_size: int = 64
    #: side of the square frames sent to the oracle (the VLM)
    oracle_frame_size: int = 224
    #: camera name or settings, recorded in results so frames are reproducible
    camera: dict[str, Any] = field(default_factory=dict)
    #: MetaWorld rates single states (1); ALFRED rates whole trajectories (0 = whole episode)
    segment_length: int = 1
    #: a sentence describing the goal state, for CLIP-style rewards
    goal_text: str = ""
    #: default accuracy of the scripted teacher on this task (paper, Table/rebuttal)
    teacher_accuracy: float = 0.7
    #: optional scripted expert: make_expert(env) -> callable(obs, info) -> action
    make_expert: Callable[[gym.Env], Callable[..., Any]] | None = None
    #: which backend implements the task (e.g. "mujoco", "twin", "thor", "zmq")
    backend: str = ""
    description: str = ""
    #: offline tasks: default mix of logged episodes by source (benchmark/loops/offline_data.py SOURCES
    #: -> share); None = that module's DEFAULT_MIX. A budget's `offline_mix` overrides it.
    offline_mix: dict[str, float] | None = None

    def make(self, seed: int, max_episode_steps: int | None = None) -> gym.Env:
        """`make_env(seed)` under gymnasium's `TimeLimit`: the one place a run caps its episodes.

        The cap is `max_episode_steps` (a budget's) where it is shorter than the task's own.
        The env's own methods (`render_frame`, `snapshot`, capabilities) are on `.unwrapped`.
        """
        cap = min(self.max_episode_steps, max_episode_steps or self.max_episode_steps)
        return gym.wrappers.TimeLimit(self.make_env(seed), max_episode_steps=cap)

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description recorded in every run's resolved config."""
        return {
            "name": self.name,
            "suite": self.suite,
            "instruction": self.instruction,
            "levels": self.levels,
            "max_episode_steps": self.max_episode_steps,
            "action_kind": self.action_kind,
            "reward_frame_size": self.reward_frame_size,
            "oracle_frame_size": self.oracle_frame_size,
            "camera": dict(self.camera),
            "segment_length": self.segment_length,
            "goal_text": self.goal_text or self.instruction,
            "teacher_accuracy": self.teacher_accuracy,
            "backend": self.backend,
        }
