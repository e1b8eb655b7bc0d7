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
(gt-reward's progress differences, sparse) are left alone unless the budget's
`offline_shift_env_rewards` says otherwise: on data that undoes and redoes steps, left alone
they let IQL learn the detour loop (a difference of progress sums to zero over a detour; docs/
alfred-v2-pilots.md), shifted they charge for it as the learned rewards do. The online
MetaWorld loop, whose episodes do not end on success, does not relabel through here.

Offline meanings of the shared metric columns: `step` = IQL updates so far, `episodes` =
dataset episodes, `train_success` = the dataset's share of successful episodes (a property of
the data, constant over the run), `queries` = oracle queries spent (all before IQL starts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.analysis.stats import progress_levels, reward_alignment
from benchmark.config import Budget, RunConfig
from benchmark.loops.feedback import RunnerFeedback
from benchmark.loops.harness import Harness, LoopState, Parts, build_parts, resolved_config
from benchmark.loops.offline_data import OfflineDataset, build_dataset, episode_seeds
from benchmark.methods.base import RewardMethod
from benchmark.rl.iql import IQL

#: twin episodes cost milliseconds, and 3 evaluation episodes (the smoke budget) would measure
#: success in steps of 33 %: offline evaluations use at least this many fresh scenes
EVAL_EPISODES_MIN = 20


@dataclass
class OfflineState(LoopState):
    """The offline loop's counters (checkpointed); `step` counts IQL updates."""

    labelled: bool = False
    relabel: dict[str, Any] = field(default_factory=dict)
    success_rate: float = float("nan")


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


def relabel(
    method: RewardMethod, data: OfflineDataset, chunk: int = 4096, shift_env: bool = False
) -> dict[str, Any]:
    """Fill data.rewards from the method (the env's dense or sparse reward for reference ones).

    Returns what was done, for the run's config: the reward's source and the `offset`
    subtracted from a learned reward on a dataset whose episodes end on success (module
    docstring: there, every step must cost something or IQL learns to avoid finishing), and
    from the env's reward too when `shift_env` (the budget's `offline_shift_env_rewards`).
    """
    if method.env_reward == "dense":
        data.rewards[:] = data.privileged["gt_reward"]
        info: dict[str, Any] = {"source": "env: gt_reward (progress differences)", "offset": 0.0}
    elif method.env_reward == "sparse":
        data.rewards[:] = data.privileged["success"].astype(np.float32)
        info = {"source": "env: 1 on success", "offset": 0.0}
    else:
        if not method.is_ready:
            raise RuntimeError(f"method {method.name} has no reward after its feedback sessions")
        for start in range(0, data.size, chunk):
            idx = np.arange(start, min(data.size, start + chunk))
            frames = data.frames[idx] if method.needs_frames else np.empty((len(idx), 0))
            data.rewards[idx] = np.asarray(method.reward(frames, data.next_obs[idx]), np.float32)
        info = {"source": f"learned: {method.name}", "offset": 0.0}
    if data.terminals.any() and (method.env_reward is None or shift_env):
        offset = float(data.rewards.max())
        data.rewards -= np.float32(offset)
        info.update(
            offset=offset,
            rule="episodes end on success: reward minus its dataset maximum, so every step costs",
        )
    info["range"] = [float(data.rewards.min()), float(data.rewards.max())]
    return info


def evaluate_policy(agent: IQL, env: Any, seeds: np.ndarray) -> tuple[float, float]:
    """Success rate (success at any step) and mean dense return of the greedy masked policy;
    episodes end when the env says so (`TaskSpec.make` put the run's time limit on it)."""
    wins, returns = [], []
    for s in seeds:
        obs, info = env.reset(seed=int(s))
        ok, ret, done = False, 0.0, False
        while not done:
            obs, _, term, trunc, info = env.step(agent.act(obs, info["action_mask"], greedy=True))
            ok, ret = ok or bool(info["success"]), ret + float(info["gt_reward"])
            done = term or trunc
        wins.append(ok)
        returns.append(ret)
    return float(np.mean(wins)), float(np.mean(returns))


def _dataset_columns(data: OfflineDataset, stats: dict[str, Any], levels: int) -> dict[str, Any]:
    """The dataset's columns of every metric row, from the rewards IQL trains on (restored from
    the checkpoint on a resume)."""
    priv = data.privileged
    return {
        "episodes": stats["episodes"],
        "train_success": float(np.mean(priv["success"][data.terminals | data.timeouts])),
        # privileged, for the log only: no method ever sees progress
        "reward_alignment": reward_alignment(
            data.rewards, progress_levels(priv["progress"], priv["success"], levels)
        ),
    }


def run_offline(
    cfg: RunConfig,
    progress: Callable[..., None] | None = None,
    parts: Parts | None = None,
) -> Path:
    """Run (or resume) one offline experiment; returns its results directory."""
    h = Harness(cfg, progress)
    if h.finished:
        return h.paths.root
    h.open()
    parts = parts or build_parts(cfg)
    task, budget, method, oracle = parts.task, parts.budget, parts.method, parts.oracle
    if task.action_kind != "discrete":
        raise ValueError(f"{task.name}: the offline loop is for discrete-action tasks")
    max_len = parts.max_episode_steps
    with h.timed("dataset"):
        data = build_dataset(
            task,
            budget.offline_episodes,
            seed=cfg.seed,
            mix=budget.offline_mix,
            fork_error=budget.offline_fork_error,
            dawdle=budget.offline_dawdle,
            max_episode_steps=max_len,
        )
    env = task.make_env(cfg.seed)  # renders the oracle's frames; never stepped
    eval_env = task.make(cfg.seed + 1, max_len)
    n_eval = max(budget.eval_episodes, EVAL_EPISODES_MIN)
    eval_seeds = episode_seeds(cfg.seed, n_eval, "eval")
    structure = env.unwrapped.obs_structure
    agent = IQL(data.obs.shape[1], data.masks.shape[1], parts.iql, cfg.seed, structure)
    feedback = RunnerFeedback.for_task(
        _PrivilegedColumns(data),
        env.render_snapshot,
        oracle,
        task,
        parts.levels,
        budget.max_queries,
    )
    rng = np.random.default_rng([cfg.seed, 0x1C1])
    data_stats = data.stats()
    network = "SlotNet" if structure and parts.iql.network == "auto" else "MLP"
    resolved = resolved_config(
        cfg,
        parts,
        iql={**parts.iql.to_dict(), "network": network},
        dataset={**data.meta, "digest": dataset_digest(data), "stats": data_stats},
        schedule={
            "loop": "offline: feedback sessions on the dataset, relabel, then IQL",
            "max_episode_steps": max_len,
            "eval_episodes": n_eval,
            "success_metric": "success at any step of an evaluation episode on unseen scenes",
        },
    )
    h.write_config(resolved)

    state = OfflineState()
    ckpt = h.resume(state)
    if ckpt is not None:
        agent.load_state_dict(ckpt["agent"])
        data.rewards[:] = ckpt["rewards"]
        rng.bit_generator.state = ckpt["rng"]
        feedback.queries_used = ckpt["queries_used"]
    if not state.labelled:
        with h.timed("feedback"):
            out = feedback_sessions(method, data, feedback, budget)
            state.reward_loss = float(out.get("loss", float("nan")))
        with h.timed("relabel"):
            state.relabel = relabel(method, data, shift_env=bool(budget.offline_shift_env_rewards))
        state.labelled = True
    resolved["relabel"] = state.relabel
    h.start(resolved)
    row = _dataset_columns(data, data_stats, task.levels)

    def evaluate_and_log() -> None:
        with h.timed("eval"):
            sr, ret = evaluate_policy(agent, eval_env, eval_seeds)
        state.success_rate = sr
        h.emit(
            state,
            oracle,
            feedback.queries_used,
            step=state.step,
            success_rate=sr,
            eval_return=ret,
            **row,
        )

    def checkpoint() -> None:
        # Checkpoints come after relabelling, when all IQL needs from the reward method is the
        # relabelled rewards saved here; the method's own state (the frames of every labelled
        # trajectory: 511 MB at the short budget) is left out, and a resumed run never uses it.
        h.checkpoint(
            state,
            agent=agent.state_dict(),
            rewards=data.rewards.copy(),
            rng=rng.bit_generator.state,
            queries_used=feedback.queries_used,
        )

    total, every = budget.offline_updates, max(1, budget.eval_every)
    if state.step == 0 and state.metric_rows == 0:
        evaluate_and_log()
        checkpoint()
    while state.step < total:
        with h.timed("update"):
            stop = min(total, (state.step // every + 1) * every)
            while state.step < stop:
                agent.update(data.sample(parts.iql.batch_size, rng))
                state.step += 1
        evaluate_and_log()
        if state.step < total:
            checkpoint()
    return h.finish(oracle, state, final_success_rate=state.success_rate)
