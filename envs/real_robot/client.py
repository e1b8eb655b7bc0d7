"""The benchmark's side of the robot link: a request client and a gymnasium Env on top of it.

`RobotClient` follows ZeroMQ's "lazy pirate" pattern: every call has a deadline; on a timeout the
socket is thrown away and the same request (same `seq`) is sent on a fresh one, and the server
answers a repeated `seq` from its cache, so a lost reply never applies an action twice.

`RobotEnv` is what runs and methods see: proprioception as the observation, the camera frame
for the reward model and the oracle (re-served from a `FrameStore` for queried states), and
`info["success"]` from a `SuccessSource`. `gt_reward` and `progress` exist only when a simulated
robot reports them; on a real robot they are 0.0 and the scripted teacher cannot be used.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import uuid
import weakref
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import zmq
from PIL import Image

from envs.real_robot.adapter import Capabilities
from envs.real_robot.auth import ClientKeys, apply_client_keys
from envs.real_robot.frame_store import FrameStore
from envs.real_robot.protocol import (
    PROTOCOL_VERSION,
    ProtocolError,
    RobotError,
    VersionMismatch,
    decode,
    encode,
)
from envs.real_robot.success import SimulatorSuccess, SuccessSource
from envs.spec import EnvCapabilities

log = logging.getLogger("envs.real_robot.client")


class RobotTimeout(TimeoutError):
    """The server did not answer within the deadline, after every retry."""


class RobotClient:
    def __init__(
        self,
        address: str,
        timeout_s: float = 5.0,
        retries: int = 2,
        version: int = PROTOCOL_VERSION,
        keys: ClientKeys | None = None,
    ) -> None:
        self.address = address
        #: CURVE keys for a server started with --keys (see envs/real_robot/auth.py)
        self.keys = keys
        self.timeout_s = timeout_s
        self.retries = retries
        self.version = version
        self.session = uuid.uuid4().hex
        self.seq = 0
        self.reconnects = 0
        self.ctx = zmq.Context.instance()
        self.sock: zmq.Socket | None = None
        self._connect()

    def _connect(self) -> None:
        if self.sock is not None:
            self.sock.close(0)
        self.sock = self.ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        if self.keys is not None:
            apply_client_keys(self.sock, self.keys)
        self.sock.connect(self.address)

    def request(
        self, op: str, timeout_s: float | None = None, **fields: Any
    ) -> tuple[dict[str, Any], list[np.ndarray]]:
        """Send `op` and return the reply; raise RobotError/VersionMismatch/RobotTimeout."""
        self.seq += 1
        parts = encode(
            {"v": self.version, "op": op, "session": self.session, "seq": self.seq, **fields}
        )
        deadline = timeout_s if timeout_s is not None else self.timeout_s
        for attempt in range(self.retries + 1):
            assert self.sock is not None
            self.sock.send_multipart(parts, copy=False)
            if self.sock.poll(int(deadline * 1000)):
                header, frames = decode(self.sock.recv_multipart())
                if not header.get("ok", False):
                    code, reason = str(header.get("error")), str(header.get("reason", ""))
                    if code == "version_mismatch":
                        raise VersionMismatch(code, reason)
                    raise RobotError(code, reason)
                if header.get("v") != self.version:
                    raise ProtocolError(
                        f"server answered in protocol version {header.get('v')!r}, "
                        f"this client speaks {self.version}"
                    )
                return header, frames
            log.warning(
                "no reply to '%s' from %s within %.1f s (try %d of %d); reconnecting",
                op,
                self.address,
                deadline,
                attempt + 1,
                self.retries + 1,
            )
            self.reconnects += 1
            self._connect()
        raise RobotTimeout(
            f"robot server at {self.address} did not answer '{op}' in {self.retries + 1} tries of "
            f"{deadline:.1f} s. Is it running (python -m envs.real_robot.server --host ... "
            "--port ...) and reachable from here? A server started with --keys answers only "
            'clients with an authorized key (robots.json: "keys": DIR).'
        )

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close(0)
            self.sock = None


def send_estop(address: str, reason: str = "operator", timeout_s: float = 1.0) -> bool:
    """Fire the server's e-stop channel (tcp://host:estop_port).

    True only once the server confirms that the robot is stopped; False on no answer, or when
    the server latched the e-stop but its adapter failed to stop (stop the robot by hand).
    """
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(address)
        sock.send_multipart(encode({"v": PROTOCOL_VERSION, "op": "estop", "reason": reason}))
        if not sock.poll(int(timeout_s * 1000)):
            return False
        try:
            header, _ = decode(sock.recv_multipart())
        except ProtocolError:
            return False
        if not header.get("ok"):
            log.error("e-stop not confirmed by %s: %s", address, header.get("reason"))
        return bool(header.get("ok")) and bool(header.get("estopped"))
    finally:
        sock.close(0)


def resize(frame: np.ndarray, size: int) -> np.ndarray:
    """Square resize with area averaging when shrinking (no torchvision here)."""
    if frame.shape[0] == size and frame.shape[1] == size:
        return frame
    img = Image.fromarray(frame)
    method = Image.Resampling.BOX if size < frame.shape[0] else Image.Resampling.BILINEAR
    return np.asarray(img.resize((size, size), method))


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


class RobotEnv(EnvCapabilities, gym.Env):
    """A robot behind a server, as the suite's gymnasium Env (also a `FrameEnv`)."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        address: str,
        success: SuccessSource | None = None,
        camera: str | None = None,
        max_episode_steps: int = 500,
        timeout_s: float = 5.0,
        reset_timeout_s: float = 120.0,
        retries: int = 2,
        frame_root: str | None = None,
        process: subprocess.Popen | None = None,
        keys: ClientKeys | None = None,
    ) -> None:
        self.client = RobotClient(address, timeout_s, retries, keys=keys)
        #: where the robot is; two envs with the same address drive one physical robot
        self.robot_address = address
        self.process = process
        hello, _ = self.client.request("hello")
        self.caps = Capabilities.from_wire(hello["capabilities"])
        self.safety = hello["safety"]
        self.estop_address = address.rsplit(":", 1)[0] + f":{hello['estop_port']}"
        names = [c.name for c in self.caps.cameras]
        self.camera = camera or names[0]
        if self.camera not in names:
            raise ValueError(f"robot has cameras {names}; no camera named '{self.camera}'")
        self._cam = names.index(self.camera)
        self.success = success if success is not None else SimulatorSuccess()
        if isinstance(self.success, SimulatorSuccess) and not self.caps.privileged:
            raise ValueError(
                f"{self.caps.name} is not a simulator, so it has no success flag: pass "
                "success='human', 'keyboard' or 'detector:package.module:function'"
            )
        #: False on a real robot: no success/progress/dense reward from the server
        self.has_privileged_state = self.caps.privileged
        self.max_episode_steps = max_episode_steps
        self.reset_timeout_s = reset_timeout_s
        self.observation_space = gym.spaces.Box(
            -np.inf, np.inf, (self.caps.proprio_dim,), np.float32
        )
        self.action_space = gym.spaces.Box(
            np.asarray(self.caps.action_low, np.float32),
            np.asarray(self.caps.action_high, np.float32),
        )
        self.frames = FrameStore(frame_root)
        if process is not None:  # an env dropped without close() still takes its server down
            self._finalizer = weakref.finalize(self, _terminate, process)
        self._frame = np.zeros((1, 1, 3), np.uint8)
        self._resized: dict[int, np.ndarray] = {}
        self._steps = 0
        self.last_latency_s = 0.0

    def _take(self, header: dict[str, Any], frames: list[np.ndarray]) -> np.ndarray:
        self._frame = frames[self._cam]
        self._resized = {}
        self._proprio = np.asarray(header["proprio"], np.float32)
        self._privileged = header.get("privileged")
        return self._proprio

    # --- gymnasium ------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        header, frames = self.client.request("reset", timeout_s=self.reset_timeout_s, seed=seed)
        self._steps = 0
        self.success.reset()
        return self._take(header, frames), {}

    def step(self, action: np.ndarray):
        t0 = time.perf_counter()
        try:
            header, frames = self.client.request(
                "step", action=np.asarray(action, np.float64).ravel().tolist()
            )
        except RobotError as err:
            if err.code != "not_ready" or self._steps == 0:
                raise
            return self._preempted(err)
        self.last_latency_s = time.perf_counter() - t0
        obs = self._take(header, frames)
        self._steps += 1
        priv = self._privileged
        info = {
            # per step, like a simulator's flag; a human's mark latches inside its source
            "success": bool(self.success(self._frame, obs, priv)),
            "gt_reward": float(priv["gt_reward"]) if priv else 0.0,
            "progress": float(priv["progress"]) if priv else 0.0,
            "clipped": list(header.get("clipped", [])),
            "latency_s": self.last_latency_s,
        }
        truncated = self._steps >= self.max_episode_steps
        return obs, float(info["gt_reward"]), False, truncated, info

    def _preempted(self, err: RobotError):
        """Another client (the evaluation env on the same robot) reset the robot mid-episode.

        One robot cannot run two episodes: the runner evaluates in the middle of a training
        episode, so the training episode ends here, truncated, with the action not executed.
        """
        log.warning("episode ended by another client's reset (%s); truncating it", err.reason)
        self._steps = self.max_episode_steps
        info = {
            "success": False,
            "gt_reward": 0.0,
            "progress": 0.0,
            "clipped": [],
            "latency_s": 0.0,
            "preempted": True,
        }
        return self._proprio, 0.0, False, True, info

    # --- FrameEnv -------------------------------------------------------------------------------
    def render_frame(self, size: int | None = None) -> np.ndarray:
        size = size or self._frame.shape[0]
        if size not in self._resized:
            self._resized[size] = resize(self._frame, size)
        return self._resized[size]

    def render(self) -> np.ndarray:
        return self._frame

    def snapshot(self) -> np.ndarray:
        return self.frames.put(self._frame)

    def render_snapshot(self, snapshot: np.ndarray, size: int) -> np.ndarray:
        return resize(self.frames.get(snapshot), size)

    def discard_frames(self, snapshots: np.ndarray) -> list[Path]:
        """Delete the on-disk frames of a finished run (FrameStore.delete)."""
        return self.frames.delete(snapshots)

    @property
    def shared_hardware(self) -> str:  # type: ignore[override]
        """The robot's address: two envs with the same one drive one physical robot."""
        return self.robot_address

    def end_of_run(self, snapshots: np.ndarray) -> None:
        """Delete the run's buffered frames (GBs per long run), unless VLMBENCH_KEEP_FRAMES=1:
        they were kept for rating and resuming, and the frames the oracle saw are in its cache."""
        if os.environ.get("VLMBENCH_KEEP_FRAMES") != "1":
            removed = self.discard_frames(snapshots)
            log.info("deleted %d robot frame store(s) of the finished run", len(removed))

    # --- safety and cleanup -----------------------------------------------------------------------
    def emergency_stop(self, reason: str = "client request") -> bool:
        return send_estop(self.estop_address, reason)

    def status(self) -> dict[str, Any]:
        return self.client.request("status")[0]

    def close(self) -> None:
        try:
            if self.client.sock is not None:
                self.client.retries = 0
                self.client.request("stop", timeout_s=1.0)
        except (RobotError, RobotTimeout, ProtocolError) as err:
            log.warning("could not send stop on close: %s", err)
        finally:
            self.client.close()
            self.frames.close()
            self.success.close()
            if self.process is not None:
                _terminate(self.process)
                self.process = None
