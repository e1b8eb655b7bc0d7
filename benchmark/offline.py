"""One offline run (ALFRED): logged dataset -> oracle feedback -> learned reward -> IQL -> eval.

The paper trains ALFRED agents offline with IQL on rewards relabelled by the learned reward
model. Read top to bottom: build the seeded dataset (the same for every method at a seed), run
the feedback sessions on it (whole trajectories are rated, as the task's segment_length 0 says),
relabel every transition with the method's reward (or the env's, for gt-reward and sparse), then
train IQL and evaluate it on scenes the dataset never saw. Results go where the online runner
puts them (RunPaths: config.json, metrics.csv with the same columns, cache_stats.json,
phases.json, versions.json, done.json), and a checkpoint after each evaluation lets a killed run
resume to the same metrics.

Learned rewards on tasks that end on success (a documented rule, recorded as `relabel` in each
run's config.json): ALFRED episodes terminate on success, and IQL bootstraps through the
30-step time limit, so a per-step reward that is positive everywhere pays the agent for every
step it does *not* finish. Ratings of whole trajectories only constrain the trajectories'
reward *sums*, so the per-step offset of a learned reward carries meaning: on
pick-cool-then-place (short budget, seed 0) erl-vlm's raw reward is negative on every state
(-0.0031..-0.0019, a cost per step) and its sums rank successful above failed episodes with
AUC 0.98; the rating methods' [0, 1] rescaling (rating.py) adds +2.55 per step, after which a
30-step failure outscores a success (mean return 12.7 vs 8.2, AUC 0.21) and IQL reached 0 %
success against 35.5 % in the data. So when the dataset has terminal transitions, a learned
reward is shifted by its maximum over the dataset: every step costs (the labelled span becomes
[-1, 0], AUC 0.92 on that data) and finishing is what stops the cost; IQL on the same relabelled
data then reached 100 % success on 20 unseen scenes after 2000 updates. Env rewards
(gt-reward's progress differences, sparse) are left alone; the online MetaWorld loop, whose
episodes do not end on success, does not relabel through here.

Offline meanings of the shared metric columns: `step` = IQL updates so far, `episodes` =
dataset episodes, `train_success` = the dataset's share of successful episodes (a property of
the data, constant over the run), `queries` = oracle queries spent (all before IQL starts).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.agents.iql import IQL, IQLConfig
from benchmark.budgets import Budget, get_budget
from benchmark.feedback import RunnerFeedback
from benchmark.logging_sinks import MetricSinks
from benchmark.methods.base import RewardMethod
from benchmark.offline_data import OfflineDataset, build_dataset, episode_seeds
from benchmark.results import RunPaths, oracle_counters, stack_versions, write_json
from benchmark.runner import (
    METRIC_FIELDS,
    RunConfig,
    _timed,
    build_method,
    describe_method,
    describe_oracle,
)
from benchmark.stats import progress_levels, reward_alignment
from envs import get_task
from envs.spec import TaskSpec

log = logging.getLogger(__name__)

#: twin episodes cost milliseconds, and 3 evaluation episodes (the smoke budget) would measure
#: success in steps of 33 %: offline evaluations use at least this many fresh scenes
EVAL_EPISODES_MIN = 20


def resolve_task(name: str, backend: str | None) -> TaskSpec:
    """The task on the requested backend (`--backend thor` turns alfred/x into alfred-thor/x)."""
    if backend and name.split("/", 1)[0] in ("alfred", "alfred-v2"):
        from envs.alfred import get_alfred_task

        return get_alfred_task(name, backend=backend)
    return get_task(name)


class _PrivilegedColumns:
    """What RunnerFeedback reads from its buffer: snapshots and the teacher's context."""

    def __init__(self, data: OfflineDataset) -> None:
        self.snapshots = data.snapshots
        self.progress = data.privileged["progress"]
        self.success = data.privileged["success"].astype(bool)


def dataset_digest(data: OfflineDataset) -> str:
    """Content hash of what defines the dataset (recorded so results name their data)."""
    h = hashlib.sha256()
    for k in ("actions", "episode_ids", "snapshots"):
        h.update(np.ascontiguousarray(getattr(data, k)).tobytes())
    return h.hexdigest()[:16]


def feedback_sessions(
    method: RewardMethod, data: OfflineDataset, feedback: Any, budget: Budget
) -> dict[str, float]:
    """Spend the whole query budget in one session on the fixed dataset.

    Online, sessions exist because new data arrives between them; on a logged dataset nothing
    changes between sessions, so splitting the budget would only repeat reward training on the
    same labels (it cost 2.5x the reward-training time at the smoke budget for no change).
    """
    if method.query_kind is None or feedback.budget_left <= 0:
        return {}
    return method.query_and_update(data.view(), feedback, feedback.budget_left)


def relabel(method: RewardMethod, data: OfflineDataset, chunk: int = 4096) -> dict[str, Any]:
    """Fill data.rewards from the method (the env's dense or sparse reward for reference ones).

    Returns what was done, for the run's config: the reward's source and the `offset`
    subtracted from a learned reward on a dataset whose episodes end on success (module
    docstring: there, every step must cost something or IQL learns to avoid finishing).
    """
    if method.env_reward == "dense":
        data.rewards[:] = data.privileged["gt_reward"]
        return {"source": "env: gt_reward (progress differences)", "offset": 0.0}
    if method.env_reward == "sparse":
        data.rewards[:] = data.privileged["success"].astype(np.float32)
        return {"source": "env: 1 on success", "offset": 0.0}
    if not method.is_ready:
        raise RuntimeError(f"method {method.name} has no reward after its feedback sessions")
    for start in range(0, data.size, chunk):
        idx = np.arange(start, min(data.size, start + chunk))
        frames = data.frames[idx] if method.needs_frames else np.empty((len(idx), 0))
        data.rewards[idx] = np.asarray(method.reward(frames, data.next_obs[idx]), np.float32)
    info: dict[str, Any] = {"source": f"learned: {method.name}", "offset": 0.0}
    if data.terminals.any():
        offset = float(data.rewards.max())
        data.rewards -= np.float32(offset)
        info.update(
            offset=offset,
            rule="episodes end on success: reward minus its dataset maximum, so every step costs",
        )
    info["range"] = [float(data.rewards.min()), float(data.rewards.max())]
    return info


def evaluate_policy(agent: IQL, env: Any, seeds: np.ndarray, max_steps: int) -> tuple[float, float]:
    """Success rate (success at any step) and mean dense return of the greedy masked policy."""
    wins, returns = [], []
    for s in seeds:
        obs, info = env.reset(seed=int(s))
        ok, ret = False, 0.0
        for _ in range(max_steps):
            obs, _, term, trunc, info = env.step(agent.act(obs, info["action_mask"], greedy=True))
            ok, ret = ok or bool(info["success"]), ret + float(info["gt_reward"])
            if term or trunc:
                break
        wins.append(ok)
        returns.append(ret)
    return float(np.mean(wins)), float(np.mean(returns))


@dataclass
class OfflineParts:
    """Everything a run is made of, built from its config (tests build their own)."""

    task: TaskSpec
    budget: Budget
    method: RewardMethod
    oracle: Any
    iql: IQLConfig


def build_parts(cfg: RunConfig) -> OfflineParts:
    from oracle_cache import build_oracle  # imported here so listing tasks never loads providers

    task = resolve_task(cfg.task, cfg.backend)
    budget = get_budget(cfg.budget).with_overrides(**cfg.budget_overrides)
    method = build_method(cfg, task, budget)
    oracle = build_oracle(cfg.oracle, cfg.cache_mode, cfg.cache_dir, cfg.oracle_options)
    iql = IQLConfig(**dict(getattr(cfg, "iql", None) or {}))
    return OfflineParts(task, budget, method, oracle, iql)


def run_offline(
    cfg: RunConfig,
    progress: Callable[..., None] | None = None,
    parts: OfflineParts | None = None,
) -> Path:
    """Run (or resume) one offline experiment; returns its results directory."""
    paths = RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed)
    if paths.done.exists():
        return paths.root
    paths.root.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, cfg.threads))
    parts = parts or build_parts(cfg)
    task, budget, method, oracle = parts.task, parts.budget, parts.method, parts.oracle
    if task.action_kind != "discrete":
        raise ValueError(f"{task.name}: the offline loop is for discrete-action tasks")
    levels = int(getattr(method.config, "levels", None) or task.levels)
    max_len = min(task.max_episode_steps, budget.max_episode_steps or task.max_episode_steps)
    phases: dict[str, float] = defaultdict(float)

    with _timed(phases, "dataset"):
        data = build_dataset(
            task,
            budget.offline_episodes,
            seed=cfg.seed,
            mix=budget.offline_mix,
            max_episode_steps=max_len,
        )
    env = task.make_env(cfg.seed)
    eval_env = task.make_env(cfg.seed + 1)
    n_eval = max(budget.eval_episodes, EVAL_EPISODES_MIN)
    eval_seeds = episode_seeds(cfg.seed, n_eval, "eval")
    structure = getattr(env.unwrapped, "obs_structure", None)
    agent = IQL(data.obs.shape[1], data.masks.shape[1], parts.iql, cfg.seed, structure)
    feedback = RunnerFeedback(
        _PrivilegedColumns(data),
        env.render_snapshot,
        oracle,
        task.name,
        task.instruction,
        levels,
        task.oracle_frame_size,
        budget.max_queries,
    )
    rng = np.random.default_rng([cfg.seed, 0x1C1])
    data_stats = data.stats()
    resolved = {
        "run": dict(cfg.__dict__),
        "task": task.summary(),
        "method": describe_method(method),
        "budget": budget.to_dict(),
        "iql": {
            **parts.iql.to_dict(),
            "network": "SlotNet" if structure and parts.iql.network == "auto" else "MLP",
        },
        "dataset": {**data.meta, "digest": dataset_digest(data), "stats": data_stats},
        "oracle": describe_oracle(cfg, oracle, levels),
        "schedule": {
            "loop": "offline: feedback sessions on the dataset, relabel, then IQL",
            "max_episode_steps": max_len,
            "eval_episodes": n_eval,
            "success_metric": "success at any step of an evaluation episode on unseen scenes",
        },
    }
    write_json(paths.config, resolved)
    write_json(paths.versions, stack_versions())

    state: dict[str, Any] = {
        "updates": 0,
        "labelled": False,
        "relabel": {},
        "reward_loss": float("nan"),
        "metric_rows": 0,
        "wall_offset": 0.0,
        "success_rate": float("nan"),
    }
    if paths.checkpoint.exists():
        ckpt = torch.load(paths.checkpoint, weights_only=False)
        agent.load_state_dict(ckpt["agent"])
        data.rewards[:] = ckpt["rewards"]
        rng.bit_generator.state = ckpt["rng"]
        torch.set_rng_state(ckpt["torch_rng"])
        feedback.queries_used = ckpt["queries_used"]
        state.update(ckpt["state"])
        phases.update(ckpt["phases"])
        paths.truncate_metrics(state["metric_rows"], METRIC_FIELDS)
        log.info("resumed %s at update %d", paths.root, state["updates"])
    t_start = time.perf_counter() - state["wall_offset"]

    if not state["labelled"]:
        with _timed(phases, "feedback"):
            out = feedback_sessions(method, data, feedback, budget)
            state["reward_loss"] = float(out.get("loss", float("nan")))
        with _timed(phases, "relabel"):
            state["relabel"] = relabel(method, data)
        state["labelled"] = True
    # from the rewards IQL trains on (restored from the checkpoint on a resume)
    alignment = reward_alignment(
        data.rewards,
        progress_levels(data.privileged["progress"], data.privileged["success"], task.levels),
    )
    resolved["relabel"] = state["relabel"]
    write_json(paths.config, resolved)

    def metrics_row(success_rate: float, eval_return: float) -> dict[str, Any]:
        return {
            "step": state["updates"],
            "episodes": data_stats["episodes"],
            "success_rate": success_rate,
            "eval_return": eval_return,
            "train_success": float(
                np.mean(data.privileged["success"][data.terminals | data.timeouts])
            ),
            "queries": feedback.queries_used,
            **oracle_counters(oracle),
            "reward_loss": state["reward_loss"],
            # privileged, for the log only: no method ever sees progress
            "reward_alignment": alignment,
            "wall_s": round(time.perf_counter() - t_start, 3),
        }

    def save_checkpoint() -> None:
        # Checkpoints come after relabelling, when all IQL needs from the reward method is the
        # relabelled rewards saved here; the method's own state (the frames of every labelled
        # trajectory: 511 MB at the short budget) is left out, and a resumed run never uses it.
        state["wall_offset"] = time.perf_counter() - t_start
        paths.save_checkpoint(
            {
                "agent": agent.state_dict(),
                "rewards": data.rewards.copy(),
                "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "queries_used": feedback.queries_used,
                "state": dict(state),
                "phases": dict(phases),
            }
        )

    sinks = MetricSinks(paths.root, cfg.log_sinks, resolved, f"{cfg.task} {cfg.method} s{cfg.seed}")

    def evaluate_and_log() -> None:
        with _timed(phases, "eval"):
            sr, ret = evaluate_policy(agent, eval_env, eval_seeds, max_len)
        row = metrics_row(sr, ret)
        paths.append_metrics(row, METRIC_FIELDS)  # the record; sinks only mirror it
        sinks.log(row)
        state["metric_rows"] += 1
        state["success_rate"] = sr
        if progress is not None:
            progress(step=state["updates"], success=sr, queries=feedback.queries_used)

    total = budget.offline_updates
    every = max(1, budget.eval_every)
    if state["updates"] == 0 and state["metric_rows"] == 0:
        evaluate_and_log()
        with _timed(phases, "checkpoint"):
            save_checkpoint()
    while state["updates"] < total:
        with _timed(phases, "update"):
            stop = min(total, (state["updates"] // every + 1) * every)
            while state["updates"] < stop:
                agent.update(data.sample(parts.iql.batch_size, rng))
                state["updates"] += 1
        evaluate_and_log()
        if state["updates"] < total:
            with _timed(phases, "checkpoint"):
                save_checkpoint()

    sinks.close()
    wall = time.perf_counter() - t_start
    paths.finish(
        oracle,
        cfg.oracle,
        phases,
        wall,
        final_success_rate=state["success_rate"],
        steps=state["updates"],
    )
    return paths.root
