"""Digests of a few runs' learning metrics, to show a refactor left behaviour bit-identical.

Runs (a) the record/replay test's tiny ERL-VLM run, recorded then replayed, and (b) a small
sweep (smoke budget cut short, see SWEEP_OPTIONS), all through the command line (whose names and flags are stable), then prints one
sha256 per run of metrics.csv without its wall-time column. Run it before and after a change
on the same machine: equal digests mean equal metrics. Torch's thread count is printed, since
float results can depend on it (a sweep gives each run cores // jobs threads).

    PYTHONPATH=$PWD MUJOCO_GL=egl python scripts/behaviour_digests.py [--out DIR] [--skip-sweep]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the record/replay test's budget, below, lives under tests/
from benchmark.golden import metrics_digest  # noqa: E402  (one definition of the digest)

#: the budget and SAC size of the record/replay test, taken from it so both digest the same runs
from tests.test_record_replay import TINY_BUDGET, TINY_SAC  # noqa: E402

SWEEP_TASKS = "metaworld/drawer-open,alfred/pick-cool-then-place"
SWEEP_METHODS = "erl-vlm,rl-vlm-f"
#: the smoke budget, cut to 1200 steps (still: seed steps, exploration, one feedback session,
#: relabelling, the critic reset, learned-reward updates, 3 evaluations) with a smaller SAC
#: batch, so a sweep takes minutes on a loaded 2-core machine; ALFRED runs the full smoke budget
SWEEP_OPTIONS = [
    "--budget-opt",
    "total_steps=1200",
    "--budget-opt",
    "eval_every=600",
    "--sac-opt",
    "batch_size=128",
]


def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "benchmark", *args], check=True)


def record_replay(out: Path) -> dict[str, Path]:
    """The record/replay test's two runs (seed 0), through `python -m benchmark run`."""
    roots = {}
    for mode in ("record", "replay"):
        cfg = {
            "task": "metaworld/drawer-open",
            "method": "erl-vlm",
            "seed": 0,
            "budget": "smoke",
            "oracle": "scripted",
            "cache_mode": mode,
            "cache_dir": str(out / "rr-cache"),
            "out_dir": str(out / f"rr-{mode}"),
            "budget_overrides": TINY_BUDGET,
            "sac": TINY_SAC,
            "threads": 1,
            "log_sinks": [],
        }
        path = out / f"rr-{mode}.json"
        path.write_text(json.dumps(cfg))
        _cli("run", "--config", str(path))
        roots[f"record_replay/{mode}"] = out / f"rr-{mode}"
    return roots


def smoke_sweep(out: Path) -> dict[str, Path]:
    _cli(
        "sweep",
        "--tasks",
        SWEEP_TASKS,
        "--methods",
        SWEEP_METHODS,
        "--seeds",
        "0",
        "--budget",
        "smoke",
        "--jobs",
        "1",
        "--log",
        "",
        "--cache-dir",
        str(out / "sweep-cache"),
        "--out",
        str(out / "sweep"),
        *SWEEP_OPTIONS,
    )
    return {"sweep": out / "sweep"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="working directory (default: a temporary one)")
    ap.add_argument("--skip-sweep", action="store_true", help="only the record/replay runs")
    args = ap.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="digests-"))
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MUJOCO_GL", "egl")
    groups = record_replay(out)
    if not args.skip_sweep:
        groups.update(smoke_sweep(out))
    for label, root in groups.items():
        for metrics in sorted(root.rglob("metrics.csv")):
            run = metrics.parent.relative_to(root)
            threads = json.loads((metrics.parent / "config.json").read_text())["run"]["threads"]
            print(f"{metrics_digest(metrics)}  {label}/{run}  threads={threads}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
