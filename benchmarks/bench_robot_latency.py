"""Round-trip latency of a robot `step` (one 224-px frame) on loopback vs an in-process call.

Needs no extra: the base install (`make install`) is enough.

For each simulated robot, in this one process and run back to back so the ratios mean
something on a noisy machine, it times:

* `adapter`: the adapter's own apply_action + read_cameras + read_proprio (no protocol at all);
* `in-process`: the server's request handler (safety filter, frame checks, message encoding),
  called directly, no network;
* `loopback`: `RobotEnv.step` -> ZeroMQ over tcp://127.0.0.1 -> a server in its own process ->
  reply with the frame -> decoded observation, as every benchmark run on a robot pays it.

    .venv/bin/python benchmarks/bench_robot_latency.py [--steps 2000] [--adapters sim:point,...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from envs.real_robot.client import RobotEnv
from envs.real_robot.protocol import PROTOCOL_VERSION
from envs.real_robot.server import RobotServer
from envs.real_robot.sim_adapters import build_adapter
from envs.real_robot.success import SimulatorSuccess
from envs.real_robot.tasks import launch_sim_server


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.asarray(samples) * 1e3
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def timed(fn, n: int) -> list[float]:
    for _ in range(min(20, n)):  # warm-up: GL contexts, allocator, TCP
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def small_action(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(-0.3, 0.3, 4)


def bench(adapter_spec: str, steps: int) -> list[tuple[str, str, float, float]]:
    rng = np.random.default_rng(0)
    rows = []

    adapter = build_adapter(adapter_spec)
    adapter.reset(0)

    def direct() -> None:
        adapter.apply_action(small_action(rng))
        adapter.read_cameras()
        adapter.read_proprio()

    rows.append((adapter_spec, "adapter (no protocol)", *percentiles(timed(direct, steps))))

    server = RobotServer(adapter, port=0, estop_port=0)  # bound, but only `handle` is called
    server.handle({"v": PROTOCOL_VERSION, "op": "reset", "seed": 0})

    def handled() -> None:
        server.handle({"v": PROTOCOL_VERSION, "op": "step", "action": small_action(rng).tolist()})

    rows.append((adapter_spec, "in-process handler", *percentiles(timed(handled, steps))))
    server.close()

    proc, address = launch_sim_server(adapter_spec)
    env = RobotEnv(address, SimulatorSuccess(), max_episode_steps=10**9, process=proc)
    env.reset(seed=0)
    rows.append(
        (
            adapter_spec,
            "loopback (client+server)",
            *percentiles(timed(lambda: env.step(small_action(rng)), steps)),
        )
    )
    frame = env.render_frame()
    env.close()
    print(f"  {adapter_spec}: frame {frame.shape}, {frame.nbytes / 1024:.0f} KiB per step")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--adapters", default="sim:point,sim:drawer-open")
    args = ap.parse_args()
    os.environ.setdefault("VLMBENCH_FRAME_DIR", tempfile.mkdtemp(prefix="robot-frames-"))
    rows = []
    for spec in args.adapters.split(","):
        rows += bench(spec, args.steps)
    print(f"\nstep latency, {args.steps} steps each, one 224-px frame per reply")
    print(f"{'robot':<18} {'path':<26} {'p50 ms':>8} {'p99 ms':>8} {'p50 vs adapter':>15}")
    base: dict[str, float] = {}
    for spec, path, p50, p99 in rows:
        base.setdefault(spec, p50)
        print(f"{spec:<18} {path:<26} {p50:8.3f} {p99:8.3f} {p50 / base[spec]:14.2f}x")


if __name__ == "__main__":
    main()
