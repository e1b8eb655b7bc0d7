"""Audit an oracle on a task: are its ratings right, and do they rise along expert trajectories?

This side only rolls out the task's expert and a random policy, renders each sampled state at
the oracle's resolution and asks the oracle (through the cache, so an audit of a VLM is paid for
once). The records go to `oracle_cache.audit`, which writes the report: a confusion matrix of
ratings against ground-truth success, ratings along expert and random trajectories, a
self-contained HTML gallery of the queried frames with their rating and analysis, and
audit.json. The records are saved too (records.jsonl + frames/), so
`python -m oracle_cache audit` can redo the report later. Every output names the oracle.

    python -m benchmark audit --task metaworld/drawer-open [--oracle scripted] [--out docs/audit]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from envs import get_task
from oracle_cache import RateQuery, build_oracle
from oracle_cache.audit import AuditRecord, AuditReport, save_records
from oracle_cache.audit import audit as write_report


def rollout(
    task_name: str, kind: str, episodes: int, every: int, size: int, seed: int
) -> list[tuple]:
    """(episode, position, frame, info) of every `every`-th state of each episode."""
    spec = get_task(task_name)
    env = spec.make_env(seed)
    rng = np.random.default_rng(seed)
    out = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=10_000 + seed * 100 + ep)
        expert = spec.make_expert(env) if kind == "expert" and spec.make_expert else None
        states = []
        for t in range(spec.max_episode_steps):
            if expert is not None:
                action = expert(obs)
            elif spec.action_kind == "discrete":
                action = int(rng.integers(env.action_space.n))
            else:
                action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
            obs, _, term, trunc, info = env.step(action)
            if t % every == 0 or term or trunc:
                states.append((t, env.render_frame(size), dict(info)))
            if term or trunc:
                break
        n = max(1, states[-1][0])
        out += [(ep, t / n, frame, info) for t, frame, info in states]
    env.close()
    return out


def audit(
    task_name: str,
    oracle_name: str = "scripted",
    cache: str = "record",
    cache_dir: str = ".cache/oracle",
    episodes: int = 4,
    every: int = 25,
    seed: int = 0,
) -> list[AuditRecord]:
    """Rate sampled states of expert and random episodes; one record per query."""
    spec = get_task(task_name)
    oracle = build_oracle(oracle_name, cache, cache_dir)
    records: list[AuditRecord] = []
    for kind in ("expert", "random"):
        states = rollout(task_name, kind, episodes, every, spec.oracle_frame_size, seed)
        queries = [
            RateQuery(
                [frame],
                spec.instruction,
                spec.levels,
                {
                    "task": task_name,
                    "progress": float(info.get("progress", 0.0)),
                    "success": bool(info["success"]),
                },
            )
            for _, _, frame, info in states
        ]
        for (ep, pos, frame, info), rating in zip(states, oracle.rate_many(queries), strict=True):
            records.append(
                AuditRecord(
                    frames=[frame],
                    rating=int(rating.level),
                    levels=spec.levels,
                    success=bool(info["success"]),
                    analysis=rating.analysis,
                    position=pos,
                    trajectory=f"{kind}-{ep}",
                    kind=kind,
                    meta={"progress": float(info.get("progress", 0.0))},
                )
            )
    return records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmark audit", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--task", default="metaworld/drawer-open")
    ap.add_argument("--oracle", default="scripted")
    ap.add_argument("--cache", default="record")
    ap.add_argument("--cache-dir", default=".cache/oracle")
    ap.add_argument("--episodes", type=int, default=4)
    ap.add_argument("--every", type=int, default=25, help="rate every n-th state")
    ap.add_argument("--out", default="results/audit", help="the report goes to OUT/<task>/")
    args = ap.parse_args(argv)
    spec = get_task(args.task)
    records = audit(args.task, args.oracle, args.cache, args.cache_dir, args.episodes, args.every)
    out = Path(args.out) / spec.name.replace("/", "__")
    who = "scripted teacher (not a VLM)" if args.oracle == "scripted" else args.oracle
    report: AuditReport = write_report(records, out, task=spec.name, oracle=who, levels=spec.levels)
    save_records(records, out / "records.jsonl")
    succ = [r for r in records if r.success]
    top = np.mean([r.rating == spec.levels - 1 for r in succ]) if succ else float("nan")
    print(
        f"{spec.name}: {len(records)} ratings by {args.oracle}; successful states rated top: {top:.2f}"
    )
    print(f"wrote {report.confusion_png}, {report.trajectory_png}, {report.html}")
    return 0
