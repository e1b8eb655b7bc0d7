"""Real robots behind a ZeroMQ server with server-side safety, and simulated robots to test it.

See docs/plugging-in-your-robot.md. Importing this registers the `real/...` task family.
"""

from envs.real_robot.adapter import CameraSpec, Capabilities, RobotAdapter
from envs.real_robot.client import RobotClient, RobotEnv, RobotTimeout, send_estop
from envs.real_robot.protocol import PROTOCOL_VERSION, RobotError, VersionMismatch
from envs.real_robot.safety import SafetyConfig, SafetyFilter, SafetyRefusal
from envs.real_robot.success import DetectorSuccess, HumanSuccess, SimulatorSuccess
from envs.real_robot.tasks import resolve
from envs.registry import register_resolver, register_suite

register_resolver("real", resolve, memoize=False)  # robots.json may be edited
register_suite("real", ["real/sim-drawer-open"])

__all__ = [
    "PROTOCOL_VERSION",
    "CameraSpec",
    "Capabilities",
    "DetectorSuccess",
    "HumanSuccess",
    "RobotAdapter",
    "RobotClient",
    "RobotEnv",
    "RobotError",
    "RobotTimeout",
    "SafetyConfig",
    "SafetyFilter",
    "SafetyRefusal",
    "SimulatorSuccess",
    "VersionMismatch",
    "send_estop",
]
