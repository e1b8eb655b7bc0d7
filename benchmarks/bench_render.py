"""Rendering speed through the suite's MetaWorld wrapper vs MetaWorld's own renderer.

Needs no extra: the base install (`make install`) is enough.

Prints frames/s at 64 and 224 px for our fast renderer (no shadows, reflections, skybox or
multisampling; free task camera), MetaWorld's default `render()` at the same sizes, and the raw
physics step rate, all measured in this one process so the ratios are meaningful.

    .venv/bin/python benchmarks/bench_render.py [--task metaworld/drawer-open] [--frames 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from envs import get_task


def rate(fn, n: int) -> float:
    fn()  # warm-up (creates GL contexts)
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="metaworld/drawer-open")
    ap.add_argument("--frames", type=int, default=200)
    args = ap.parse_args()
    env = get_task(args.task).make_env(0)
    env.reset(seed=0)
    zero = np.zeros(4, np.float32)
    inner = env._env  # MetaWorld's own env, for its default renderer and raw physics

    rows = []
    physics = rate(lambda: inner.do_simulation([0.0, 0.0], inner.frame_skip), 5 * args.frames)
    rows.append(("raw physics (do_simulation, frame_skip 5)", "-", physics))
    rows.append(
        ("env.step via our wrapper (no frame)", "-", rate(lambda: env.step(zero), args.frames))
    )
    for size in (64, 224):
        rows.append(
            (
                "our wrapper render_frame",
                size,
                rate(lambda s=size: env.render_frame(s), args.frames),
            )
        )
    for size in (64, 224):
        inner.render_mode = "rgb_array"
        inner.width = inner.height = size
        inner.mujoco_renderer.width = inner.mujoco_renderer.height = size
        inner.mujoco_renderer.camera_name = "corner"
        rows.append(
            ("MetaWorld default render()", size, rate(inner.render, max(20, args.frames // 5)))
        )
    print(f"\nTask {args.task}; 1 process, {args.frames} frames per row\n")
    print("| what | px | per second |\n|---|---|---|")
    for what, px, r in rows:
        print(f"| {what} | {px} | {r:,.0f} |")
    ours = {px: r for what, px, r in rows if what.startswith("our")}
    default = {px: r for what, px, r in rows if what.startswith("MetaWorld")}
    for px in (64, 224):
        print(
            f"\nspeed-up at {px} px: {ours[px] / default[px]:.1f}x (ours {ours[px]:.0f} fps vs default {default[px]:.0f} fps)"
        )


if __name__ == "__main__":
    main()
