"""The class a user implements to put their robot behind the server.

The server owns the network, the protocol, the safety filter and the watchdog; an adapter only
talks to the hardware. Everything an adapter returns is checked by the server before it goes on
the wire, so a mistake in an adapter surfaces as a clear `adapter_error`, never as a silent
misread on the client.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from envs.real_robot.safety import SafetyConfig


@dataclass(frozen=True)
class CameraSpec:
    name: str
    height: int
    width: int


@dataclass(frozen=True)
class Capabilities:
    """What `hello` reports: the client builds its spaces from this, nothing else."""

    action_dim: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    proprio_dim: int
    cameras: tuple[CameraSpec, ...]
    control_hz: float
    #: a simulated robot can report success/progress/dense reward; a real one reports none
    privileged: bool = False
    name: str = "robot"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        d = asdict(self)
        d["cameras"] = [asdict(c) for c in self.cameras]
        return d

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Capabilities:
        return cls(
            action_dim=int(d["action_dim"]),
            action_low=tuple(d["action_low"]),
            action_high=tuple(d["action_high"]),
            proprio_dim=int(d["proprio_dim"]),
            cameras=tuple(CameraSpec(**c) for c in d["cameras"]),
            control_hz=float(d["control_hz"]),
            privileged=bool(d.get("privileged", False)),
            name=str(d.get("name", "robot")),
            extra=dict(d.get("extra", {})),
        )


class RobotAdapter(ABC):
    """Implement these for your robot; see docs/plugging-in-your-robot.md.

    Calls come from one server thread, except `emergency_stop`, which may arrive from the
    e-stop thread while another call is in progress: make it safe to call at any time.
    """

    #: the limits the server enforces for this robot; override or pass one to the server
    safety: SafetyConfig

    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abstractmethod
    def reset(self, seed: int | None) -> None:
        """Bring the robot and scene to a start state (a real robot may wait for a human)."""

    @abstractmethod
    def apply_action(self, action: np.ndarray) -> None:
        """Execute one already-checked action and return when the control period is over."""

    @abstractmethod
    def read_cameras(self) -> dict[str, np.ndarray]:
        """One uint8 HxWx3 image per camera named in `capabilities().cameras`."""

    @abstractmethod
    def read_proprio(self) -> np.ndarray:
        """Proprioception as a flat float vector of `capabilities().proprio_dim` entries."""

    def ee_position(self) -> np.ndarray | None:
        """End-effector x, y, z in the workspace box's frame (needed when a box is set)."""
        return None

    def stop(self) -> None:  # noqa: B027 - a robot that holds still on its own needs nothing
        """Hold still: zero velocity, keep the gripper as it is. Called by the watchdog."""

    def emergency_stop(self) -> None:
        """Cut motion now (brakes, torque off). Defaults to `stop`; override for real hardware."""
        self.stop()

    def privileged(self) -> dict[str, float] | None:
        """Simulators only: success, progress and dense reward of the current state."""
        return None

    def close(self) -> None:  # noqa: B027
        pass


def check_camera_frames(caps: Capabilities, frames: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Frames in capability order, validated, so a bad adapter fails on the server side."""
    out = []
    for cam in caps.cameras:
        if cam.name not in frames:
            raise ValueError(f"adapter returned no frame for camera '{cam.name}'")
        f = np.asarray(frames[cam.name])
        if f.shape != (cam.height, cam.width, 3) or f.dtype != np.uint8:
            raise ValueError(
                f"camera '{cam.name}' frame is {f.shape} {f.dtype}; "
                f"expected ({cam.height}, {cam.width}, 3) uint8"
            )
        out.append(f)
    return out
