"""The reward-model track's fixed logged data: scripted-expert episodes at several action-noise
levels, partial and random episodes, built once per (task, seed) and cached on disk.

Every method at a seed sees the same data: the track compares rewards, not data collection. A
dataset has two splits of different episodes, drawn from different generator streams: `train`,
the only one a method queries and learns from, and `heldout`, on which its reward is scored.
Each split keeps, per step t of an episode (index i = the state reached by the t-th action, as
in the online replay buffer and the offline datasets):

    obs          float32 [N, obs_dim]   policy observation of the reached state
    frames       uint8   [N, H, W, 3]   that state at the reward model's resolution
    snapshots    float64 [N, S]         its simulator snapshot (oracle frames are redrawn from it)
    episode_ids  int64   [N]            episode number within the split
    steps        int64   [N]            t
    sources      int8    [N]            index into `SOURCES`
    privileged   gt_reward, success, progress: for the teacher's context and for scoring only

A method sees a split only through `DatasetView` (size, frames, observations, episode ids,
segments): no privileged column, no snapshot, no source.

Sources: `expert-<sigma>` is MetaWorld's scripted policy with Gaussian action noise of that
standard deviation (the layouts are fixed, so noise is what makes expert episodes differ);
`partial` follows the least-noisy expert for a random 10-50 % of the episode and then acts at
random, which leaves the task part-done; `stopped` (recipe v2) follows an expert until the task's
progress first reaches a target drawn per episode, then acts at random, so it stops short of
success at a varied point on every task; `random` acts uniformly at random throughout.

Recipes are named (`RECIPES`, chosen by the budget's `logged_recipe`): `v1` is the original mix,
half of whose states come from episodes that succeed; `v2` (docs/reward-track.md, registered after
v1 failed the bracket) makes successful episodes rare, as they are in an RL agent's replay buffer.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.inputs import InputError
from benchmark.loops.offline_data import DatasetView, split_episodes
from benchmark.results import slug
from envs.spec import TaskSpec

PRIVILEGED = ("gt_reward", "success", "progress")
_ARRAYS = ("obs", "frames", "snapshots", "episode_ids", "steps", "sources")
SPLITS = ("train", "heldout")
#: generator keys of the two splits: different keys, so the splits share no episode
_SPLIT_KEYS = {"train": 0x7A1, "heldout": 0x4E1D}


@dataclass(frozen=True)
class Recipe:
    """What a logged dataset is made of (part of its cache digest). Sized so that building
    both splits of one task takes seconds on one core (docs/reward-track.md has the timing)."""

    episode_steps: int = 100
    #: action-noise standard deviations of the expert episodes; the first is the `expert` whose
    #: held-out episodes the value-order correlation is measured along
    expert_noise: tuple[float, ...] = (0.1, 0.5, 1.0)
    #: episodes per split: this many per noise level, and of each other source
    expert_episodes: int = 3
    partial_episodes: int = 6
    random_episodes: int = 4
    #: the share of a partial episode the expert acts for: uniform in this range
    partial_share: tuple[float, float] = (0.1, 0.5)
    # --- added for recipe v2; at these defaults a recipe is v1's, digest and all --------------
    #: `stopped` episodes per split (0: none, as in v1)
    stopped_episodes: int = 0
    #: the progress a stopped episode's expert acts until: uniform in this range. It must lie
    #: well below success: MetaWorld's success radius is reached at a progress of 0.65-0.8, so
    #: v2 sets (0.02, 0.45); this unused default stays as it was when v2's digests were taken
    stopped_progress: tuple[float, float] = (0.05, 0.9)
    #: action-noise levels of the stopped episodes' expert, taken in turn
    stopped_noise: tuple[float, ...] = (0.1, 0.5, 1.0)
    #: a stopped episode that succeeds anyway (a pushed object slides on into the goal) is
    #: rolled again with a new target scaled by 1/2 per try, up to this many tries; the last is kept
    stopped_tries: int = 8

    def sources(self) -> tuple[str, ...]:
        out = (*(f"expert-{s:g}" for s in self.expert_noise), "partial", "random")
        return (*out, "stopped") if self.stopped_episodes else out

    def plan(self) -> list[str]:
        """The source of every episode of a split, in order."""
        out = [f"expert-{s:g}" for s in self.expert_noise for _ in range(self.expert_episodes)]
        out += ["partial"] * self.partial_episodes + ["random"] * self.random_episodes
        return out + ["stopped"] * self.stopped_episodes

    def as_doc(self) -> dict[str, Any]:
        """The recipe as hashed and stored: the v2 fields only where they differ from their
        defaults, so every recipe written before they existed keeps its digest and its file."""
        doc = asdict(self)
        for f in fields(self)[_V1_FIELD_COUNT:]:
            if doc[f.name] == f.default:
                del doc[f.name]
        return doc


#: fields of the first recipe; later ones enter the digest only when set
_V1_FIELD_COUNT = 6
DEFAULT_RECIPE = Recipe()
#: recipe v2 (docs/reward-track.md, "Recipe v2"): 19 episodes of 100 steps per split like v1, but
#: only the 2 expert episodes are meant to succeed (about 10 % of the states); 13 episodes stop
#: short of success at a progress drawn per episode, with experts of three noise levels; 4 random
RECIPE_V2 = Recipe(
    expert_noise=(0.1,),
    expert_episodes=2,
    partial_episodes=0,
    random_episodes=4,
    stopped_episodes=13,
    stopped_progress=(0.02, 0.45),
)
RECIPES: dict[str, Recipe] = {"v1": DEFAULT_RECIPE, "v2": RECIPE_V2}


def get_recipe(name: str | None) -> Recipe:
    """The named recipe (None: v1, the default of every protocol that names none)."""
    if name is None:
        return DEFAULT_RECIPE
    if name not in RECIPES:
        raise InputError(
            f"logged_recipe {name!r}: no such recipe; choose one of {', '.join(RECIPES)}"
        )
    return RECIPES[name]


@dataclass
class LoggedSplit:
    """One split of a logged dataset; a method reads it only through `view()`."""

    obs: np.ndarray
    frames: np.ndarray
    snapshots: np.ndarray
    episode_ids: np.ndarray
    steps: np.ndarray
    sources: np.ndarray
    privileged: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.obs)

    # --- what DatasetView reads ---------------------------------------------------------------
    def frames_at(self, idx: np.ndarray) -> np.ndarray:
        return self.frames[idx]

    def observations(self, idx: np.ndarray) -> np.ndarray:
        return self.obs[idx]

    def episode_index(self) -> np.ndarray:
        return self.episode_ids

    def segments(self, length: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
        """`count` random runs of `length` consecutive steps inside one episode (0 = whole
        episodes). Every episode has the recipe's length, so any start up to len - length works."""
        episodes = split_episodes(self.episode_ids)
        if length <= 0:
            return [episodes[i] for i in rng.integers(0, len(episodes), size=count)]
        out = []
        for i in rng.integers(0, len(episodes), size=count):
            e = episodes[i]
            start = int(rng.integers(0, max(1, len(e) - length + 1)))
            out.append(e[start : start + length])
        return out

    def view(self) -> DatasetView:
        """The restricted object handed to reward methods (BufferView protocol)."""
        return DatasetView(self)

    # --- what the feedback gate reads (RunnerFeedback's buffer) -------------------------------
    @property
    def progress(self) -> np.ndarray:
        return self.privileged["progress"]

    @property
    def success(self) -> np.ndarray:
        return self.privileged["success"]


@dataclass
class LoggedDataset:
    train: LoggedSplit
    heldout: LoggedSplit
    meta: dict[str, Any]

    @property
    def digest(self) -> str:
        return str(self.meta["digest"])

    def split(self, name: str) -> LoggedSplit:
        return {"train": self.train, "heldout": self.heldout}[name]


def _stack_version() -> dict[str, str]:
    """The packages that decide the frames and the physics: a new stack, a new dataset."""
    out = {}
    for pkg in ("metaworld", "mujoco", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def recipe_digest(task: TaskSpec, seed: int, recipe: Recipe, frame_size: int) -> str:
    """Content name of a dataset: everything that decides its bytes."""
    doc = {
        "task": task.name,
        "description": task.description,
        "seed": int(seed),
        "recipe": recipe.as_doc(),
        "frame_size": int(frame_size),
        "stack": _stack_version(),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _stopped(expert: Any, sigma: float, target: float, rng: np.random.Generator):
    """A noisy expert until the progress first reaches `target`, random actions from then on."""
    stopped = False

    def act(obs: np.ndarray, t: int, progress: float) -> np.ndarray:
        nonlocal stopped
        stopped = stopped or progress >= target
        return (
            rng.uniform(-1.0, 1.0, 4) if stopped else expert(obs) + sigma * rng.standard_normal(4)
        )

    return act


def _policy(
    kind: str, expert: Any, recipe: Recipe, rng: np.random.Generator, episode: int, attempt: int
):
    """The action rule of one episode (draws from the split's generator in a fixed order);
    it is called with the observation, the step and the progress the last step reached.
    `episode` counts the earlier episodes of this kind, `attempt` the earlier tries of this one."""
    if kind == "random":
        return lambda obs, t, p: rng.uniform(-1.0, 1.0, 4)
    if kind == "stopped":
        lo, hi = recipe.stopped_progress
        sigma = recipe.stopped_noise[episode % len(recipe.stopped_noise)]
        return _stopped(expert, sigma, float(rng.uniform(lo, hi)) * 0.5**attempt, rng)
    if kind == "partial":
        lo, hi = recipe.partial_share
        cut = int(round(rng.uniform(lo, hi) * recipe.episode_steps))
        sigma = recipe.expert_noise[0]
        return lambda obs, t, p: (
            expert(obs) + sigma * rng.standard_normal(4) if t < cut else rng.uniform(-1.0, 1.0, 4)
        )
    sigma = float(kind.split("-", 1)[1])
    return lambda obs, t, p: expert(obs) + sigma * rng.standard_normal(4)


def _rollout(env: Any, act: Any, obs: np.ndarray, steps: int, size: int) -> list[dict[str, Any]]:
    """One episode's rows: the reached state's columns after each of `steps` actions."""
    rows, progress = [], 0.0
    for t in range(steps):
        obs, _, _, _, info = env.step(np.clip(act(obs, t, progress), -1.0, 1.0))
        progress = float(info["progress"])
        rows.append(
            {
                "obs": obs,
                "frames": env.render_frame(size),
                "snapshots": env.snapshot(),
                "steps": t,
                "gt_reward": info["gt_reward"],
                "success": info["success"],
                "progress": info["progress"],
            }
        )
    return rows


def build_split(
    task: TaskSpec, seed: int, split: str, recipe: Recipe, frame_size: int
) -> LoggedSplit:
    """Roll out one split's episodes; deterministic in (task, seed, split, recipe)."""
    rng = np.random.default_rng([int(seed), _SPLIT_KEYS[split]])
    env = task.make_env(seed)
    expert = task.make_expert(env)
    sources = recipe.sources()
    cols: dict[str, list[Any]] = {k: [] for k in (*_ARRAYS, *PRIVILEGED)}
    try:
        plan = recipe.plan()
        for ep, kind in enumerate(plan):
            for attempt in range(recipe.stopped_tries if kind == "stopped" else 1):
                obs, _ = env.reset(seed=int(rng.integers(0, 2**31)))
                act = _policy(kind, expert, recipe, rng, plan[:ep].count(kind), attempt)
                rows = _rollout(env, act, obs, recipe.episode_steps, frame_size)
                if kind != "stopped" or not any(r["success"] for r in rows):
                    break
            for r in rows:
                for k, v in {**r, "episode_ids": ep, "sources": sources.index(kind)}.items():
                    cols[k].append(v)
    finally:
        env.close()
    dtypes = {
        "obs": np.float32,
        "frames": np.uint8,
        "snapshots": np.float64,
        "episode_ids": np.int64,
        "steps": np.int64,
        "sources": np.int8,
        "gt_reward": np.float32,
        "success": bool,
        "progress": np.float32,
    }
    arr = {k: np.asarray(v, dtype=dtypes[k]) for k, v in cols.items()}
    return LoggedSplit(**{k: arr[k] for k in _ARRAYS}, privileged={k: arr[k] for k in PRIVILEGED})


#: where a MetaWorld observation holds what the camera sees: gripper xyz (0:3) and the task
#: object's xyz (4:7), the numbers envs/metaworld reports as `info["view"]` (a test pins this)
METAWORLD_VIEW_COLUMNS = (0, 1, 2, 4, 5, 6)


def views(split: LoggedSplit, task: TaskSpec) -> np.ndarray | None:
    """Each state's view for the teacher's context (RunnerFeedback), from the logged
    observation (the reached state's, like progress), so the dataset and its digest stay as
    they were; None for a task whose observation layout is not MetaWorld's."""
    if not task.name.startswith("metaworld/"):
        return None
    return split.obs[:, METAWORLD_VIEW_COLUMNS].astype(np.float64)


def check_task(task: TaskSpec) -> None:
    """One clear line for a task the track cannot log data for."""
    if task.action_kind != "continuous" or task.make_expert is None:
        raise ValueError(
            f"{task.name}: the reward-model track needs a continuous-control task with a scripted "
            "expert (MetaWorld, e.g. metaworld/drawer-open)"
        )


def build_dataset(
    task: TaskSpec, seed: int, recipe: Recipe = DEFAULT_RECIPE, frame_size: int | None = None
) -> LoggedDataset:
    check_task(task)
    size = int(frame_size or task.reward_frame_size)
    splits = {s: build_split(task, seed, s, recipe, size) for s in SPLITS}
    meta = {
        "task": task.name,
        "seed": int(seed),
        "recipe": json.loads(json.dumps(recipe.as_doc())),  # as it reads back from the file
        "sources": list(recipe.sources()),
        "frame_size": size,
        "digest": recipe_digest(task, seed, recipe, size),
    }
    return LoggedDataset(splits["train"], splits["heldout"], meta)


def save(data: LoggedDataset, path: Path) -> None:
    """Write atomically (a temporary file renamed into place): two runs of a sweep that build
    the same dataset at once never leave a half-written file for a third to read."""
    arrays: dict[str, np.ndarray] = {}
    for s in SPLITS:
        part = data.split(s)
        arrays.update({f"{s}.{k}": getattr(part, k) for k in _ARRAYS})
        arrays.update({f"{s}.privileged.{k}": v for k, v in part.privileged.items()})
    arrays["meta_json"] = np.frombuffer(json.dumps(data.meta).encode(), np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(tmp, path)


def load(path: Path) -> LoggedDataset:
    with np.load(path) as z:
        meta = json.loads(bytes(z["meta_json"]).decode())
        splits = {
            s: LoggedSplit(
                **{k: z[f"{s}.{k}"] for k in _ARRAYS},
                privileged={k: z[f"{s}.privileged.{k}"] for k in PRIVILEGED},
            )
            for s in SPLITS
        }
    return LoggedDataset(splits["train"], splits["heldout"], meta)


def cache_path(root: str | Path, task: TaskSpec, seed: int, recipe: Recipe, size: int) -> Path:
    """`<root>/<task slug>/<digest>.npz`: the name is the content's digest."""
    return Path(root) / slug(task.name) / f"{recipe_digest(task, seed, recipe, size)}.npz"


def load_or_build(
    task: TaskSpec,
    seed: int,
    root: str | Path,
    recipe: Recipe = DEFAULT_RECIPE,
    frame_size: int | None = None,
) -> tuple[LoggedDataset, bool]:
    """The cached dataset, built and saved on first use; returns (dataset, was_cached)."""
    check_task(task)
    size = int(frame_size or task.reward_frame_size)
    path = cache_path(root, task, seed, recipe, size)
    if path.exists():
        return load(path), True
    data = build_dataset(task, seed, recipe, size)
    save(data, path)
    return data, False
