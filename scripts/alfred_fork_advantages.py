"""What IQL learns at the forks of a logged ALFRED dataset: a diagnostic for issue 21.

    python scripts/alfred_fork_advantages.py --source decoys --fork-error 0.7 --updates 5000

A reward can change IQL's policy only where the logged data disagree with themselves, and only
through the advantage gap between the choices. This script builds one offline dataset (the twin
task, seed, mix and fork error given), finds its **fork states**: in every episode, the first
state where the logged action differs from the planner's (envs/alfred/planner.py), i.e. where a
flawed expert turned off the right plan. It then trains IQL (the suite's defaults unless told)
on the same data with each reward, and reports at those states, per fork (by the task's progress
there) and per reward:

* the critic's gap Q(s, right) - Q(s, wrong) (the min of the online critic's twin heads);
* how much more weight the policy loss gives the right turn than the wrong one at that state:
  the ratio of IQL's weights exp(temperature x advantage), from the target critic and each
  clipped at `max_weight`, as IQL's policy loss computes them (cloning: 1);
* the trained policy's probability of the right and of the wrong action, and how often its
  greedy choice is the right one.

With `--eval N` it also runs each trained greedy policy on N evaluation scenes (the offline
loop's, `episode_seeds(seed, N, "eval")`) and reports, besides the success rate, how far the
failed episodes got: the share that ended at each value of the task's progress (its highest
value in the episode), which says at which subgoal the policy goes wrong.

The rewards are the dataset's privileged columns: `gt_reward` (the twin's progress differences,
what the gt-reward method uses), `sparse_reward` (1 on success), `none` (zeros: cloning with
IQL's machinery), and `progress` (the progress of the state reached: a state-based reward like
the level a rating teacher gives, which no method of the suite uses as its reference). Each
but `none` also comes as `<name>-cost`: the column minus its maximum over the dataset, the
shift the offline loop gives learned rewards on tasks that end on success (every step costs).
Without `--eval` it trains and reads networks only.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

import numpy as np
import torch

from benchmark.loops.offline_data import SOURCES, build_dataset, episode_seeds
from benchmark.rl.iql import IQL, IQLConfig, masked_logits
from envs import get_task
from envs.alfred.actions import decode
from envs.alfred.planner import PlanningError, expert_action

REWARDS = {"gt": "gt_reward", "sparse": "sparse_reward", "none": None, "progress": "progress"}
#: `sparse+level`: sparse plus (1 - discount) x the progress of the state reached, on every
#: transition that does not end the episode on success. IQL on it has exactly gt's advantages
#: (Q_gt(s, a) = Q(s, a) - progress(s), and V shifts alike), because gt-reward, a difference of
#: progress, is potential-based shaping; see docs/alfred-v2-pilots.md, section 8
REWARDS |= {"sparse+level": "sparse_reward"}
#: `<name>-cost`: that column minus its maximum over the dataset, the shift the offline loop
#: gives learned rewards on tasks that end on success (every step costs, success costs least)
REWARDS |= {f"{k}-cost": v for k, v in REWARDS.items() if v is not None}


def fork_states(task, data, seed: int) -> list[dict]:
    """First divergence from the planner in each episode: (index, obs, mask, right, wrong, stage)."""
    env = task.make_env(seed)
    scenes = episode_seeds(seed, len(data.episodes()))
    out = []
    for ep, idx in enumerate(data.episodes()):
        if SOURCES[int(data.sources[idx[0]])] == "random":
            continue  # random episodes diverge at once; they are not forks of the plan
        env.reset(seed=int(scenes[ep]))
        for i in idx:
            state = env.unwrapped.state
            try:
                right = expert_action(state)
            except PlanningError:
                break
            taken = int(data.actions[i])
            if taken != right:
                progress = float(data.privileged["progress"][i - 1]) if i > idx[0] else 0.0
                out.append(
                    {
                        "i": int(i),
                        "right": int(right),
                        "wrong": taken,
                        "progress": progress,
                    }
                )
                break
            env.step(taken)
    return out


def train(data, reward: str | None, cfg: IQLConfig, updates: int, seed: int, structure) -> IQL:
    if reward is None:
        data.rewards[:] = 0.0
    else:
        column = REWARDS[reward]
        data.rewards[:] = data.privileged[column]
        if reward == "sparse+level":
            level = (1.0 - cfg.discount) * data.privileged["progress"]
            data.rewards += np.where(data.terminals, 0.0, level).astype(np.float32)
        if reward.endswith("-cost"):
            data.rewards -= np.float32(data.rewards.max())
    agent = IQL(data.obs.shape[1], data.masks.shape[1], cfg, seed, structure)
    rng = np.random.default_rng([seed, 0x1C1])
    for _ in range(updates):
        agent.update(data.sample(cfg.batch_size, rng))
    return agent


@torch.no_grad()
def measure(agent: IQL, data, forks: list[dict]) -> list[dict]:
    idx = np.array([f["i"] for f in forks])
    obs = torch.from_numpy(data.obs[idx])
    mask = torch.from_numpy(data.masks[idx])
    q = agent.q(obs).min(0).values
    # the policy loss's weights as IQL computes them: exp(temperature x advantage) from the
    # target critic, clipped at max_weight
    cfg = agent.config
    adv = agent.q_target(obs).min(0).values - agent.v(obs)
    weight = torch.exp(cfg.temperature * adv).clamp(max=cfg.max_weight)
    probs = torch.softmax(masked_logits(agent.policy(obs), mask), -1)
    rows = []
    for k, f in enumerate(forks):
        gap = float(q[k, f["right"]] - q[k, f["wrong"]])
        rows.append(
            {
                **f,
                "gap": gap,
                "weight_ratio": float(weight[k, f["right"]] / weight[k, f["wrong"]]),
                "p_right": float(probs[k, f["right"]]),
                "p_wrong": float(probs[k, f["wrong"]]),
                "greedy_right": bool(int(probs[k].argmax()) == f["right"]),
            }
        )
    return rows


def rollouts(agent: IQL, task, seed: int, n: int) -> list[dict]:
    """Per evaluation scene of the loop's n: success, the highest progress, and (for a failure)
    the verbs of the actions taken after the last step that raised progress, in order."""
    env = task.make(seed + 1, task.max_episode_steps)
    out = []
    for scene in episode_seeds(seed, n, "eval"):
        obs, info = env.reset(seed=int(scene))
        best, ok, done, since = 0.0, False, False, []
        while not done:
            a = agent.act(obs, info["action_mask"], greedy=True)
            obs, _, term, trunc, info = env.step(a)
            since.append(decode(int(a))[0])
            if float(info["progress"]) > best:
                best, since = float(info["progress"]), []
            ok, done = ok or bool(info["success"]), term or trunc
        out.append({"success": ok, "best": best, "after": [] if ok else since})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="alfred-v2/pick-cool-then-place")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--episodes", type=int, default=400)
    ap.add_argument("--source", default="decoys")
    ap.add_argument("--share", type=float, default=0.9, help="the source's share; random the rest")
    ap.add_argument(
        "--mix", help="a whole mix as JSON (source -> share); replaces --source/--share"
    )
    ap.add_argument(
        "--fork-error", type=json.loads, default=0.7, help="one probability, or JSON {fork: p}"
    )
    ap.add_argument("--dawdle", type=float, default=None, help="the dawdle source's detour chance")
    ap.add_argument("--updates", type=int, default=5000)
    ap.add_argument("--rewards", default="gt,sparse,none")
    ap.add_argument("--iql-opt", action="append", default=[], help="KEY=VALUE (JSON value)")
    ap.add_argument("--eval", type=int, default=0, help="evaluation scenes per trained policy")
    ap.add_argument("--json", help="also write every fork's numbers here")
    ap.add_argument(
        "--bank-timeouts",
        action="store_true",
        help="end episodes that time out or stop as terminals (no bootstrap), so that a failed "
        "episode keeps the progress it reached; the offline loop bootstraps them",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    task = get_task(args.task)
    mix = (
        json.loads(args.mix)
        if args.mix
        else {args.source: args.share, "random": round(1 - args.share, 6)}
    )
    data = build_dataset(
        task, args.episodes, args.seed, mix=mix, fork_error=args.fork_error, dawdle=args.dawdle
    )
    forks = fork_states(task, data, args.seed)
    if args.bank_timeouts:
        data.terminals |= data.timeouts
    cfg = IQLConfig(**{k: json.loads(v) for k, v in (o.split("=", 1) for o in args.iql_opt)})
    structure = task.make_env(args.seed).unwrapped.obs_structure
    print(
        f"{args.task} seed {args.seed}: {len(data.episodes())} episodes, mix {mix}, fork error "
        f"{args.fork_error}; {len(forks)} fork states; IQL {args.updates} updates, "
        f"temperature {cfg.temperature}"
        + (", timeouts banked as terminals" if args.bank_timeouts else "")
    )
    print(
        "| reward | progress at fork | forks | mean Q gap | median weight ratio | "
        "mean p(right) | mean p(wrong) | greedy right |"
    )
    print("|---|---|---|---|---|---|---|---|")
    dump, evals = {}, {}
    for name in args.rewards.split(","):
        agent = train(
            data, name if REWARDS[name] else None, cfg, args.updates, args.seed, structure
        )
        rows = measure(agent, data, forks)
        dump[name] = rows
        if args.eval:
            evals[name] = rollouts(agent, task, args.seed, args.eval)
        for p in sorted({r["progress"] for r in rows}):
            sel = [r for r in rows if r["progress"] == p]
            print(
                f"| {name} | {p:.2f} | {len(sel)} | {np.mean([r['gap'] for r in sel]):+.3f} | "
                f"{np.median([r['weight_ratio'] for r in sel]):.2f} | "
                f"{np.mean([r['p_right'] for r in sel]):.2f} | "
                f"{np.mean([r['p_wrong'] for r in sel]):.2f} | "
                f"{np.mean([r['greedy_right'] for r in sel]):.2f} |"
            )
    if evals:
        levels = sorted(
            {round(e["best"], 3) for ev in evals.values() for e in ev if not e["success"]}
        )
        print(
            f"\nGreedy policy on {args.eval} evaluation scenes: success, and the share of "
            "scenes whose failed episode got no further than each progress value"
        )
        print("| reward | success | " + " | ".join(f"failed at {v:.2f}" for v in levels) + " |")
        print("|---|---|" + "---|" * len(levels))
        for name, ev in evals.items():
            shares = [
                np.mean([not e["success"] and round(e["best"], 3) == v for e in ev]) for v in levels
            ]
            print(
                f"| {name} | {np.mean([e['success'] for e in ev]):.2f} | "
                + " | ".join(f"{x:.2f}" for x in shares)
                + " |"
            )
        print("\nWhat the failed episodes did after their last progress (share of those steps):")
        for name, ev in evals.items():
            verbs = Counter(v for e in ev for v in e["after"])
            total = sum(verbs.values()) or 1
            print(f"- {name}: " + ", ".join(f"{v} {c / total:.2f}" for v, c in verbs.most_common()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"forks": dump, "eval": evals}, fh)


if __name__ == "__main__":
    main()
