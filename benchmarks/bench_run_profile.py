"""Where a run's time and memory go: wall-time share per phase and peak resident memory.

Needs no extra: the base install (`make install`) is enough.

Runs one experiment in a child process (so its peak RSS is its own) and prints the phase table
written by the runner (env stepping + rendering, agent updates, feedback sessions with oracle
queries and reward training, relabelling, evaluation).

    .venv/bin/python benchmarks/bench_run_profile.py --budget short --method erl-vlm
    .venv/bin/python benchmarks/bench_run_profile.py --budget smoke --method erl-vlm --steps 3000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from benchmark.config import RunConfig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="metaworld/drawer-open")
    ap.add_argument("--method", default="erl-vlm")
    ap.add_argument("--budget", default="short")
    ap.add_argument("--steps", type=int, default=None, help="override total_steps")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    out = tempfile.mkdtemp(prefix="profile_")
    overrides = {"total_steps": args.steps} if args.steps else {}
    cfg = RunConfig(
        task=args.task,
        method=args.method,
        seed=0,
        budget=args.budget,
        out_dir=out,
        cache_dir=f"{out}/cache",
        threads=args.threads,
        budget_overrides=overrides,
    )
    cfg_file = Path(out) / "cfg.json"
    cfg_file.write_text(json.dumps(asdict(cfg)))
    subprocess.run(
        [sys.executable, "-m", "benchmark", "run", "--config", str(cfg_file)], check=True
    )
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    phases = json.loads(next(Path(out).rglob("phases.json")).read_text())
    steps = json.loads(next(Path(out).rglob("done.json")).read_text())["steps"]
    print(
        f"\n{args.task} / {args.method} / budget {args.budget}: {steps} steps in "
        f"{phases['total_s']:.0f} s ({steps / phases['total_s']:.1f} steps/s incl. everything)"
    )
    print("| phase | seconds | share |\n|---|---|---|")
    for k, v in sorted(phases["share"].items(), key=lambda kv: -kv[1]):
        print(f"| {k} | {phases[k]:.1f} | {100 * v:.1f} % |")
    print(f"\npeak resident memory of the run: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
