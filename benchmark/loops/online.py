"""One online run: SAC on one task with one reward method, on the PEBBLE schedule.

Read it top to bottom: build everything from the resolved config, then the loop —
act, step, store, (feedback session → train reward → relabel the buffer), update the agent,
evaluate. Metrics are appended to `metrics.csv` as they are produced and a checkpoint is
written at the first episode boundary after each evaluation, so a killed run resumes where it
stopped and, with the oracle in replay mode, ends with the same metrics as an unbroken one.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.analysis.stats import progress_levels, reward_alignment
from benchmark.config import Budget, get_budget
from benchmark.loops.feedback import RunnerFeedback
from benchmark.loops.sinks import MetricSinks
from benchmark.methods.base import RewardMethod
from benchmark.methods.registry import get_method
from benchmark.results import RunPaths, oracle_counters, stack_versions, write_json
from benchmark.rl.buffer import ReplayBuffer
from benchmark.rl.exploration import StateEntropyReward
from benchmark.rl.sac import SAC, SACConfig
from envs import get_task
from envs.spec import TaskSpec

log = logging.getLogger(__name__)

#: transitions labelled per reward-model call between feedback sessions
RELABEL_CHUNK = 64
#: transitions per block when a session relabels the whole buffer: a 50k-step buffer's frames
#: copied at once were 600 MB on top of the buffer itself
RELABEL_BLOCK = 4096

METRIC_FIELDS = [
    "step",
    "episodes",
    "success_rate",
    "eval_return",
    "train_success",
    "queries",
    "oracle_hits",
    "oracle_misses",
    "oracle_calls",
    "reward_loss",
    # stats.reward_alignment of the training reward over the labelled data, at the task's levels
    "reward_alignment",
    "wall_s",
]


@dataclass
class RunConfig:
    """Everything that defines a run; saved, resolved, next to its results."""

    task: str
    method: str
    seed: int
    budget: str = "smoke"
    oracle: str = "scripted"
    cache_mode: str = "record"
    cache_dir: str = ".cache/oracle"
    out_dir: str = "results"
    method_options: dict[str, Any] = field(default_factory=dict)
    oracle_options: dict[str, Any] = field(default_factory=dict)
    budget_overrides: dict[str, Any] = field(default_factory=dict)
    sac: dict[str, Any] = field(default_factory=dict)
    threads: int = 1
    backend: str | None = None
    #: metric mirrors besides metrics.csv: "tensorboard" (default), "wandb" (opt-in)
    log_sinks: list[str] = field(default_factory=lambda: ["tensorboard"])

    def run_dir(self) -> Path:
        return RunPaths.for_run(self.out_dir, self.task, self.method, self.seed).root


def describe_method(method: RewardMethod) -> dict[str, Any]:
    """The method's part of the resolved config: enough to rebuild it (class and options)."""
    return {
        "name": method.name,
        "class": f"{type(method).__module__}:{type(method).__qualname__}",
        "config": method.config.to_dict(),
        "query_kind": method.query_kind,
        "env_reward": method.env_reward,
    }


def describe_oracle(cfg: RunConfig, oracle: Any, levels: int) -> dict[str, Any]:
    """The oracle's part of the resolved config: every result names who rated it."""
    return {
        "provider": cfg.oracle,
        "name": getattr(oracle, "name", cfg.oracle),
        "mode": cfg.cache_mode,
        "cache_dir": cfg.cache_dir,
        "levels": levels,
    }


@contextmanager
def _timed(phases: dict[str, float], name: str):
    t0 = time.perf_counter()
    try:
        yield
    finally:
        phases[name] += time.perf_counter() - t0


def _episode_seed(seed: int, episode: int, evaluation: bool = False) -> int:
    """Distinct, reproducible reset seeds; evaluation reuses the same fresh episodes each time."""
    return (1_000_003 if evaluation else 0) + seed * 10_007 + episode


def build_method(cfg: RunConfig, task: TaskSpec, budget: Budget) -> RewardMethod:
    cls = get_method(cfg.method)
    options = dict(cfg.method_options)
    field_names = set(cls.Config.__dataclass_fields__)
    if "reward_epochs" in field_names:
        options.setdefault("reward_epochs", budget.reward_epochs)
    return cls(task, cls.Config.from_overrides(options), cfg.seed)


def evaluate(agent: SAC, env, seed: int, episodes: int, max_steps: int) -> tuple[float, float]:
    """Success rate (success at any step, MetaWorld's convention) and mean dense return."""
    successes, returns = [], []
    for j in range(episodes):
        obs, _ = env.reset(seed=_episode_seed(seed, j, evaluation=True))
        ok, ret = False, 0.0
        for _ in range(max_steps):
            obs, _, term, trunc, info = env.step(agent.act(obs, deterministic=True))
            ok = ok or bool(info["success"])
            ret += float(info["gt_reward"])
            if term or trunc:
                break
        successes.append(ok)
        returns.append(ret)
    return float(np.mean(successes)), float(np.mean(returns))


def run(cfg: RunConfig, progress: Any = None) -> Path:
    """Run (or resume) one experiment; returns its results directory."""
    from oracle_cache import build_oracle  # imported here so listing tasks never loads providers

    paths = RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed)
    if paths.done.exists():
        return paths.root
    paths.root.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, cfg.threads))

    task = get_task(cfg.task)
    budget = get_budget(cfg.budget).with_overrides(**cfg.budget_overrides)
    sac_cfg = SACConfig(**cfg.sac)
    method = build_method(cfg, task, budget)
    max_len = min(task.max_episode_steps, budget.max_episode_steps or task.max_episode_steps)
    levels = int(getattr(method.config, "levels", None) or task.levels)

    env = task.make_env(cfg.seed)
    if cfg.oracle == "scripted" and not getattr(env, "has_privileged_state", True):
        env.close()
        raise ValueError(
            f"{cfg.task} is a real robot: the scripted teacher rates from a simulator's "
            "privileged progress, which it does not have. Use a VLM oracle (--oracle gemini|openai)."
        )
    eval_env = task.make_env(cfg.seed + 1)
    obs_dim = int(np.prod(env.observation_space.shape))
    act_dim = int(np.prod(env.action_space.shape))
    obs, _ = env.reset(seed=_episode_seed(cfg.seed, 0))
    snap_dim = len(env.snapshot())
    frame_shape = (task.reward_frame_size, task.reward_frame_size, 3)
    buffer = ReplayBuffer(
        budget.total_steps, obs_dim, act_dim, frame_shape if method.needs_frames else None, snap_dim
    )
    agent = SAC(obs_dim, act_dim, sac_cfg, cfg.seed)
    oracle = build_oracle(cfg.oracle, cfg.cache_mode, cfg.cache_dir, cfg.oracle_options)
    feedback = RunnerFeedback(
        buffer,
        env.render_snapshot,
        oracle,
        task.name,
        task.instruction,
        levels,
        task.oracle_frame_size,
        budget.max_queries,
    )
    entropy = StateEntropyReward()
    rng = np.random.default_rng(cfg.seed)
    learned = method.env_reward is None
    unsup_end = budget.seed_steps + (budget.unsup_steps if learned and method.query_kind else 0)

    resolved = {
        "run": {k: v for k, v in cfg.__dict__.items()},
        "task": task.summary(),
        "method": describe_method(method),
        "budget": budget.to_dict(),
        "sac": sac_cfg.to_dict(),
        "oracle": describe_oracle(cfg, oracle, levels),
        "schedule": {
            "unsup_end": unsup_end,
            "max_episode_steps": max_len,
            "success_metric": "success at any step of an evaluation episode",
        },
    }
    write_json(paths.config, resolved)
    sinks = MetricSinks(paths.root, cfg.log_sinks, resolved, f"{cfg.task} {cfg.method} s{cfg.seed}")

    def emit(row: dict[str, Any]) -> None:
        paths.append_metrics(row, METRIC_FIELDS)  # the record; sinks only mirror it
        sinks.log(row)

    write_json(paths.versions, stack_versions())

    phases: dict[str, float] = defaultdict(float)
    state = {
        "step": 0,
        "episode": 0,
        "ep_len": 0,
        "next_eval": 0,
        "next_session": unsup_end,
        "critic_reset": False,
        "train_success": [],
        "ep_success": False,
        "reward_loss": float("nan"),
        "wall_offset": 0.0,
        "metric_rows": 0,
    }
    if paths.checkpoint.exists():
        ckpt = torch.load(paths.checkpoint, weights_only=False)
        agent.load_state_dict(ckpt["agent"])
        method.load_state_dict(ckpt["method"])
        buffer.load_state_dict(ckpt["buffer"])
        rng.bit_generator.state = ckpt["rng"]
        torch.set_rng_state(ckpt["torch_rng"])
        feedback.queries_used = ckpt["queries_used"]
        entropy.load_state_dict(ckpt["entropy"])
        state.update(ckpt["state"])
        phases.update(ckpt["phases"])
        paths.truncate_metrics(state["metric_rows"], METRIC_FIELDS)
        obs, _ = env.reset(seed=_episode_seed(cfg.seed, state["episode"]))
        log.info("resumed %s at step %d", paths.root, state["step"])
    t_start = time.perf_counter() - state["wall_offset"]

    def relabel(start: int, end: int) -> None:
        """Recompute learned rewards for buffer[start:end] with the current reward function."""
        if end <= start:
            return
        idx = np.arange(start, end)
        if method.env_reward == "dense":
            buffer.rewards[idx] = buffer.env_reward[idx]
        elif method.env_reward == "sparse":
            buffer.rewards[idx] = buffer.success[idx].astype(np.float32)
        elif method.is_ready:
            for lo in range(start, end, RELABEL_BLOCK):  # bounded copies of the frames
                part = idx[lo - start : lo - start + RELABEL_BLOCK]
                frames = buffer.frames(part) if method.needs_frames else np.empty((len(part), 0))
                buffer.rewards[part] = method.reward(frames, buffer.observations(part))
        buffer.labelled = end

    def metrics_row(success_rate: float, eval_return: float) -> dict[str, Any]:
        recent = state["train_success"][-10:]
        return {
            "step": state["step"],
            "episodes": state["episode"],
            "success_rate": success_rate,
            "eval_return": eval_return,
            "train_success": float(np.mean(recent)) if recent else 0.0,
            "queries": feedback.queries_used,
            **oracle_counters(oracle),
            "reward_loss": state["reward_loss"],
            # privileged, for the log only: no method ever sees progress
            "reward_alignment": reward_alignment(
                buffer.rewards[: buffer.labelled],
                progress_levels(
                    buffer.progress[: buffer.labelled],
                    buffer.success[: buffer.labelled],
                    task.levels,
                ),
            ),
            "wall_s": round(time.perf_counter() - t_start, 3),
        }

    def save_checkpoint() -> None:
        state["wall_offset"] = time.perf_counter() - t_start
        paths.save_checkpoint(
            {
                "agent": agent.state_dict(),
                "method": method.state_dict(),
                "buffer": buffer.state_dict(),
                "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "queries_used": feedback.queries_used,
                "entropy": entropy.state_dict(),
                "state": dict(state),
                "phases": dict(phases),
            }
        )

    # Two envs on one physical robot: an evaluation's reset would cut the training episode short
    # (RobotEnv reports it as preempted), so there evaluations wait for the episode to end.
    address = getattr(env.unwrapped, "robot_address", None)
    one_robot = address is not None and address == getattr(eval_env.unwrapped, "robot_address", 0)
    checkpoint_due = False
    while state["step"] < budget.total_steps:
        step = state["step"]

        if step >= state["next_eval"] and (state["ep_len"] == 0 or not one_robot):
            with _timed(phases, "eval"):
                sr, ret = evaluate(agent, eval_env, cfg.seed, budget.eval_episodes, max_len)
            emit(metrics_row(sr, ret))
            state["metric_rows"] += 1
            state["next_eval"] += budget.eval_every
            checkpoint_due = True
            if one_robot:  # the evaluation took the robot over; the new episode starts again
                obs, _ = env.reset(seed=_episode_seed(cfg.seed, state["episode"]))
            if progress is not None:
                progress(step=step, success=sr, queries=feedback.queries_used)

        with _timed(phases, "env"):
            if step < budget.seed_steps:
                action = rng.uniform(-1, 1, act_dim).astype(
                    np.float32
                )  # seeded, unlike action_space
            else:
                action = agent.act(obs)
            next_obs, _, term, trunc, info = env.step(action)
            state["ep_len"] += 1
            trunc = trunc or state["ep_len"] >= max_len
            frame = env.render_frame(task.reward_frame_size) if method.needs_frames else None
            method.observe(next_obs, frame)
            buffer.add(
                obs,
                action,
                next_obs,
                term,
                state["episode"],
                frame,
                env.snapshot(),
                float(info["gt_reward"]),
                bool(info["success"]),
                float(info.get("progress", 0.0)),
            )
            state["ep_success"] = state["ep_success"] or bool(info["success"])
            obs = next_obs
            state["step"] = step = step + 1

        if step >= state["next_session"] and method.query_kind and feedback.budget_left > 0:
            with _timed(phases, "feedback"):
                n = min(budget.queries_per_session, feedback.budget_left)
                out = method.query_and_update(buffer, feedback, n)
                state["reward_loss"] = float(out.get("loss", float("nan")))
            with _timed(phases, "relabel"):
                relabel(0, buffer.size)
            if not state["critic_reset"] and budget.unsup_steps and learned:
                agent.reset_critic()  # PEBBLE: the critic learned the intrinsic reward so far
                state["critic_reset"] = True
            state["next_session"] += budget.feedback_every

        if step >= budget.seed_steps:
            if buffer.size - buffer.labelled >= RELABEL_CHUNK or buffer.labelled == 0:
                # new transitions are labelled in chunks (one CNN call per chunk, not per step);
                # until then they wait outside the sampled range
                with _timed(phases, "relabel"):
                    relabel(buffer.labelled, buffer.size)
            with _timed(phases, "update"):
                for _ in range(budget.updates_per_step):
                    batch = buffer.sample(sac_cfg.batch_size, rng, upto=buffer.labelled)
                    if step < unsup_end or not method.is_ready and learned:
                        batch["reward"] = entropy(
                            batch["next_obs"], buffer.next_obs[: buffer.size], rng
                        )
                    agent.update(batch)

        if term or trunc:
            state["train_success"].append(float(state["ep_success"]))
            state["train_success"] = state["train_success"][-20:]
            state["episode"] += 1
            state["ep_len"], state["ep_success"] = 0, False
            obs, _ = env.reset(seed=_episode_seed(cfg.seed, state["episode"]))
            if checkpoint_due:
                with _timed(phases, "checkpoint"):
                    save_checkpoint()
                checkpoint_due = False

    with _timed(phases, "eval"):
        sr, ret = evaluate(agent, eval_env, cfg.seed, budget.eval_episodes, max_len)
    emit(metrics_row(sr, ret))
    total = time.perf_counter() - t_start
    paths.finish(oracle, cfg.oracle, phases, total, final_success_rate=sr, steps=state["step"])
    sinks.close()
    discard = getattr(env.unwrapped, "discard_frames", None)
    if discard is not None and os.environ.get("VLMBENCH_KEEP_FRAMES") != "1":
        # a real robot's buffered frames (GBs per long run) were kept for rating and resuming;
        # the run is done, and the frames the oracle saw are in its cache
        removed = discard(buffer.snapshots[: buffer.size])
        log.info("deleted %d robot frame store(s) of the finished run", len(removed))
    env.close()  # a robot env also stops its server; a sweep worker runs many runs
    eval_env.close()
    return paths.root
