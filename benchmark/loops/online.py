"""One online run: SAC on one task with one reward method, on the PEBBLE schedule.

Read it top to bottom: build everything from the resolved config, then the loop —
act, step, store, label the new transition, (feedback session → train reward → relabel the
buffer → after the first one, reset the critic and run `reset_updates` extra updates), update
the agent, evaluate. The budget's harness fields (replay capacity, query pool, labelling,
extra updates, method schedules) default to the reference code's (docs/deviations.md).

Metrics are appended to `metrics.csv` as they are produced and a checkpoint is written at the
first episode boundary after each evaluation, so a killed run resumes where it stopped and,
with the oracle in replay mode, ends with the same metrics as an unbroken one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.analysis.stats import progress_levels, reward_alignment
from benchmark.config import PAPER, Budget, RunConfig
from benchmark.loops.feedback import RunnerFeedback, ViewColumn
from benchmark.loops.harness import Harness, LoopState, Parts, build_parts, resolved_config
from benchmark.rl.buffer import ReplayBuffer, check_frame_memory
from benchmark.rl.exploration import StateEntropyReward
from benchmark.rl.sac import SAC, SACConfig

log = logging.getLogger(__name__)

#: transitions per block when a session relabels the whole buffer: a 50k-step buffer's frames
#: copied at once were 600 MB on top of the buffer itself
RELABEL_BLOCK = 4096


@dataclass
class OnlineState(LoopState):
    """The online loop's counters (checkpointed); `step` counts environment steps."""

    episode: int = 0
    ep_len: int = 0
    next_eval: int = 0
    next_session: int = 0
    critic_reset: bool = False
    train_success: list[float] = field(default_factory=list)
    ep_success: bool = False


@dataclass(frozen=True)
class Schedule:
    """When feedback sessions happen and how many queries they ask."""

    feedback_every: int
    queries_per_session: int
    max_queries: int


def feedback_schedule(budget: Budget, method: Any, explicit: set[str]) -> Schedule:
    """The budget's schedule, or the method's reference schedule scaled as the budget is.

    A method whose reference code ran its own schedule (RL-VLM-F's run.sh) declares it at the
    paper's scale in `reference_schedule`; with `budget.method_schedule` each number is scaled
    by the budget's own ratio to the paper's (short: feedback every 2500 of 5000 steps, so
    RL-VLM-F's 4000 becomes 2000), and the method may adjust its own per-task settings (options
    the user set, `explicit`, are kept).
    """
    own = Schedule(budget.feedback_every, budget.queries_per_session, budget.max_queries)
    follow = getattr(method, "follow_reference_schedule", None)
    if not budget.method_schedule or follow is None:
        return own
    ref = follow(explicit)
    scaled = {k: max(1, round(v * getattr(budget, k) / getattr(PAPER, k))) for k, v in ref.items()}
    return Schedule(**{**own.__dict__, **scaled})


def replay_capacity(budget: Budget) -> int:
    """The reference's 200k (it keeps images), or the whole run when that is shorter."""
    return min(budget.total_steps, budget.replay_capacity or budget.total_steps)


def reset_critic(
    agent: SAC, buffer: ReplayBuffer, rng: np.random.Generator, batch_size: int, updates: int
) -> None:
    """PEBBLE after the first reward session: a new critic (the old one learned the intrinsic
    reward), then the reference's `update_after_reset`: `updates` updates on the relabelled
    buffer before the next step."""
    agent.reset_critic()
    for _ in range(updates):
        agent.update(buffer.sample(batch_size, rng, upto=buffer.labelled))


@dataclass
class Online:
    """What the online loop learns with, built from the run's parts by `build_online`."""

    env: Any
    eval_env: Any
    buffer: ReplayBuffer
    agent: SAC
    sac: SACConfig
    feedback: RunnerFeedback
    entropy: StateEntropyReward
    rng: np.random.Generator
    #: end of PEBBLE's unsupervised exploration (the first feedback session)
    unsup_end: int
    #: the two envs drive one physical robot (an evaluation then waits for the episode's end)
    one_robot: bool
    #: the first observation of episode 0 (a robot's reset is not repeated for nothing)
    first_obs: np.ndarray
    schedule: Schedule


def _episode_seed(seed: int, episode: int, evaluation: bool = False) -> int:
    """Distinct, reproducible reset seeds; evaluation reuses the same fresh episodes each time."""
    return (1_000_003 if evaluation else 0) + seed * 10_007 + episode


def evaluate(agent: SAC, env, seed: int, episodes: int) -> tuple[float, float]:
    """Success rate (success at any step, MetaWorld's convention) and mean dense return.

    Episodes end when the env says so: `TaskSpec.make` put the run's time limit on it.
    """
    successes, returns = [], []
    for j in range(episodes):
        obs, _ = env.reset(seed=_episode_seed(seed, j, evaluation=True))
        ok, ret, done = False, 0.0, False
        while not done:
            obs, _, term, trunc, info = env.step(agent.act(obs, deterministic=True))
            ok = ok or bool(info["success"])
            ret += float(info["gt_reward"])
            done = term or trunc
        successes.append(ok)
        returns.append(ret)
    return float(np.mean(successes)), float(np.mean(returns))


def build_online(cfg: RunConfig, parts: Parts) -> Online:
    """Envs, buffer, SAC and the feedback gate; a scripted teacher needs privileged state."""
    task, budget, method = parts.task, parts.budget, parts.method
    frame_shape = (task.reward_frame_size, task.reward_frame_size, 3)
    # before any env exists: a buffer that cannot fit is refused now, not hours into the run
    check_frame_memory(replay_capacity(budget), frame_shape if method.needs_frames else None)
    env = task.make(cfg.seed, budget.max_episode_steps)
    if cfg.oracle == "scripted" and not env.unwrapped.has_privileged_state:
        env.close()
        raise ValueError(
            f"{cfg.task} is a real robot: the scripted teacher rates from a simulator's "
            "privileged progress, which it does not have. Use a VLM oracle (--oracle gemini|openai)."
        )
    eval_env = task.make(cfg.seed + 1, budget.max_episode_steps)
    obs_dim = int(np.prod(env.observation_space.shape))
    act_dim = int(np.prod(env.action_space.shape))
    first_obs, _ = env.reset(seed=_episode_seed(cfg.seed, 0))
    snap_dim = len(env.unwrapped.snapshot())
    frames = frame_shape if method.needs_frames else None
    buffer = ReplayBuffer(
        replay_capacity(budget), obs_dim, act_dim, frames, snap_dim, query_pool=budget.query_pool
    )
    sac = parts.sac or SACConfig()
    agent = SAC(obs_dim, act_dim, sac, cfg.seed)
    schedule = feedback_schedule(budget, method, set(cfg.method_options))
    feedback = RunnerFeedback.for_task(
        buffer,
        env.unwrapped.render_snapshot,
        parts.oracle,
        task,
        parts.levels,
        schedule.max_queries,
        views=ViewColumn(buffer.capacity),  # info["view"] per index, for view-placed teachers
    )
    learned = method.env_reward is None
    unsup_end = budget.seed_steps + (budget.unsup_steps if learned and method.query_kind else 0)
    # Two envs on one physical robot: an evaluation's reset would cut the training episode short
    # (RobotEnv reports it as preempted), so there evaluations wait for the episode to end.
    hardware = env.unwrapped.shared_hardware
    one_robot = hardware is not None and hardware == eval_env.unwrapped.shared_hardware
    rng = np.random.default_rng(cfg.seed)
    entropy = StateEntropyReward(norm=budget.entropy_norm)
    return Online(
        env,
        eval_env,
        buffer,
        agent,
        sac,
        feedback,
        entropy,
        rng,
        unsup_end,
        one_robot,
        first_obs,
        schedule,
    )


def label(method: Any, buffer: ReplayBuffer, idx: np.ndarray) -> None:
    """Recompute the rewards of buffer[idx] with the current reward function."""
    if method.env_reward == "dense":
        buffer.rewards[idx] = buffer.env_reward[idx]
    elif method.env_reward == "sparse":
        buffer.rewards[idx] = buffer.success[idx].astype(np.float32)
    elif method.is_ready:
        for lo in range(0, len(idx), RELABEL_BLOCK):  # bounded copies of the frames
            part = idx[lo : lo + RELABEL_BLOCK]
            frames = buffer.frames(part) if method.needs_frames else np.empty((len(part), 0))
            buffer.rewards[part] = method.reward(frames, buffer.observations(part))


def relabel(method: Any, buffer: ReplayBuffer, start: int, end: int) -> None:
    """Recompute rewards for buffer[start:end] with the current reward function."""
    if end <= start:
        return
    label(method, buffer, np.arange(start, end))
    buffer.labelled = end


def label_new(method: Any, buffer: ReplayBuffer, chunk: int) -> None:
    """Label the transitions stored since the last call, `chunk` at a time.

    Until then they wait outside the range SAC samples from (`buffer.labelled`). With chunk 1
    (the reference) each is labelled as it arrives; chunks only change when a reward is
    computed, not its value, since the reward function moves only at feedback sessions. Once
    the buffer has wrapped, the newest transition overwrote a labelled one, so it is labelled
    at once whatever the chunk.
    """
    if buffer.overwrote:
        relabel(method, buffer, buffer.labelled, buffer.capacity)
        label(method, buffer, np.array([(buffer.ptr - 1) % buffer.capacity]))
        return
    if buffer.size - buffer.labelled >= chunk or buffer.labelled == 0:
        relabel(method, buffer, buffer.labelled, buffer.size)


def _row(state: OnlineState, buffer: ReplayBuffer, levels: int, sr: float, ret: float) -> dict:
    """The online loop's metric columns (the harness adds queries, counters and wall time)."""
    recent = state.train_success[-10:]
    n = buffer.labelled
    return {
        "step": state.step,
        "episodes": state.episode,
        "success_rate": sr,
        "eval_return": ret,
        "train_success": float(np.mean(recent)) if recent else 0.0,
        # privileged, for the log only: no method ever sees progress
        "reward_alignment": reward_alignment(
            buffer.rewards[:n], progress_levels(buffer.progress[:n], buffer.success[:n], levels)
        ),
    }


def run(cfg: RunConfig, progress: Any = None, parts: Parts | None = None) -> Path:
    """Run (or resume) one online experiment; returns its results directory."""
    h = Harness(cfg, progress)
    if h.finished:
        return h.paths.root
    h.open()
    parts = parts or build_parts(cfg)
    o = build_online(cfg, parts)
    schedule = {
        **o.schedule.__dict__,
        "unsup_end": o.unsup_end,
        "max_episode_steps": parts.max_episode_steps,
        "success_metric": "success at any step of an evaluation episode",
    }
    h.start(resolved_config(cfg, parts, sac=o.sac.to_dict(), schedule=schedule))
    state = OnlineState(next_session=o.unsup_end)
    ckpt = h.resume(state)
    obs = o.first_obs
    if ckpt is not None:
        o.agent.load_state_dict(ckpt["agent"])
        parts.method.load_state_dict(ckpt["method"])
        o.buffer.load_state_dict(ckpt["buffer"])
        o.rng.bit_generator.state = ckpt["rng"]
        o.feedback.queries_used = ckpt["queries_used"]
        o.entropy.load_state_dict(ckpt["entropy"])
        o.feedback.views.load_state_dict(ckpt.get("views", {}))  # absent: an older checkpoint
        obs, _ = o.env.reset(seed=_episode_seed(cfg.seed, state.episode))
    train(cfg, h, parts, o, state, obs)
    with h.timed("eval"):
        sr, ret = evaluate(o.agent, o.eval_env, cfg.seed, parts.budget.eval_episodes)
    h.emit(
        state,
        parts.oracle,
        o.feedback.queries_used,
        **_row(state, o.buffer, parts.task.levels, sr, ret),
    )
    h.finish(parts.oracle, state, final_success_rate=sr)
    end_of_run(o)
    return h.paths.root


def train(
    cfg: RunConfig, h: Harness, parts: Parts, o: Online, state: OnlineState, obs: np.ndarray
) -> None:
    """PEBBLE's schedule: act, step, store, feedback session, relabel, update SAC, evaluate."""
    task, budget, method, buffer, agent = parts.task, parts.budget, parts.method, o.buffer, o.agent
    learned = method.env_reward is None
    env = o.env.unwrapped  # frames and snapshots; steps go through the time limit (o.env)
    act_dim = int(np.prod(o.env.action_space.shape))
    checkpoint_due = False
    while state.step < budget.total_steps:
        step = state.step

        if step >= state.next_eval and (state.ep_len == 0 or not o.one_robot):
            with h.timed("eval"):
                sr, ret = evaluate(agent, o.eval_env, cfg.seed, budget.eval_episodes)
            row = _row(state, buffer, task.levels, sr, ret)
            h.emit(state, parts.oracle, o.feedback.queries_used, **row)
            state.next_eval += budget.eval_every
            checkpoint_due = True
            if o.one_robot:  # the evaluation took the robot over; the new episode starts again
                obs, _ = o.env.reset(seed=_episode_seed(cfg.seed, state.episode))

        with h.timed("env"):
            if step < budget.seed_steps:  # seeded, unlike action_space.sample()
                action = o.rng.uniform(-1, 1, act_dim).astype(np.float32)
            else:
                action = agent.act(obs)
            next_obs, _, term, trunc, info = o.env.step(action)
            state.ep_len += 1
            frame = env.render_frame(task.reward_frame_size) if method.needs_frames else None
            method.observe(next_obs, frame)
            index = buffer.add(
                obs,
                action,
                next_obs,
                term,
                state.episode,
                frame,
                env.snapshot(),
                float(info["gt_reward"]),
                bool(info["success"]),
                float(info.get("progress", 0.0)),
            )
            o.feedback.views.record(index, info)
            if term or trunc:
                buffer.end_episode()
            state.ep_success = state.ep_success or bool(info["success"])
            obs = next_obs
            state.step = step = step + 1

        if step >= state.next_session and method.query_kind and o.feedback.budget_left > 0:
            with h.timed("feedback"):
                n = min(o.schedule.queries_per_session, o.feedback.budget_left)
                out = method.query_and_update(buffer, o.feedback, n)
                state.reward_loss = float(out.get("loss", float("nan")))
            with h.timed("relabel"):
                relabel(method, buffer, 0, buffer.size)
            if not state.critic_reset and budget.unsup_steps and learned:
                with h.timed("update"):
                    reset_critic(agent, buffer, o.rng, o.sac.batch_size, budget.reset_updates)
                state.critic_reset = True
            state.next_session += o.schedule.feedback_every

        if step >= budget.seed_steps:
            with h.timed("relabel"):
                label_new(method, buffer, budget.label_chunk)
            with h.timed("update"):
                for _ in range(budget.updates_per_step):
                    batch = buffer.sample(o.sac.batch_size, o.rng, upto=buffer.labelled)
                    if step < o.unsup_end or not method.is_ready and learned:
                        batch["reward"] = o.entropy(
                            batch["next_obs"], buffer.next_obs[: buffer.size], o.rng
                        )
                    agent.update(batch)

        if term or trunc:
            state.train_success = [*state.train_success, float(state.ep_success)][-20:]
            state.episode += 1
            state.ep_len, state.ep_success = 0, False
            obs, _ = o.env.reset(seed=_episode_seed(cfg.seed, state.episode))
            if checkpoint_due:
                h.checkpoint(
                    state,
                    agent=agent.state_dict(),
                    method=method.state_dict(),
                    buffer=buffer.state_dict(),
                    rng=o.rng.bit_generator.state,
                    queries_used=o.feedback.queries_used,
                    entropy=o.entropy.state_dict(),
                    views=o.feedback.views.state_dict(buffer.size),
                )
                checkpoint_due = False


def end_of_run(o: Online) -> None:
    """The env's end-of-run hook (a robot deletes its buffered frames), then close both envs."""
    o.env.unwrapped.end_of_run(o.buffer.snapshots[: o.buffer.size])
    o.env.close()  # a robot env also stops its server; a sweep worker runs many runs
    o.eval_env.close()
