"""Speed of the learned reward on this CPU: relabelling a buffer and one training epoch.

Needs no extra: the base install (`make install`) is enough.

Relabelling = `reward()` over N 64-px frames (the runner relabels the whole buffer after every
feedback session); training = one epoch of each learned method over a labelled set of the given
size (ERL-VLM: MAE + stratified, batch 512; RbRL: CE + uniform, batch 512; RL-VLM-F: pairs,
batch 64). Frames are random: the cost does not depend on their content.

    .venv/bin/python benchmarks/bench_reward_model.py [--frames 100000] [--labels 1000]
        [--threads 1,2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmark.methods.registry import get_method
from envs.spec import TaskSpec


def fake_task(size: int) -> TaskSpec:
    def no_env(seed: int):
        raise RuntimeError("the benchmark builds no environment")

    return TaskSpec("bench/frames", "bench", "", 3, 100, no_env, reward_frame_size=size)


def make(name: str, size: int, **overrides):
    cls = get_method(name)
    options = {"reward_epochs": 1, "stop_accuracy": None, **overrides}
    return cls(fake_task(size), cls.Config.from_overrides(options), seed=0)


def relabel_rate(frames: np.ndarray) -> tuple[float, float]:
    """frames/s of the ERL-VLM reward over all frames, and the seconds it took."""
    method = make("erl-vlm", frames.shape[1])
    method.segments, method.labels = [frames[:1]], [0]
    method._build()
    method.reward(frames[:512], None)  # warm-up
    t0 = time.perf_counter()
    method.reward(frames, None)
    dt = time.perf_counter() - t0
    return len(frames) / dt, dt


def epoch_seconds(name: str, frames: np.ndarray, labels: int, rng: np.random.Generator) -> float:
    """Seconds for one training epoch of `name` over `labels` labelled single-frame segments."""
    method = make(name, frames.shape[1])
    pick = rng.integers(0, len(frames), (labels, 2))
    if name == "rl-vlm-f":
        method.pairs = [(frames[a : a + 1], frames[b : b + 1]) for a, b in pick]
        method.labels = rng.integers(0, 2, labels).tolist()
    else:
        method.segments = [frames[a : a + 1] for a in pick[:, 0]]
        # skewed like early online training: mostly Bad, a few Good
        method.labels = rng.choice(3, labels, p=[0.7, 0.2, 0.1]).tolist()
    method._build()
    method.train(1)  # warm-up
    t0 = time.perf_counter()
    method.train(1)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--labels", type=int, default=1000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (args.frames, args.size, args.size, 3), dtype=np.uint8)
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        rate, seconds = relabel_rate(frames)
        rows.append((threads, f"relabel {args.frames} frames (erl-vlm reward)", rate, seconds))
        for name in ("erl-vlm", "rbrl", "rl-vlm-f"):
            seconds = epoch_seconds(name, frames, args.labels, rng)
            what = "pairs" if name == "rl-vlm-f" else "ratings"
            rows.append((threads, f"train 1 epoch, {args.labels} {what} ({name})", None, seconds))

    print(f"\nReward model, {args.size}-px frames, ensemble of 3, torch {torch.__version__} CPU\n")
    print("| threads | what | frames/s | seconds |")
    print("|---:|---|---:|---:|")
    for threads, what, rate, seconds in rows:
        shown = f"{rate:,.0f}" if rate is not None else "-"
        print(f"| {threads} | {what} | {shown} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
