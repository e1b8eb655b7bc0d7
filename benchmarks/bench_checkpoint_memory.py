"""Peak memory of a checkpoint and a whole-buffer relabel at the `short` budget's buffer size.

Needs no extra: the base install (`make install`) is enough.

Each variant runs in a fresh subprocess on a buffer filled like a `short` MetaWorld run's
(50k steps, 64-px frames, 162-float snapshots), and reports that process's peak resident memory
above the filled buffer. Compared side by side:

* checkpoint: the buffer pickled as numpy arrays (before) vs as tensors over the same memory,
  which torch.save streams into its zip file (now);
* relabel: every frame copied for one reward call (before) vs blocks of RELABEL_BLOCK (now).

    .venv/bin/python benchmarks/bench_checkpoint_memory.py [--steps 50000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile

import numpy as np


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(variant: str, steps: int) -> dict[str, float]:
    import torch

    from benchmark.loops.online import RELABEL_BLOCK
    from benchmark.rl.buffer import ReplayBuffer

    buf = ReplayBuffer(steps, 39, 4, (64, 64, 3), 162)
    rng = np.random.default_rng(0)
    for lo in range(0, steps, 1000):  # in blocks: a whole-buffer temporary would mask the peaks
        for name in ("obs", "next_obs", "snapshots"):
            arr = getattr(buf, name)
            arr[lo : lo + 1000] = rng.standard_normal(arr[lo : lo + 1000].shape)
        buf.frames_[lo : lo + 1000] = rng.integers(0, 255, buf.frames_[lo : lo + 1000].shape)
    buf.ptr, buf.full = 0, True
    base = _rss_mb()
    conv = torch.nn.Conv2d(3, 8, 4, 4)

    def reward(frames: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = [
                conv(torch.from_numpy(frames[i : i + 256]).permute(0, 3, 1, 2).float()).mean()
                for i in range(0, len(frames), 256)
            ]
        return torch.stack(out).numpy()

    with tempfile.TemporaryDirectory() as tmp:
        if variant == "checkpoint-numpy":
            state = buf.state_dict()
            state["arrays"] = {k: v.numpy() for k, v in state["arrays"].items()}
            torch.save({"buffer": state}, f"{tmp}/c.pt")
        elif variant == "checkpoint-tensors":
            torch.save({"buffer": buf.state_dict()}, f"{tmp}/c.pt")
        elif variant == "relabel-all-at-once":
            reward(buf.frames(np.arange(buf.size)))
        elif variant == "relabel-blocks":
            for lo in range(0, buf.size, RELABEL_BLOCK):
                reward(buf.frames(np.arange(lo, min(buf.size, lo + RELABEL_BLOCK))))
    return {"buffer_mb": base, "peak_above_buffer_mb": _rss_mb() - base}


VARIANTS = ("checkpoint-numpy", "checkpoint-tensors", "relabel-all-at-once", "relabel-blocks")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], int(sys.argv[3]))))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50_000)
    args = ap.parse_args()
    print(f"buffer of {args.steps} steps; peak resident memory above the filled buffer")
    print(f"{'variant':<22} {'process with buffer MB':>22} {'extra peak MB':>14}")
    for variant in VARIANTS:
        out = subprocess.run(
            [sys.executable, __file__, "--child", variant, str(args.steps)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{variant:<22} {r['buffer_mb']:>22.0f} {r['peak_above_buffer_mb']:>14.0f}")


if __name__ == "__main__":
    main()
