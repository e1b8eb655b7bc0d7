"""Cost of the environment-side switches back to the reference code (docs/deviations.md 4-6).

Needs no extra: the base install (`make install`) is enough.

In one process, per paper task, the time to draw one frame through the suite's env:
  - the suite's camera vs `@camera=reference` (the fork's fixed camera, flipped as it did),
  - effects off (the default) vs `@effects=on` (MetaWorld's shadows, reflections, skybox and
    multisampling), both at 64 and 224 px, on the reference camera;
and the reward CNN's forward time (ERL-VLM's 3-member ensemble, `FrameRewardEnsemble`) on 64-
vs 224-px frames, at batch 1 (a transition labelled as it arrives) and batch 512 (relabelling).
Conditions are measured in interleaved rounds and each reports its median over rounds, so a
change in the machine's load hits every condition alike; the ratios are the result.

    MUJOCO_GL=egl PYTHONPATH=$PWD python benchmarks/bench_render_switches.py \
        [--frames 50] [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch

from benchmark.methods.reward_model import FrameRewardEnsemble
from envs import get_task

TASKS = ("drawer-open", "sweep-into", "soccer")
#: name suffix of each render condition
RENDER = {
    "suite camera": "",
    "reference camera": "@camera=reference",
    "reference camera, effects on": "@camera=reference@effects=on",
}


def per_call(fn, n: int) -> float:
    """Seconds per call of fn, over n calls."""
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def render_times(frames: int, rounds: int) -> dict[tuple[str, str, int], float]:
    """Median seconds per frame for each (task, condition, size)."""
    envs = {}
    for task in TASKS:
        for cond, suffix in RENDER.items():
            env = get_task(f"metaworld/{task}{suffix}").make_env(0)
            env.reset(seed=0)
            for size in (64, 224):
                env.render_frame(size)  # warm-up: creates the GL context of this size
            envs[task, cond] = env
    samples: dict[tuple[str, str, int], list[float]] = {}
    for _ in range(rounds):
        for (task, cond), env in envs.items():
            for size in (64, 224):
                t = per_call(lambda e=env, s=size: e.render_frame(s), frames)
                samples.setdefault((task, cond, size), []).append(t)
    for env in envs.values():
        env.close()
    return {k: statistics.median(v) for k, v in samples.items()}


def cnn_times(rounds: int, batch: int) -> dict[tuple[int, int], float]:
    """Median seconds per forward of the 3-member ensemble, for (size, batch size)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    nets = {size: FrameRewardEnsemble(3, size).eval() for size in (64, 224)}
    inputs = {
        (size, n): torch.from_numpy(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8))
        for size in (64, 224)
        for n in (1, batch)
    }
    samples: dict[tuple[int, int], list[float]] = {}
    with torch.no_grad():
        for (size, _), x in inputs.items():
            nets[size](x)  # warm-up
        for _ in range(rounds):
            for (size, n), x in inputs.items():
                calls = 50 if n == 1 else 2
                t = per_call(lambda s=size, x=x: nets[s](x), calls)
                samples.setdefault((size, n), []).append(t)
    return {k: statistics.median(v) for k, v in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=50, help="frames per condition per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--batch", type=int, default=512, help="the relabelling batch")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the CNN")
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    load = os.getloadavg()
    render = render_times(args.frames, args.rounds)
    cnn = cnn_times(args.rounds, args.batch)

    print(
        f"\nload average at start {load[0]:.1f}, at end {os.getloadavg()[0]:.1f}; "
        f"{args.rounds} rounds, medians\n"
    )
    print(
        "| task | px | suite camera ms | reference camera ms | + effects on ms "
        "| reference / suite | effects on / off |"
    )
    print("|---|---|---|---|---|---|---|")
    rows = []
    for task in TASKS:
        for size in (64, 224):
            s, r, e = (render[task, c, size] for c in RENDER)
            rows.append(
                {
                    "task": task,
                    "px": size,
                    "suite_ms": 1e3 * s,
                    "reference_ms": 1e3 * r,
                    "effects_ms": 1e3 * e,
                    "reference_over_suite": r / s,
                    "effects_on_over_off": e / r,
                }
            )
            print(
                f"| {task} | {size} | {1e3 * s:.2f} | {1e3 * r:.2f} | {1e3 * e:.2f} "
                f"| {r / s:.2f}x | {e / r:.2f}x |"
            )
    print(f"\nreward CNN (3 members, {args.threads} torch thread(s)), forward time\n")
    print("| batch | 64 px ms | 224 px ms | 224 / 64 |\n|---|---|---|---|")
    cnn_rows = []
    for n in (1, args.batch):
        a, b = cnn[64, n], cnn[224, n]
        cnn_rows.append({"batch": n, "ms_64": 1e3 * a, "ms_224": 1e3 * b, "ratio": b / a})
        print(f"| {n} | {1e3 * a:.2f} | {1e3 * b:.2f} | {b / a:.1f}x |")
    print(
        f"\nframe in the replay buffer: 64 px {64 * 64 * 3:,} B, 224 px {224 * 224 * 3:,} B "
        f"({224 * 224 / 64 / 64:.2f}x)"
    )
    if args.json:
        out = {
            "load_start": load,
            "load_end": os.getloadavg(),
            "args": vars(args),
            "render": rows,
            "cnn": cnn_rows,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
