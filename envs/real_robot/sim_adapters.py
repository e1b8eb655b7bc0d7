"""Simulated robots behind the real-robot server, so the whole networked path runs anywhere.

`MetaWorldAdapter` puts a MetaWorld task behind the protocol (the `real/sim-<task>` tasks);
`PointMassAdapter` is a dependency-free point robot with drawn frames, for protocol tests and
latency benchmarks where MuJoCo's start-up would dominate. Both report privileged success and
progress because they are simulators; the client only uses them when told to.
"""

from __future__ import annotations

import time

import numpy as np

from envs.real_robot.adapter import CameraSpec, Capabilities, RobotAdapter
from envs.real_robot.safety import SafetyConfig


class MetaWorldAdapter(RobotAdapter):
    """A MetaWorld v3 task as a robot: 4-d Cartesian delta actions, one 224-px camera.

    Proprioception here is MetaWorld's whole 39-d state (hand, gripper, object poses, goal), so a
    policy sees what it sees on `metaworld/<task>`; a real arm would pair its proprioception with
    an object tracker. The safety box is MetaWorld's own hand workspace, and `max_step` admits a
    full unit action on all three axes, so the filter never changes what the simulator would do.
    """

    def __init__(self, task: str = "drawer-open", frame_size: int = 224, seed: int = 0) -> None:
        from envs.metaworld.env import MetaWorldEnv
        from envs.metaworld.tasks import DEFAULT_CAMERA, PAPER_TASKS

        camera = PAPER_TASKS.get(task, {}).get("camera", DEFAULT_CAMERA)
        self.task = task
        self.env = MetaWorldEnv(f"{task}-v3", camera, max_episode_steps=10**9, seed=seed)
        self.frame_size = frame_size
        inner = self.env._env
        self.safety = SafetyConfig(
            action_dim=4,
            action_low=(-1.0,) * 4,
            action_high=(1.0,) * 4,
            position_dims=(0, 1, 2),
            position_scale=float(inner.action_scale),
            max_step=float(inner.action_scale) * 1.75,  # > sqrt(3): never shortens a unit action
            workspace_low=tuple(float(x) for x in inner.mocap_low),
            workspace_high=tuple(float(x) for x in inner.mocap_high),
            watchdog_s=2.0,
            notes={"source": f"MetaWorld {task}-v3 action_scale and mocap box"},
        )
        self._obs = np.zeros(self.env.observation_space.shape, np.float32)
        self._info: dict[str, float] = {"success": 0.0, "progress": 0.0, "gt_reward": 0.0}
        self.stopped = False

    def capabilities(self) -> Capabilities:
        return Capabilities(
            action_dim=4,
            action_low=self.safety.action_low,
            action_high=self.safety.action_high,
            proprio_dim=int(self._obs.shape[0]),
            cameras=(CameraSpec("front", self.frame_size, self.frame_size),),
            control_hz=80.0,  # MetaWorld's frame_skip 5 at dt 0.0025 s
            privileged=True,
            name=f"sim-metaworld-{self.task}",
        )

    def reset(self, seed: int | None) -> None:
        self._obs, _ = self.env.reset(seed=seed)
        self._info = {"success": 0.0, "progress": 0.0, "gt_reward": 0.0}
        self.stopped = False

    def apply_action(self, action: np.ndarray) -> None:
        self.stopped = False
        self._obs, _, _, _, info = self.env.step(action.astype(np.float32))
        self._info = {
            "success": float(info["success"]),
            "progress": float(info["progress"]),
            "gt_reward": float(info["gt_reward"]),
        }

    def read_cameras(self) -> dict[str, np.ndarray]:
        return {"front": self.env.render_frame(self.frame_size)}

    def read_proprio(self) -> np.ndarray:
        return self._obs.astype(np.float64)

    def ee_position(self) -> np.ndarray:
        return self._obs[:3].astype(np.float64)

    def stop(self) -> None:
        self.stopped = True  # the mocap holds its last target: the simulated arm stays put

    def privileged(self) -> dict[str, float]:
        return dict(self._info)

    def close(self) -> None:
        self.env.close()


class PointMassAdapter(RobotAdapter):
    """A point 'gripper' in a 1 m cube moving towards a goal, with a drawn top-down camera.

    `step_delay_s` makes each action take that long, as a real control period would; tests use
    it to show the e-stop wins over a step in progress.
    """

    def __init__(self, frame_size: int = 224, step_delay_s: float = 0.0, seed: int = 0) -> None:
        self.frame_size = frame_size
        self.step_delay_s = step_delay_s
        self.safety = SafetyConfig(
            action_dim=4,
            action_low=(-1.0,) * 4,
            action_high=(1.0,) * 4,
            position_dims=(0, 1, 2),
            position_scale=0.02,
            max_step=0.03,
            workspace_low=(-0.4, -0.4, 0.0),
            workspace_high=(0.4, 0.4, 0.4),
            watchdog_s=1.0,
        )
        self.rng = np.random.default_rng(seed)
        self.pos = np.zeros(3)
        self.goal = np.array([0.2, 0.2, 0.1])
        self.start_dist = 1.0
        self.stopped = False
        self.emergency = False
        self.actions_applied = 0

    def capabilities(self) -> Capabilities:
        return Capabilities(
            action_dim=4,
            action_low=self.safety.action_low,
            action_high=self.safety.action_high,
            proprio_dim=6,
            cameras=(CameraSpec("top", self.frame_size, self.frame_size),),
            control_hz=1.0 / self.step_delay_s if self.step_delay_s else 0.0,
            privileged=True,
            name="sim-point-mass",
        )

    def reset(self, seed: int | None) -> None:
        rng = np.random.default_rng(seed) if seed is not None else self.rng
        self.pos = np.array([*rng.uniform(-0.3, 0.3, 2), 0.2])
        self.goal = np.array([*rng.uniform(-0.3, 0.3, 2), 0.05])
        self.start_dist = max(float(np.linalg.norm(self.goal - self.pos)), 1e-6)
        self.stopped = False

    def apply_action(self, action: np.ndarray) -> None:
        if self.step_delay_s:
            end = time.monotonic() + self.step_delay_s
            while time.monotonic() < end and not self.emergency:
                time.sleep(min(0.005, self.step_delay_s))
            if self.emergency:
                return  # the motion was cut part-way
        self.stopped = False
        self.pos = self.pos + action[:3] * self.safety.position_scale
        self.actions_applied += 1

    def read_cameras(self) -> dict[str, np.ndarray]:
        s = self.frame_size
        img = np.full((s, s, 3), 200, np.uint8)

        def px(v: float) -> int:
            return int(np.clip((v + 0.5) * s, 0, s - 1))

        g = max(2, s // 20)
        gx, gy = px(self.goal[0]), px(self.goal[1])
        img[max(0, gy - g) : gy + g, max(0, gx - g) : gx + g] = (40, 160, 40)
        r = max(2, int(s * (0.02 + 0.05 * float(np.clip(self.pos[2], 0, 0.5)))))
        x, y = px(self.pos[0]), px(self.pos[1])
        img[max(0, y - r) : y + r, max(0, x - r) : x + r] = (200, 30, 30)
        return {"top": img}

    def read_proprio(self) -> np.ndarray:
        return np.concatenate([self.pos, self.goal])

    def ee_position(self) -> np.ndarray:
        return self.pos.copy()

    def stop(self) -> None:
        self.stopped = True

    def emergency_stop(self) -> None:
        self.emergency = True
        self.stopped = True

    def privileged(self) -> dict[str, float]:
        d = float(np.linalg.norm(self.goal - self.pos))
        success = d < 0.05
        progress = 1.0 if success else float(np.clip(1 - d / self.start_dist, 0, 0.99))
        return {"success": float(success), "progress": progress, "gt_reward": -d}


def build_adapter(spec: str, **kwargs) -> RobotAdapter:
    """`sim:point`, `sim:<metaworld-task>` or `package.module:Class` (constructed with kwargs)."""
    kind, _, name = spec.partition(":")
    if kind == "sim":
        if name in ("", "point", "point-mass"):
            return PointMassAdapter(**kwargs)
        return MetaWorldAdapter(name, **kwargs)
    if not name:
        raise ValueError(
            f"adapter '{spec}' is neither sim:<task> nor package.module:Class "
            "(e.g. my_lab.arm:FrankaAdapter)"
        )
    import importlib

    try:
        cls = getattr(importlib.import_module(kind), name)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"cannot load adapter '{spec}': {err}") from err
    adapter = cls(**kwargs)
    if not isinstance(adapter, RobotAdapter):
        raise TypeError(f"{spec} is not a RobotAdapter subclass")
    return adapter
