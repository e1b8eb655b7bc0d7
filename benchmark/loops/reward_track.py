"""The reward-model track: train a method's reward on logged data, score it, no RL.

Read top to bottom: load (or build once) the task's logged dataset for the seed
(logged_episodes.py: the same data for every method), give the method its train split through
the same feedback gate as the online loop (RunnerFeedback: oracle frames redrawn from snapshots,
the teacher's privileged context attached, queries counted, the oracle cache in between), one
session of `queries_per_session` queries at a time until `max_queries` are spent, and after every
session score the method's reward on the held-out split (`score_reward`). The reference methods
(gt-reward, sparse) ask nothing: their reward is the dataset's privileged dense reward and
success indicator, scored the same way.

Meanings of the shared metric columns on this track:
- `step`: the schedule's query mark (queries_per_session x sessions so far), the x-axis every
  method shares; `queries`: queries actually spent (0 for the references, whose score is the
  same at every mark);
- `success_rate`: the headline score in [0, 1] (so reports, curves and the leaderboard read it
  unchanged; docs/reward-track.md says why it is 1 - sqrt(2) x EPIC distance), repeated in
  `score`; `eval_return` is 0: no policy is run (a leaderboard curve must hold a number);
- `episodes`, `train_success`: the train split's episodes and share of success states;
- `reward_alignment`: stats.reward_alignment on the held-out split at the task's levels.
Added columns: `score`, `epic_distance`, `voc` (along held-out expert episodes up to their first
success), `success_auc`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.analysis.reward_metrics import (
    epic_distance,
    headline_score,
    success_auc,
    value_order_correlation,
)
from benchmark.analysis.stats import progress_levels, reward_alignment
from benchmark.config import Budget, RunConfig
from benchmark.loops.feedback import RunnerFeedback
from benchmark.loops.harness import (
    METRIC_FIELDS,
    Harness,
    LoopState,
    Parts,
    build_parts,
    resolved_config,
)
from benchmark.loops.logged_episodes import (
    DEFAULT_RECIPE,
    LoggedDataset,
    LoggedSplit,
    Recipe,
    get_recipe,
    load_or_build,
    views,
)
from benchmark.methods.base import RewardMethod

LOOP = "reward-model"
#: metrics.csv of this track: the shared columns, then the reward metrics
FIELDS = [*METRIC_FIELDS, "score", "epic_distance", "voc", "success_auc"]
#: the logged data's recipe when the budget names none (a module attribute so tests can run on a
#: tiny one); a budget's `logged_recipe` names one of logged_episodes.RECIPES instead
RECIPE = DEFAULT_RECIPE
#: held-out states scored per call of the method's reward
SCORE_CHUNK = 1024


@dataclass
class TrackState(LoopState):
    """The track's counters (checkpointed); `step` is the schedule's query mark."""

    sessions: int = 0
    score: float = float("nan")


def run_recipe(budget: Budget) -> Recipe:
    """The budget's named recipe, or the module's default when it names none."""
    return RECIPE if budget.logged_recipe is None else get_recipe(budget.logged_recipe)


def dataset_root(cfg: RunConfig) -> Path:
    """Logged datasets live next to the oracle cache: `<cache_dir>/../logged`."""
    return Path(cfg.cache_dir).parent / "logged"


def method_reward(method: RewardMethod, split: LoggedSplit) -> np.ndarray:
    """The method's reward of every state of `split` (the privileged columns for the
    references, which is what makes them the references)."""
    if method.env_reward == "dense":
        return split.privileged["gt_reward"].astype(np.float64)
    if method.env_reward == "sparse":
        return split.privileged["success"].astype(np.float64)
    out = []
    for start in range(0, split.size, SCORE_CHUNK):
        idx = np.arange(start, min(split.size, start + SCORE_CHUNK))
        frames = split.frames[idx] if method.needs_frames else np.empty((len(idx), 0))
        out.append(np.asarray(method.reward(frames, split.obs[idx]), np.float64))
    return np.concatenate(out)


def expert_prefixes(split: LoggedSplit, source: int = 0) -> np.ndarray:
    """Indices of the held-out expert episodes (the least-noisy expert, source 0) up to and
    including their first success: VOC asks whether value rises while the task is being done,
    and after success the expert only holds still."""
    keep = []
    success = split.privileged["success"]
    for e in np.unique(split.episode_ids[split.sources == source]):
        idx = np.flatnonzero(split.episode_ids == e)
        hits = np.flatnonzero(success[idx])
        keep.append(idx[: hits[0] + 1] if len(hits) else idx)
    return np.concatenate(keep) if keep else np.zeros(0, np.int64)


def score_reward(reward: np.ndarray, split: LoggedSplit, levels: int) -> dict[str, float]:
    """All reward metrics of one reward on one split; `score` is the headline."""
    priv = split.privileged
    prefix = expert_prefixes(split)
    epic = epic_distance(reward, priv["gt_reward"])
    return {
        "score": headline_score(epic),
        "epic_distance": epic,
        "voc": value_order_correlation(reward[prefix], split.episode_ids[prefix]),
        "success_auc": success_auc(reward, priv["success"]),
        "reward_alignment": reward_alignment(
            reward, progress_levels(priv["progress"], priv["success"], levels)
        ),
    }


def _data_columns(data: LoggedDataset) -> dict[str, Any]:
    train = data.train
    return {
        "episodes": int(len(np.unique(train.episode_ids))),
        "train_success": float(np.mean(train.privileged["success"])),
        "eval_return": 0.0,  # no policy runs on this track (leaderboard curves need a number)
    }


def run_reward_track(
    cfg: RunConfig, progress: Callable[..., None] | None = None, parts: Parts | None = None
) -> Path:
    """Run (or resume) one reward-model-track run; returns its results directory."""
    h = Harness(cfg, progress, fields=FIELDS)
    if h.finished:
        return h.paths.root
    h.open()
    parts = parts or build_parts(cfg)
    task, budget, method, oracle = parts.task, parts.budget, parts.method, parts.oracle
    state = TrackState()
    ckpt = h.resume(state)  # before the dataset, so total_s counts its building too
    with h.timed("dataset"):
        data, cached = load_or_build(task, cfg.seed, dataset_root(cfg), run_recipe(budget))
    env = task.make_env(cfg.seed)  # redraws the queried states at the oracle's size; never stepped
    feedback = RunnerFeedback.for_task(
        data.train,
        env.render_snapshot,
        oracle,
        task,
        parts.levels,
        budget.max_queries,
        views=views(data.train, task),  # for teachers that place errors by view
    )
    per_session = max(1, budget.queries_per_session)
    sessions = max(1, math.ceil(budget.max_queries / per_session))
    resolved = resolved_config(
        cfg,
        parts,
        track=LOOP,
        dataset={**data.meta, "cached": cached},
        schedule={
            "loop": "reward-model: feedback sessions on the logged train split, reward scored "
            "on the held-out split after each; no RL",
            "sessions": sessions,
            # the report's curves read their x-axis label here (analysis/report.py: axis_label)
            "x_axis": "oracle queries (reward-model track)",
            "score": "1 - sqrt(2) * EPIC distance to the dense reward, clipped to [0, 1]",
        },
    )
    if ckpt is not None:
        method.load_state_dict(ckpt["method"])
        feedback.queries_used = ckpt["queries_used"]
    h.start(resolved)
    try:
        _sessions(h, state, parts, data, feedback, sessions, per_session)
    finally:
        env.close()
    return h.finish(oracle, state, final_success_rate=state.score)


def _sessions(
    h: Harness,
    state: TrackState,
    parts: Parts,
    data: LoggedDataset,
    feedback: RunnerFeedback,
    sessions: int,
    per_session: int,
) -> None:
    """Feedback sessions until the budget is spent, a scored metrics row and a checkpoint after
    each. A reference method is scored once, and its row repeated at every query mark."""
    method, budget = parts.method, parts.budget
    columns = _data_columns(data)
    fixed = None if method.query_kind is not None else _score(method, data, parts.task.levels)
    while state.sessions < sessions:
        if fixed is None:
            with h.timed("feedback"):
                ask = min(per_session, feedback.budget_left)
                out = method.query_and_update(data.train.view(), feedback, ask) if ask else {}
                state.reward_loss = float(out.get("loss", float("nan")))
            with h.timed("score"):
                metrics = _score(method, data, parts.task.levels)
        else:
            metrics = fixed
        state.sessions += 1
        state.step = min(budget.max_queries, state.sessions * per_session)
        state.score = metrics["score"]
        row = {**columns, **metrics, "success_rate": metrics["score"], "step": state.step}
        h.emit(state, parts.oracle, feedback.queries_used, **row)
        if state.sessions < sessions:
            h.checkpoint(state, method=method.state_dict(), queries_used=feedback.queries_used)


def _score(method: RewardMethod, data: LoggedDataset, levels: int) -> dict[str, float]:
    """Score the method's reward on the held-out split. A method that has no reward yet (every
    answer so far unusable: all "no preference", or all skipped) is scored as the constant
    reward it amounts to: score 0, chance on every other metric."""
    if method.env_reward is None and not method.is_ready:
        reward = np.zeros(data.heldout.size)
    else:
        reward = method_reward(method, data.heldout)
    return score_reward(reward, data.heldout, levels)
