"""Issue 19's learning-effect runs: the paper's three tasks on the reference layout beside
v3's randomised layout (`@random`), under metaworld-online-v1's settings (reference SAC and
harness, 20k steps, an evaluation every 2,500, one torch thread), scripted teacher.

Usage (from the repository root; resumable, finished runs are skipped):

    python docs/reference-layout/run.py --methods gt-reward --seeds 0,1,2 --work-dir /work/runs/layouts
    python docs/reference-layout/run.py --methods gt-reward --seeds 0,1,2 --precision bf16 \\
        --tasks metaworld/drawer-open --work-dir /work/runs/layouts-bf16
    python docs/reference-layout/run.py --methods gt-reward --seeds 0,1,2 --matmul onednn \\
        --tasks metaworld/drawer-open --work-dir /work/runs/layouts-onednn

Seeds run one after another (every task variant at seed 0, then seed 1, ...) so that an
interrupted session leaves whole seeds rather than whole tasks. The settings are the online
board's protocol with only the task list (and, with --precision or --matmul, SAC's matmul
precision or fp32 kernels; the board pins fp32 on PyTorch's own, `aten`) changed, so the
board's drawer-open runs at the same seed are the same runs: copy their run directories in to
skip them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.leaderboard.protocol import get_protocol
from benchmark.leaderboard.submit import run_protocol

TASKS = [
    "metaworld/sweep-into",
    "metaworld/sweep-into@random",
    "metaworld/soccer",
    "metaworld/soccer@random",
    "metaworld/drawer-open@random",
    "metaworld/drawer-open",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="gt-reward")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--work-dir", type=Path, default=Path("runs/reference-layout"))
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--precision", choices=["fp32", "bf16"], default=None)
    ap.add_argument("--matmul", choices=["onednn", "aten"], default=None)
    args = ap.parse_args()
    board = get_protocol("metaworld-online-v1")
    sac = dict(board.sac) | {
        k: v for k, v in (("precision", args.precision), ("matmul", args.matmul)) if v
    }
    for seed in (int(s) for s in args.seeds.split(",")):
        proto = board.model_copy(
            update={"tasks": args.tasks.split(","), "seeds": [seed], "sac": sac}
        )
        run_protocol(args.methods.split(","), proto, args.work_dir, jobs=1)


if __name__ == "__main__":
    main()
