"""Wall time of one sweep run sequentially (1 process) and in parallel (one process per core).

Needs no extra: the base install (`make install`) is enough.

The sweep is 2 tasks x 3 methods x 2 seeds with the scripted teacher; the ratio of the two wall
times is what the local executor buys on this machine.

    .venv/bin/python benchmarks/bench_sweep_parallel.py [--steps 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from benchmark.config import RunConfig
from benchmark.sweep.local import plan, run_local


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--tasks", default="metaworld/drawer-open,metaworld/sweep-into")
    ap.add_argument("--methods", default="erl-vlm,rbrl,gt-reward")
    args = ap.parse_args()
    budget = {
        "total_steps": args.steps,
        "seed_steps": args.steps // 4,
        "unsup_steps": args.steps // 4,
        "feedback_every": args.steps // 4,
        "eval_every": args.steps // 2,
        "eval_episodes": 1,
    }
    walls = {}
    for jobs in (1, os.cpu_count() or 1):
        out = tempfile.mkdtemp(prefix=f"sweep{jobs}_")
        base = RunConfig(
            task="",
            method="",
            seed=0,
            budget="smoke",
            out_dir=out,
            cache_dir=f"{out}/cache",
            budget_overrides=budget,
        )
        configs = plan(args.tasks.split(","), args.methods.split(","), [0, 1], base)
        t0 = time.perf_counter()
        outcomes = run_local(configs, jobs=jobs, threads=1)
        walls[jobs] = time.perf_counter() - t0
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    n = len(configs)
    print(
        f"\n{n} runs of {args.steps} steps (2 tasks x 3 methods x 2 seeds), 1 torch thread each\n"
    )
    print("| executor | processes | wall (s) |\n|---|---|---|")
    for jobs, wall in walls.items():
        print(f"| local | {jobs} | {wall:.1f} |")
    seq, par = walls[1], walls[max(walls)]
    print(f"\nspeed-up with {max(walls)} processes: {seq / par:.2f}x")


if __name__ == "__main__":
    main()
