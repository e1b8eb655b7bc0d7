"""Real-robot task specs: simulated robots behind the server, and your own robots from a file.

* `real/sim-<metaworld-task>` (e.g. `real/sim-drawer-open`): each env starts its own loopback
  robot server on a MetaWorld task, so client -> network -> server -> simulator -> frames ->
  oracle -> reward model all runs, with the simulator's success flag as the success signal.
* `real/sim-point`: the same path on a drawn point robot, seconds to start (tests, latency).
* `real/<name>`: a robot listed in `robots.json` (path in $VLMBENCH_ROBOTS, else ./robots.json):

      {"my-arm": {"address": "tcp://10.0.0.5:5555", "instruction": "open the drawer",
                  "levels": 3, "success": "human", "max_episode_steps": 200,
                  "keys": "robot-keys", "client": "benchmark"}}

  `keys` names the key folder (relative to robots.json) holding `server.key` and
  `clients/<client>.key_secret`, for a server started with `--keys`; the keys stay in files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

from envs.real_robot.auth import DEFAULT_CLIENT, ClientKeys, load_client_keys
from envs.real_robot.client import RobotEnv
from envs.real_robot.success import SimulatorSuccess, build_success
from envs.spec import TaskSpec

SERVER_START_TIMEOUT_S = 120.0


def launch_sim_server(
    adapter: str, watchdog_s: float | None = None
) -> tuple[subprocess.Popen, str]:
    """Start `python -m envs.real_robot.server` on a free loopback port; return it and its address."""
    cmd = [
        sys.executable,
        "-m",
        "envs.real_robot.server",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--estop-port",
        "0",
        "--adapter",
        adapter,
        "--exit-with-parent",
    ]
    if watchdog_s is not None:
        cmd += ["--watchdog", str(watchdog_s)]
    # a loopback sim server needs no keys; $ROBOT_KEYS is for the robot's own server
    env = {k: v for k, v in os.environ.items() if k != "ROBOT_KEYS"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1, env=env
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the server prints READY {...} once bound
    if not line.startswith("READY "):
        proc.kill()
        raise RuntimeError(
            f"sim robot server ({adapter}) did not start: exit code {proc.wait()}; "
            f"run `{' '.join(cmd[:3])} --adapter {adapter}` to see why"
        )
    port = json.loads(line[len("READY ") :])["port"]
    return proc, f"tcp://127.0.0.1:{port}"


def _make_sim_env(adapter: str, max_steps: int, seed: int) -> RobotEnv:
    proc, address = launch_sim_server(adapter)
    try:
        return RobotEnv(address, SimulatorSuccess(), max_episode_steps=max_steps, process=proc)
    except BaseException:
        proc.kill()
        raise


def sim_spec(short: str) -> TaskSpec:
    """`real/sim-<short>`: a MetaWorld task, or the point robot, behind a loopback server."""
    if short in ("point", "point-mass"):
        return TaskSpec(
            name=f"real/sim-{short}",
            suite="real",
            instruction="move the red dot onto the green square",
            levels=3,
            max_episode_steps=100,
            make_env=partial(_make_sim_env, "sim:point", 100),
            camera={"type": "robot", "camera": "top", "server": "sim:point"},
            goal_text="the red dot covers the green square",
            teacher_accuracy=0.9,
            backend="zmq",
            description="drawn point robot behind a loopback robot server",
        )
    from envs.metaworld.tasks import spec_for

    base = spec_for(short)  # instruction, levels, accuracy and camera of the MetaWorld task
    max_steps = base.max_episode_steps

    def expert(env: Any):
        from types import SimpleNamespace

        from envs.metaworld.env import expert_for

        return expert_for(SimpleNamespace(env_name=f"{short}-v3"))  # obs is MetaWorld's state

    return TaskSpec(
        name=f"real/sim-{short}",
        suite="real",
        instruction=base.instruction,
        levels=base.levels,
        max_episode_steps=max_steps,
        make_env=partial(_make_sim_env, f"sim:{short}", max_steps),
        camera={**base.camera, "type": "robot", "camera": "front", "server": f"sim:{short}"},
        goal_text=base.goal_text,
        teacher_accuracy=base.teacher_accuracy,
        make_expert=expert,
        backend="zmq",
        description=f"MetaWorld {short}-v3 behind a loopback robot server",
    )


def robots_file() -> Path:
    return Path(os.environ.get("VLMBENCH_ROBOTS", "robots.json"))


def _client_keys(entry: dict[str, Any]) -> ClientKeys | None:
    """The robot's `keys` folder, read at env creation (relative paths: next to robots.json)."""
    if not entry.get("keys"):
        return None
    folder = Path(entry["keys"])
    if not folder.is_absolute():
        folder = robots_file().resolve().parent / folder
    return load_client_keys(folder, str(entry.get("client", DEFAULT_CLIENT)))


def _make_robot_env(entry: dict[str, Any], seed: int) -> RobotEnv:
    return RobotEnv(
        entry["address"],
        build_success(entry.get("success", "human")),
        camera=entry.get("camera"),
        max_episode_steps=int(entry.get("max_episode_steps", 200)),
        timeout_s=float(entry.get("timeout_s", 5.0)),
        keys=_client_keys(entry),
    )


def robot_spec(name: str, entry: dict[str, Any]) -> TaskSpec:
    missing = [k for k in ("address", "instruction") if k not in entry]
    if missing:
        raise ValueError(f"robot '{name}' in {robots_file()} needs {missing}")
    return TaskSpec(
        name=f"real/{name}",
        suite="real",
        instruction=entry["instruction"],
        levels=int(entry.get("levels", 3)),
        max_episode_steps=int(entry.get("max_episode_steps", 200)),
        make_env=partial(_make_robot_env, dict(entry)),
        camera={"type": "robot", "camera": entry.get("camera"), "address": entry["address"]},
        goal_text=entry.get("goal_text", entry["instruction"]),
        oracle_frame_size=int(entry.get("oracle_frame_size", 224)),
        backend="zmq",
        description=f"robot at {entry['address']} (success: {entry.get('success', 'human')})",
    )


def resolve(name: str) -> TaskSpec | None:
    short = name.split("/", 1)[1] if "/" in name else name
    if short.startswith("sim-"):
        inner = short[len("sim-") :]
        if inner in ("point", "point-mass"):
            return sim_spec(inner)
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS

        return sim_spec(inner) if f"{inner}-v3" in ALL_V3_ENVIRONMENTS else None
    path = robots_file()
    robots: dict[str, Any] = {}
    if path.exists():
        try:
            robots = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from err
        if short in robots:
            return robot_spec(short, robots[short])
    from envs.registry import UnknownTaskError

    listed = f"it lists {sorted(robots)}" if robots else "it does not exist or lists no robots"
    raise UnknownTaskError(
        f"Unknown robot task '{name}'. Real robots are read from {path.resolve()} "
        f"($VLMBENCH_ROBOTS), and {listed}; simulated robots are real/sim-<metaworld-task> and "
        "real/sim-point. See docs/plugging-in-your-robot.md."
    )
