"""Online bracket pilot (usage: pilot.py SEEDS [OUT]) (issue 20 item 1 / issue 19): gt-reward vs sparse on the reference layouts.

short budget cut to 20k steps, eval every 2500 steps, seed 0, 1 torch thread, one job.
Resumable: finished runs are skipped by run_local.
"""

import sys
import time

from benchmark.config import RunConfig
from benchmark.sweep.local import plan, run_local, write_sweep_summary


def main() -> None:
    seeds = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "0").split(",")]
    out = sys.argv[2] if len(sys.argv) > 2 else "runs/online-pilot"
    base = RunConfig(
        task="",
        method="",
        seed=0,
        budget="short",
        oracle="scripted",
        cache_mode="record",
        cache_dir=out + "/cache",
        out_dir=out,
        budget_overrides={"total_steps": 20000, "eval_every": 2500},
    )
    configs = []
    for task in ["metaworld/drawer-open", "metaworld/sweep-into", "metaworld/soccer"]:
        configs += plan([task], ["gt-reward", "sparse"], seeds, base)
    t0 = time.perf_counter()
    outcomes = run_local(configs, jobs=1, threads=1)
    write_sweep_summary(out, configs, outcomes, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
