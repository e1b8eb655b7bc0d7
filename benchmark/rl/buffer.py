"""Replay buffer that keeps what each party may see apart.

The agent samples (obs, action, learned reward, next_obs); the reward method reads frames and
observations through the `BufferView` methods; privileged columns (env reward, success,
progress) and simulator snapshots are only read by the runner's `RunnerFeedback` and by the
reference methods' relabelling. Frames are stored at reward-model resolution (64 px: 12 KB a
step); oracle-resolution frames are re-rendered from snapshots for the few queried states.

With `query_pool` > 0, single states offered to a method (`segments(1, ...)`) come from the
reference code's pool (query_pool.py): the last `query_pool` finished episodes, one state per
episode, never an episode's last step. The loop says when an episode is over (`end_episode`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import torch

from benchmark.inputs import InputError
from benchmark.rl.query_pool import pool_states

log = logging.getLogger(__name__)

#: a frame buffer above this share of the machine's memory is refused before the run starts
MAX_FRAME_SHARE = 0.8
#: and one above this many bytes gets a warning (it is also in every checkpoint)
WARN_FRAME_BYTES = 2**30


def physical_memory() -> int | None:
    """Bytes of RAM on this machine (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_frame_memory(
    capacity: int, frame_shape: tuple[int, int, int] | None, total: int | None = None
) -> int:
    """Bytes the frame column will fill once the buffer is full; refuses a run whose frames
    cannot fit in memory, and warns when they are large.

    numpy's zeros are only committed as they are written, so a too-large buffer used to start
    fine and fail (or swap) hours later, and its checkpoints grew as large. A 224-px frame is
    150 KB: 50k of them (`short` with `@reward_frame_size=224`) are 7.5 GB."""
    if not frame_shape:
        return 0
    need = capacity * int(np.prod(frame_shape))
    total = physical_memory() if total is None else total
    gib = need / 2**30
    side = frame_shape[0]
    if total and need > MAX_FRAME_SHARE * total:
        raise InputError(
            f"the replay buffer's {side}-px frames need {gib:.1f} GiB at capacity {capacity}, "
            f"more than {MAX_FRAME_SHARE:.0%} of this machine's {total / 2**30:.1f} GiB: lower "
            "--budget-opt replay_capacity or total_steps, or use smaller reward frames "
            "(task suffix @reward_frame_size=64)"
        )
    if need > WARN_FRAME_BYTES:
        log.warning(
            "the replay buffer's %d-px frames will fill %.1f GiB (capacity %d); every "
            "checkpoint holds them too",
            side,
            gib,
            capacity,
        )
    return need


class ReplayBuffer:
    def __init__(
        self,
        capacity: int,
        obs_dim: int,
        act_dim: int,
        frame_shape: tuple[int, int, int] | None,
        snapshot_dim: int,
        discrete: bool = False,
        query_pool: int = 0,
    ) -> None:
        self.capacity = capacity
        #: finished episodes single-state queries are drawn from; 0 = the whole buffer
        self.query_pool = query_pool
        #: the newest finished episode (-1: none yet)
        self.last_finished = -1
        self.overwrote = False
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros((capacity, 1 if discrete else act_dim), np.float32)
        self.not_done = np.zeros(capacity, np.float32)
        self.rewards = np.zeros(capacity, np.float32)  # the learned (or reference) reward
        self.episode = np.zeros(capacity, np.int64)
        self.frames_ = np.zeros((capacity, *frame_shape), np.uint8) if frame_shape else None
        self.snapshots = np.zeros((capacity, snapshot_dim), np.float64)
        # privileged: never handed to a method
        self.env_reward = np.zeros(capacity, np.float32)
        self.success = np.zeros(capacity, bool)
        self.progress = np.zeros(capacity, np.float32)
        self.ptr = 0
        self.full = False
        #: index up to which `rewards` reflects the current reward function
        self.labelled = 0

    # --- writing -----------------------------------------------------------------------------
    def add(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        next_obs: np.ndarray,
        terminated: bool,
        episode: int,
        frame: np.ndarray | None,
        snapshot: np.ndarray,
        env_reward: float,
        success: bool,
        progress: float,
    ) -> int:
        i = self.ptr
        self.obs[i] = obs
        self.next_obs[i] = next_obs
        self.actions[i] = action
        self.not_done[i] = 0.0 if terminated else 1.0
        self.episode[i] = episode
        if self.frames_ is not None and frame is not None:
            self.frames_[i] = frame
        self.snapshots[i] = snapshot
        self.env_reward[i] = env_reward
        self.success[i] = success
        self.progress[i] = progress
        #: this transition replaced an older one (the buffer had wrapped)
        self.overwrote = self.full
        self.ptr = (self.ptr + 1) % self.capacity
        self.full = self.full or self.ptr == 0
        return i

    def end_episode(self) -> None:
        """The episode of the last added transition is over (terminated or truncated)."""
        self.last_finished = int(self.episode[(self.ptr - 1) % self.capacity])

    # --- BufferView (what methods may read) ----------------------------------------------------
    @property
    def size(self) -> int:
        return self.capacity if self.full else self.ptr

    def frames(self, idx: np.ndarray) -> np.ndarray:
        if self.frames_ is None:
            raise RuntimeError(
                "this buffer keeps no frames (the method declared needs_frames=False)"
            )
        return self.frames_[idx]

    def observations(self, idx: np.ndarray) -> np.ndarray:
        return self.next_obs[idx]

    def episode_ids(self) -> np.ndarray:
        return self.episode[: self.size]

    def segments(self, length: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
        """Random runs of consecutive indices inside one episode; length 0 = whole episodes."""
        n = self.size
        if n == 0:
            return []
        ep = self.episode[:n]
        if length <= 0:
            # whole episodes; the newest (possibly unfinished) episode is excluded when others exist
            ids = np.unique(ep)
            if len(ids) > 1:
                ids = ids[ids != self.episode[(self.ptr - 1) % self.capacity]]
            chosen = rng.choice(ids, size=count, replace=len(ids) < count)
            return [np.flatnonzero(ep == e) for e in chosen]
        if length == 1 and self.query_pool > 0:
            order = (np.arange(n) - self.ptr) % self.capacity if self.full else np.arange(n)
            return pool_states(ep, order, self.last_finished, self.query_pool, count, rng)
        if length == 1:
            return [np.array([i]) for i in rng.integers(0, n, size=count)]
        out: list[np.ndarray] = []
        while len(out) < count:
            start = int(rng.integers(0, max(1, n - length)))
            seg = np.arange(start, start + length) % self.capacity
            if np.all(ep[seg % n] == ep[start]):
                out.append(seg)
        return out

    # --- for the agent ------------------------------------------------------------------------
    def sample(
        self, batch_size: int, rng: np.random.Generator, upto: int | None = None
    ) -> dict[str, torch.Tensor]:
        """Uniform batch from the first `upto` transitions (default: all stored)."""
        idx = rng.integers(0, self.size if upto is None else max(1, upto), size=batch_size)
        return {
            "obs": torch.from_numpy(self.obs[idx]),
            "action": torch.from_numpy(self.actions[idx]),
            "reward": torch.from_numpy(self.rewards[idx]),
            "next_obs": torch.from_numpy(self.next_obs[idx]),
            "not_done": torch.from_numpy(self.not_done[idx]),
        }

    # --- checkpoints --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        n = self.size
        # tensors over the arrays' memory: torch.save streams tensor storages into its zip file,
        # while numpy arrays would be pickled (one copy for the pickle, another for its buffer:
        # a 50k-step `short` run peaked at 5.2 GB that way)
        arrays = {
            k: torch.from_numpy(getattr(self, k)[:n])
            for k in (
                "obs",
                "next_obs",
                "actions",
                "not_done",
                "rewards",
                "episode",
                "snapshots",
                "env_reward",
                "success",
                "progress",
            )
        }
        if self.frames_ is not None:
            arrays["frames_"] = torch.from_numpy(self.frames_[:n])
        return {
            "arrays": arrays,
            "ptr": self.ptr,
            "full": self.full,
            "labelled": self.labelled,
            "last_finished": self.last_finished,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, v in state["arrays"].items():
            getattr(self, k)[: len(v)] = v.numpy() if isinstance(v, torch.Tensor) else v
        self.ptr, self.full, self.labelled = state["ptr"], state["full"], state["labelled"]
        self.last_finished = int(state.get("last_finished", -1))
