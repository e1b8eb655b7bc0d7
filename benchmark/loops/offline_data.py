"""Logged datasets for offline RL on discrete tasks (ALFRED): expert, noisy-expert, random, flawed.

ERL-VLM trains IQL on ALFRED from a fixed dataset whose rewards come from the learned reward
model. `build_dataset` rolls out a seeded mix of episodes on a task — the task's expert, the
expert with probability-epsilon random *valid* actions, uniformly random valid actions, and (for
tasks whose expert supports them, the ALFRED twin) the expert with one deliberate mistake:
`wrong_object`, `wrong_appliance`, `one_short`, `forks` / `decoys` (the expert taking each
fork of its plan wrongly with probability `fork_error`) and `dawdle` (the expert undoing and
redoing its steps, with probability `dawdle` at each; envs/alfred/flaws.py; a flawed expert that
considers itself done ends its episode early, as a timeout) — and keeps, per transition t
(state s_t, action a_t, next state s_t+1):

    obs, next_obs        float32 [N, obs_dim]   policy observations of s_t and s_t+1
    actions              int64   [N]            a_t
    masks, next_masks    bool    [N, A]         valid actions in s_t and in s_t+1
    terminals, timeouts  bool    [N]            episode ended by success / by the time limit
    episode_ids, steps   int64   [N]            episode number (0..), index of t in it
    frames               uint8   [N, H, W, 3]   s_t+1 rendered at the reward model's size
    snapshots            float64 [N, S]         s_t+1's snapshot (oracle frames are redrawn from it)
    sources              int8    [N]            index into SOURCES (0 expert, 1 noisy, 2 random, ...)
    rewards              float32 [N]            empty (zeros) until relabelled by a reward method
    privileged           dict of [N] arrays     gt_reward, sparse_reward, success, progress (of s_t+1)

Index i of the dataset is "the state reached by transition i", like the online replay buffer:
`frames(i)`, `observations(i)` (= next_obs) and the privileged columns all describe s_t+1, so a
whole episode's frames are its trajectory after each action. The privileged columns are kept
apart so that a reward method, which sees the dataset only through the BufferView methods
(`size`, `frames`, `observations`, `episode_ids`, `segments`), can never read them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from envs.spec import TaskSpec

SOURCES = (
    "expert",
    "noisy",
    "random",
    "wrong_object",
    "wrong_appliance",
    "one_short",
    "forks",
    "decoys",
    "dawdle",
)
#: sources that need the task's expert to take `flaw=<source>` (make_expert(env, flaw, rng))
FLAWED_SOURCES = SOURCES[3:]
#: The mix used when neither the budget (`offline_mix`, e.g. from a leaderboard protocol's
#: budget_overrides) nor the task (TaskSpec.offline_mix, e.g. the ALFRED twin v2's failure-heavy
#: one) names one: shares of expert / noisy-expert / random episodes.
#: Expert-light on purpose: with many clean demonstrations even a sparse reward (or plain
#: imitation) solves the twin's tasks, and the benchmark could not tell reward methods apart.
#: This mix gives ~30-40 % successful episodes, many partial ones (the noisy expert) and many
#: that barely move (random: ~5 % progress), i.e. the Bad-heavy rating imbalance ERL-VLM's
#: stratified sampling is about. Measured at the `short` budget (400 episodes, 10k IQL updates,
#: 4 suite tasks x 3 seeds): still enough successes for sparse to reach 98-100 %, like erl-vlm
#: and rbrl, so telling the methods apart on the twin needs a mix with fewer successes.
DEFAULT_MIX = (0.1, 0.4, 0.5)
Mix = tuple[float, ...] | dict[str, float]
DEFAULT_EPSILON = 0.6
PRIVILEGED_COLUMNS = ("gt_reward", "sparse_reward", "success", "progress")
_ARRAYS = (
    "obs",
    "next_obs",
    "actions",
    "masks",
    "next_masks",
    "terminals",
    "timeouts",
    "episode_ids",
    "steps",
    "frames",
    "snapshots",
    "sources",
    "rewards",
)


@dataclass
class OfflineDataset:
    obs: np.ndarray
    next_obs: np.ndarray
    actions: np.ndarray
    masks: np.ndarray
    next_masks: np.ndarray
    terminals: np.ndarray
    timeouts: np.ndarray
    episode_ids: np.ndarray
    steps: np.ndarray
    frames: np.ndarray
    snapshots: np.ndarray
    sources: np.ndarray
    rewards: np.ndarray
    privileged: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    # --- BufferView: all a reward method may read ---------------------------------------------
    @property
    def size(self) -> int:
        return len(self.actions)

    def frames_at(self, idx: np.ndarray) -> np.ndarray:
        return self.frames[idx]

    def observations(self, idx: np.ndarray) -> np.ndarray:
        return self.next_obs[idx]

    def episode_index(self) -> np.ndarray:
        return self.episode_ids

    def episodes(self) -> list[np.ndarray]:
        """Indices of each episode, in order."""
        return split_episodes(self.episode_ids)

    def segments(self, length: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
        """`count` random runs of consecutive indices within one episode; 0 = whole episodes."""
        eps = self.episodes()
        if length <= 0:
            pick = rng.choice(len(eps), size=count, replace=len(eps) < count)
            return [eps[i] for i in pick]
        out = []
        long_enough = [e for e in eps if len(e) >= length] or eps
        for i in rng.integers(0, len(long_enough), size=count):
            e = long_enough[i]
            start = int(rng.integers(0, max(1, len(e) - length + 1)))
            out.append(e[start : start + length])
        return out

    def view(self) -> DatasetView:
        """The restricted object handed to reward methods (BufferView protocol)."""
        return DatasetView(self)

    # --- for the agent ------------------------------------------------------------------------
    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        idx = rng.integers(0, self.size, size=batch_size)
        return {
            "obs": torch.from_numpy(self.obs[idx]),
            "action": torch.from_numpy(self.actions[idx]),
            "reward": torch.from_numpy(self.rewards[idx]),
            "next_obs": torch.from_numpy(self.next_obs[idx]),
            "not_done": torch.from_numpy((~self.terminals[idx]).astype(np.float32)),
            "mask": torch.from_numpy(self.masks[idx]),
        }

    # --- summaries and files ------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Per-source episode counts and success rates (privileged; for reports, not methods)."""
        out: dict[str, Any] = {"transitions": self.size, "episodes": len(self.episodes())}
        for k, name in enumerate(SOURCES):
            eps = [e for e in self.episodes() if self.sources[e[0]] == k]
            if not eps and name in FLAWED_SOURCES:
                continue  # listed only when used, so datasets without them report as before
            out[f"{name}_episodes"] = len(eps)
            out[f"{name}_success"] = (
                float(np.mean([self.privileged["success"][e].any() for e in eps])) if eps else 0.0
            )
        return out

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {k: getattr(self, k) for k in _ARRAYS}
        arrays.update({f"privileged_{k}": v for k, v in self.privileged.items()})
        arrays["meta_json"] = np.frombuffer(json.dumps(self.meta).encode(), np.uint8)
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> OfflineDataset:
        with np.load(path) as z:
            arrays = {k: z[k] for k in _ARRAYS}
            privileged = {
                k[len("privileged_") :]: z[k] for k in z.files if k.startswith("privileged_")
            }
            meta = json.loads(bytes(z["meta_json"]).decode())
        return cls(**arrays, privileged=privileged, meta=meta)


class DatasetView:
    """What a reward method sees of an `OfflineDataset`: no rewards, no privileged columns."""

    def __init__(self, data: OfflineDataset) -> None:
        self._data = data

    @property
    def size(self) -> int:
        return self._data.size

    def frames(self, idx: np.ndarray) -> np.ndarray:
        return self._data.frames_at(idx)

    def observations(self, idx: np.ndarray) -> np.ndarray:
        return self._data.observations(idx)

    def episode_ids(self) -> np.ndarray:
        return self._data.episode_index()

    def segments(self, length: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
        return self._data.segments(length, count, rng)


def split_episodes(episode_ids: np.ndarray) -> list[np.ndarray]:
    """Indices of each episode, in order, for data stored episode after episode."""
    bounds = np.flatnonzero(np.diff(episode_ids)) + 1
    return np.split(np.arange(len(episode_ids)), bounds)


def episode_seeds(seed: int, count: int, purpose: str = "data") -> np.ndarray:
    """Scene seeds for dataset episodes or evaluation; the two streams never share a scene
    (apart from a 2^-31 chance) because they come from different generator keys."""
    key = {"data": 0xDA7A, "eval": 0xE7A1}[purpose]
    return np.random.default_rng([int(seed), key]).integers(0, 2**31, size=count)


def mix_counts(mix: Mix, episodes: int) -> dict[str, int]:
    """Episodes per source: round(share x episodes) for every source but `random`, which takes
    the remainder (so the counts always sum to `episodes`). A tuple lists shares in SOURCES
    order; a dict names them. Bad mixes raise ValueError with one line saying what to fix."""
    shares = dict(zip(SOURCES, mix, strict=False)) if not isinstance(mix, dict) else dict(mix)
    unknown = sorted(set(shares) - set(SOURCES))
    if unknown:
        raise ValueError(
            f"unknown data source(s) {unknown} in the mix; known: {', '.join(SOURCES)}"
        )
    if any(float(v) < 0 for v in shares.values()) or abs(sum(shares.values()) - 1.0) > 1e-6:
        raise ValueError(f"the mix {shares} must have shares >= 0 that sum to 1")
    counts = {k: int(round(float(shares.get(k, 0.0)) * episodes)) for k in SOURCES if k != "random"}
    counts["random"] = episodes - sum(counts.values())
    if counts["random"] < 0:
        raise ValueError(f"the mix {shares} rounds to more than {episodes} episodes")
    return {k: counts[k] for k in SOURCES if counts[k] or k in SOURCES[:3]}


def resolve_mix(task: TaskSpec, mix: Mix | None) -> Mix:
    """The mix a run uses: the one given (budget/protocol), else the task's, else DEFAULT_MIX."""
    if mix is not None:
        return mix
    return getattr(task, "offline_mix", None) or DEFAULT_MIX


def _policy_for(source: str, expert: Any, rng: np.random.Generator, epsilon: float):
    def act(obs: np.ndarray, info: dict[str, Any]) -> int:
        valid = np.flatnonzero(info["action_mask"])
        if source == "random" or (source == "noisy" and rng.random() < epsilon):
            return int(rng.choice(valid))
        return int(expert(obs, info))

    return act


def _episode_policy(
    task: TaskSpec,
    env: Any,
    kind: str,
    expert: Any,
    rngs: tuple[np.random.Generator, ...],
    eps: float,
    fork_error: float | Mapping[str, float] | None,
    dawdle: float | None = None,
):
    """The policy of one episode; flawed experts are made per episode (they pick their mistake
    from the scene) and draw from their own generator, so adding them leaves the other
    sources' draws as they were."""
    rng, flaw_rng = rngs
    if kind not in FLAWED_SOURCES:
        return _policy_for(kind, expert, rng, eps)
    # the flaws' own parameters, where the budget sets them (each flaw ignores the others')
    extra = {k: v for k, v in (("fork_error", fork_error), ("dawdle", dawdle)) if v is not None}
    try:
        return task.make_expert(env, flaw=kind, rng=flaw_rng, **extra)
    except TypeError:
        raise ValueError(
            f"{task.name}'s expert has no flawed variants; use a mix of expert, noisy and random "
            "episodes"
        ) from None


def build_dataset(
    task: TaskSpec,
    episodes: int,
    seed: int = 0,
    mix: Mix | None = None,
    epsilon: float = DEFAULT_EPSILON,
    frame_size: int | None = None,
    max_episode_steps: int | None = None,
    fork_error: float | Mapping[str, float] | None = None,
    dawdle: float | None = None,
) -> OfflineDataset:
    """Roll out `episodes` episodes: round(share * episodes) of each source in the mix (random
    takes the remainder; `mix_counts`), each on its own scene; deterministic in `seed`. `mix`
    None = the task's default (`resolve_mix`); `fork_error` and `dawdle` None = the task
    expert's defaults (the twin's: envs/alfred/flaws.DEFAULT_FORK_ERROR, DEFAULT_DAWDLE)."""
    if task.make_expert is None:
        raise ValueError(f"{task.name} has no expert; offline datasets need one")
    if task.action_kind != "discrete":
        raise ValueError(f"{task.name} is not a discrete-action task")
    frame_size = frame_size or task.reward_frame_size
    max_steps = max_episode_steps or task.max_episode_steps
    counts = mix_counts(resolve_mix(task, mix), episodes)
    kinds = [k for k, n in counts.items() for _ in range(n)]
    rngs = (np.random.default_rng([int(seed), 0xAC7]), np.random.default_rng([int(seed), 0xF1A]))
    env = task.make_env(seed)
    expert = task.make_expert(env)
    cols: dict[str, list[Any]] = {k: [] for k in (*_ARRAYS, *PRIVILEGED_COLUMNS)}
    for ep, (kind, scene) in enumerate(zip(kinds, episode_seeds(seed, episodes), strict=True)):
        obs, info = env.reset(seed=int(scene))
        act = _episode_policy(task, env, kind, expert, rngs, epsilon, fork_error, dawdle)
        for t in range(max_steps):
            mask = info["action_mask"]
            a = act(obs, info)
            if a is None:  # a flawed expert that stops: the episode ends here, as a timeout
                if t == 0:
                    raise RuntimeError(f"the {kind} expert of {task.name} stopped before acting")
                cols["timeouts"][-1] = True
                break
            next_obs, _, term, trunc, info = env.step(a)
            trunc = trunc or t == max_steps - 1
            for k, v in (
                ("obs", obs),
                ("next_obs", next_obs),
                ("actions", a),
                ("masks", mask),
                ("next_masks", info["action_mask"]),
                ("terminals", term),
                ("timeouts", trunc and not term),
                ("episode_ids", ep),
                ("steps", t),
                ("frames", env.render_frame(frame_size)),
                ("snapshots", env.snapshot()),
                ("sources", SOURCES.index(kind)),
                ("rewards", 0.0),
                ("gt_reward", info["gt_reward"]),
                ("sparse_reward", float(info["success"])),
                ("success", info["success"]),
                ("progress", info["progress"]),
            ):
                cols[k].append(v)
            obs = next_obs
            if term or trunc:
                break
    dtypes = {
        "obs": np.float32,
        "next_obs": np.float32,
        "actions": np.int64,
        "masks": bool,
        "next_masks": bool,
        "terminals": bool,
        "timeouts": bool,
        "episode_ids": np.int64,
        "steps": np.int64,
        "frames": np.uint8,
        "snapshots": np.float64,
        "sources": np.int8,
        "rewards": np.float32,
        "gt_reward": np.float32,
        "sparse_reward": np.float32,
        "success": bool,
        "progress": np.float32,
    }
    arr = {k: np.asarray(v, dtype=dtypes[k]) for k, v in cols.items()}
    meta = {
        "task": task.name,
        "seed": int(seed),
        "episodes": int(episodes),
        "mix": counts,
        "epsilon": float(epsilon),
        **(
            {"fork_error": fork_error}
            if {"forks", "decoys"} & set(counts) and fork_error is not None
            else {}
        ),
        **({"dawdle": dawdle} if "dawdle" in counts and dawdle is not None else {}),
        "frame_size": int(frame_size),
        "max_episode_steps": int(max_steps),
    }
    return OfflineDataset(
        **{k: arr[k] for k in _ARRAYS},
        privileged={k: arr[k] for k in PRIVILEGED_COLUMNS},
        meta=meta,
    )
