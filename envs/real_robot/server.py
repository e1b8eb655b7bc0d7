"""The robot server: runs next to the robot, speaks the protocol, enforces safety.

    python -m envs.real_robot.server keys robot-keys      # once: CURVE keys, in files
    python -m envs.real_robot.server --host 0.0.0.0 --keys robot-keys --port 5555 \
        --adapter my_lab.arm:MyArm --safety my_arm_safety.json --log robot-server.log

One thread serves requests in order (a ROUTER socket, so a client that vanished mid-request
cannot wedge it). Between requests it checks the watchdog: during an episode, no `reset` or
`step` for `watchdog_s` seconds stops the robot (client crash, network loss, a long pause). Only
the client that started the episode may go on stepping afterwards; any other must reset first.
A second socket (`--estop-port`, default port + 1) is served by its own thread so an emergency
stop is executed at once, even while the main thread is inside a slow `apply_action`; the e-stop
latch then refuses every motion request until an operator releases it.

Hostile or broken input (docs/robot.md): every message on the e-stop port latches the e-stop,
whatever its format; a malformed request gets a `malformed` reply and the server keeps serving;
both ports drop messages over `--max-message-bytes`; with `--keys` only clients holding an
authorized CURVE key reach the request port, and binding a non-loopback address without keys
needs `--insecure`. If the e-stop thread dies anyway, the server latches the e-stop and will not
release it (fail-safe): restart the server.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import replace
from typing import Any

import numpy as np
import zmq
from zmq.auth.thread import ThreadAuthenticator

from envs.real_robot.adapter import Capabilities, RobotAdapter, check_camera_frames
from envs.real_robot.auth import ServerKeys, is_loopback, keys_main, load_server_keys
from envs.real_robot.protocol import (
    HEADER_BUDGET_BYTES,
    OPS,
    PROTOCOL_VERSION,
    FrameMeta,
    ProtocolError,
    VersionMismatch,
    check_fields,
    check_version,
    decode,
    encode,
)
from envs.real_robot.safety import SafetyConfig, SafetyFilter, SafetyRefusal

log = logging.getLogger("envs.real_robot.server")

#: requests that feed the watchdog and are answered from the replay cache when resent
MOTION_OPS = ("reset", "step", "stop")


class InsecureBind(ValueError):
    """A non-loopback address without authentication, and no explicit --insecure."""


def _insecure_message(host: str) -> str:
    return (
        f"refusing to listen on {host} without authentication: anyone who reaches it could "
        "release the e-stop or drive the robot. Create keys with `python -m "
        "envs.real_robot.server keys DIR` and pass --keys DIR (or --insecure on a network you "
        "trust)"
    )


def default_max_message_bytes(caps: Capabilities) -> int:
    """The largest message this protocol sends is an observation: one header, one frame per
    camera. Requests carry no frames, so nothing a client legitimately sends comes close."""
    frames = sum(c.height * c.width * 3 for c in caps.cameras)
    return HEADER_BUDGET_BYTES + frames


def _recv_routed(sock: zmq.Socket) -> tuple[list[bytes], list[bytes]]:
    """A ROUTER message as (envelope to send the reply back on, body)."""
    identity, *rest = sock.recv_multipart()
    # REQ clients put an empty delimiter before the message
    if rest and rest[0] == b"":
        return [identity, b""], rest[1:]
    return [identity], rest


class RobotServer:
    def __init__(
        self,
        adapter: RobotAdapter,
        safety: SafetyConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 5555,
        estop_port: int | None = None,
        drop_replies: int = 0,
        keys: ServerKeys | None = None,
        insecure: bool = False,
        max_message_bytes: int | None = None,
    ) -> None:
        if keys is None and not insecure and not is_loopback(host):
            raise InsecureBind(_insecure_message(host))
        self.adapter = adapter
        self.caps = adapter.capabilities()
        self.safety = safety or adapter.safety
        if self.safety.action_dim != self.caps.action_dim:
            raise ValueError(
                f"safety config is for {self.safety.action_dim}-d actions, "
                f"the adapter takes {self.caps.action_dim}"
            )
        self.filter = SafetyFilter(self.safety)
        self.max_message_bytes = max_message_bytes or default_max_message_bytes(self.caps)
        self.ctx = zmq.Context()
        self.authenticator: ThreadAuthenticator | None = None
        self.sock = self._socket(keys)
        self.estop_sock = self._socket(None)  # plaintext: anyone may stop the robot
        self.port = self._bind(self.sock, host, port)
        if estop_port is None and port != 0:
            estop_port = port + 1
        self.estop_port = self._bind(self.estop_sock, host, estop_port or 0)
        self.host = host
        self.authenticated = keys is not None
        self.estopped = threading.Event()
        self.shutdown = threading.Event()
        #: set when the e-stop thread is gone: the latch then stays set until a restart
        self.estop_channel_down = False
        self.episode_active = False
        self.halted = False
        self.owner = ""  # session of the client whose reset started the running episode
        self.steps = 0
        self.last_command = time.monotonic()
        self.counts: Counter[str] = Counter()
        #: session -> (seq, reply parts): a resent request gets the same answer, applied once
        self._replies: OrderedDict[str, tuple[int, list[Any]]] = OrderedDict()
        #: fault injection for tests: process but do not answer the first N motion requests
        self._drop_replies = drop_replies
        self._estop_thread = threading.Thread(target=self._serve_estop, daemon=True)

    def _socket(self, keys: ServerKeys | None) -> zmq.Socket:
        """A ROUTER (no send/receive state to wedge) with the size limit, and CURVE if keyed."""
        sock = self.ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        # per part; ZeroMQ drops the connection of a peer that sends more
        sock.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        if keys is not None:
            if self.authenticator is None:
                self.authenticator = ThreadAuthenticator(self.ctx, log=log)
                self.authenticator.start()
                self.authenticator.configure_curve(domain="*", location=str(keys.authorized))
            sock.curve_secretkey = keys.secret
            sock.curve_publickey = keys.public
            sock.curve_server = True
        return sock

    @staticmethod
    def _bind(sock: zmq.Socket, host: str, port: int) -> int:
        if port == 0:
            return sock.bind_to_random_port(f"tcp://{host}")
        sock.bind(f"tcp://{host}:{port}")
        return port

    # --- safety state ---------------------------------------------------------------------------
    def trigger_estop(self, reason: str) -> bool:
        """Latch the e-stop and cut motion; safe from any thread, wins over everything.

        Never raises: the latch is set before the adapter is called, so even an adapter whose
        `emergency_stop` fails gets no further motion. Returns False when it failed (the
        operator must then stop the robot by hand; the reply says so).
        """
        first = not self.estopped.is_set()
        self.estopped.set()
        self.episode_active = False
        self.counts["estop"] += 1
        if first:
            log.error("EMERGENCY STOP: %s", reason)
        try:
            self.adapter.emergency_stop()
            return True
        except Exception:
            self.counts["estop_adapter_error"] += 1
            log.critical("adapter.emergency_stop failed; STOP THE ROBOT BY HAND", exc_info=True)
            try:
                self.adapter.stop()
            except Exception:
                log.exception("adapter.stop failed too")
            return False

    def _check_watchdog(self) -> None:
        if not self.episode_active or self.halted:
            return
        idle = time.monotonic() - self.last_command
        if idle > self.safety.watchdog_s:
            self.halted = True
            self.episode_active = False
            self.counts["watchdog"] += 1
            log.warning(
                "watchdog: no command for %.2f s (limit %.2f s); robot stopped (its client may go on, "
                "any other must reset)",
                idle,
                self.safety.watchdog_s,
            )
            try:
                self.adapter.stop()
            except Exception:  # the robot may still be moving: latch, never guess
                log.exception("adapter.stop failed in the watchdog")
                self.trigger_estop("the watchdog could not stop the robot")

    # --- replies --------------------------------------------------------------------------------
    def _error(self, code: str, reason: str) -> list[Any]:
        self.counts[f"error_{code}"] += 1
        log.warning("refused request (%s): %s", code, reason)
        return encode({"v": PROTOCOL_VERSION, "ok": False, "error": code, "reason": reason})

    def _observation(self, extra: dict[str, Any]) -> list[Any]:
        t = time.time()
        frames = check_camera_frames(self.caps, self.adapter.read_cameras())
        t_frames = time.time()
        proprio = np.asarray(self.adapter.read_proprio(), np.float64).ravel()
        if proprio.shape != (self.caps.proprio_dim,) or not np.all(np.isfinite(proprio)):
            raise ValueError(
                f"adapter proprioception has shape {proprio.shape} or non-finite values; "
                f"expected {self.caps.proprio_dim} finite floats"
            )
        header: dict[str, Any] = {
            "v": PROTOCOL_VERSION,
            "ok": True,
            "proprio": proprio.tolist(),
            "t_request": t,
            "t_proprio": time.time(),
            "frames": [
                FrameMeta(c.name, f.shape, str(f.dtype), t_frames).to_wire()
                for c, f in zip(self.caps.cameras, frames, strict=True)
            ],
            "step": self.steps,
            **extra,
        }
        if self.caps.privileged:
            header["privileged"] = self.adapter.privileged()
        return encode(header, frames)

    def handle(self, header: dict[str, Any]) -> list[Any]:
        """Answer one decoded request (the network-free core, also used by the benchmarks)."""
        try:
            check_version(header)
            check_fields(header)
        except VersionMismatch as err:
            return self._error(err.code, err.reason)
        except ProtocolError as err:
            return self._error("malformed", str(err))
        op = header.get("op")
        if op not in OPS:
            return self._error("unknown_op", f"op {op!r} is not one of {list(OPS)}")
        if op in MOTION_OPS:
            self.last_command = time.monotonic()
        try:
            return getattr(self, f"_op_{op}")(header)
        except SafetyRefusal as err:
            return self._error("refused", str(err))
        except Exception as err:  # the user's adapter failed: stop and say so
            log.exception("adapter error during %s", op)
            self.episode_active = False
            try:
                self.adapter.stop()
            except Exception:
                log.exception("adapter.stop failed after an adapter error")
            return self._error("adapter_error", f"{type(err).__name__}: {err}")

    def _op_hello(self, header: dict[str, Any]) -> list[Any]:
        return encode(
            {
                "v": PROTOCOL_VERSION,
                "ok": True,
                "capabilities": self.caps.to_wire(),
                "safety": self.safety.to_dict(),
                "estop_port": self.estop_port,
                "estopped": self.estopped.is_set(),
            }
        )

    def _op_status(self, header: dict[str, Any]) -> list[Any]:
        return encode(
            {
                "v": PROTOCOL_VERSION,
                "ok": True,
                "estopped": self.estopped.is_set(),
                "estop_channel": "down" if self.estop_channel_down else "up",
                "authenticated": self.authenticated,
                "halted": self.halted,
                "episode_active": self.episode_active,
                "steps": self.steps,
                "counts": dict(self.counts),
                "safety_counts": dict(self.filter.counts),
            }
        )

    def _op_estop(self, header: dict[str, Any]) -> list[Any]:
        return self._estop_reply(
            self.trigger_estop(str(header.get("reason", "requested by client")))
        )

    def _estop_reply(self, stopped: bool) -> list[Any]:
        if stopped:
            return encode({"v": PROTOCOL_VERSION, "ok": True, "estopped": True})
        return encode(
            {
                "v": PROTOCOL_VERSION,
                "ok": False,
                "estopped": True,
                "error": "adapter_error",
                "reason": "the e-stop is latched but the adapter's emergency_stop failed: "
                "stop the robot by hand",
            }
        )

    def _op_release_estop(self, header: dict[str, Any]) -> list[Any]:
        if self.estop_channel_down:
            return self._error(
                "refused",
                "the e-stop channel is down, so the e-stop stays latched: restart the server",
            )
        if header.get("confirm") != "robot is safe":
            return self._error(
                "refused",
                "releasing the e-stop needs confirm='robot is safe' (an operator's decision)",
            )
        self.estopped.clear()
        log.warning("e-stop released by operator request")
        return encode({"v": PROTOCOL_VERSION, "ok": True, "estopped": False})

    def _op_reset(self, header: dict[str, Any]) -> list[Any]:
        if self.estopped.is_set():
            return self._error("estopped", "the emergency stop is latched; release it first")
        seed = header.get("seed")
        self.adapter.reset(None if seed is None else int(seed))
        self.halted = False
        self.steps = 0
        self.owner = str(header.get("session", ""))
        self.episode_active = not self.estopped.is_set()
        self.last_command = time.monotonic()
        return self._observation({})

    def _op_step(self, header: dict[str, Any]) -> list[Any]:
        if self.estopped.is_set():
            return self._error("estopped", "the emergency stop is latched; no motion allowed")
        session = str(header.get("session", ""))
        if self.halted and session == self.owner:
            # the episode's own client paused (reward learning, a slow update) and the robot was
            # held meanwhile; it may go on. Any other client must start a new episode.
            self.halted = False
            self.episode_active = True
            self.counts["resumed_after_watchdog"] += 1
            log.info("episode's client is back after the watchdog stop; resuming")
        if self.halted:
            return self._error(
                "halted",
                f"the watchdog stopped the robot (no command for {self.safety.watchdog_s} s); "
                "call reset to start a new episode",
            )
        if not self.episode_active:
            return self._error("not_ready", "no episode in progress; call reset first")
        if session != self.owner:
            return self._error(
                "not_ready", "another client owns the running episode; call reset to take over"
            )
        action, clips = self.filter.check(header.get("action"), self.adapter.ee_position())
        self.adapter.apply_action(action)
        self.last_command = time.monotonic()
        if self.estopped.is_set():  # e-stop arrived during the motion
            return self._error("estopped", "emergency stop during this step; motion was cut")
        self.steps += 1
        return self._observation({"clipped": clips, "applied": action.tolist()})

    def _op_stop(self, header: dict[str, Any]) -> list[Any]:
        self.adapter.stop()
        self.episode_active = False
        return encode({"v": PROTOCOL_VERSION, "ok": True})

    # --- network loops --------------------------------------------------------------------------
    def _answer(self, parts: list[bytes]) -> list[Any] | None:
        try:
            header, _ = decode(parts, self.max_message_bytes)
        except ProtocolError as err:
            return self._error("malformed", str(err))
        session, seq = str(header.get("session", "")), header.get("seq")
        op = header.get("op")
        cached = self._replies.get(session)
        if op in MOTION_OPS and cached is not None and seq is not None and cached[0] == seq:
            self.counts["resent_reply"] += 1
            self.last_command = time.monotonic()
            return cached[1]
        reply = self.handle(header)
        if op in MOTION_OPS and seq is not None:
            self._replies[session] = (seq, reply)
            self._replies.move_to_end(session)
            while len(self._replies) > 16:
                self._replies.popitem(last=False)
            if self._drop_replies > 0:
                self._drop_replies -= 1
                return None
        return reply

    def _serve_estop(self) -> None:
        """E-stop thread: survives every message; if it ends anyway, the server fails safe."""
        try:
            while not self.shutdown.is_set():
                try:
                    self._estop_once()
                except Exception:
                    self.counts["estop_channel_errors"] += 1
                    log.exception("e-stop channel: error while handling a message; still serving")
        finally:
            if not self.shutdown.is_set():
                self._estop_channel_lost()

    def _estop_once(self) -> None:
        if not self.estop_sock.poll(100):
            return
        envelope, body = _recv_routed(self.estop_sock)
        # stop first, read later: no format, version or decoding problem may delay or block it
        stopped = self.trigger_estop("message on the e-stop channel")
        try:
            header, _ = decode(body, self.max_message_bytes)
            reason = f"e-stop channel: {header.get('reason', 'no reason given')!r:.200}"
        except ProtocolError as err:
            self.counts["estop_unreadable"] += 1
            reason = f"e-stop channel (unreadable message, still obeyed: {err})"
        log.error("%s", reason)
        self.estop_sock.send_multipart([*envelope, *self._estop_reply(stopped)])

    def _estop_channel_lost(self) -> None:
        """The e-stop thread is gone: nobody could stop the robot remotely, so stop it now."""
        if self.estop_channel_down:
            return
        self.estop_channel_down = True
        self.counts["estop_channel_down"] += 1
        log.critical("the e-stop thread has ended; latching the e-stop until a restart")
        self.trigger_estop("the e-stop channel is down")

    def _serve_once(self, poll_ms: int) -> None:
        if self.sock.poll(poll_ms):
            envelope, body = _recv_routed(self.sock)
            try:
                reply = self._answer(body)
            except Exception as err:  # a server bug must cost one request, not the server
                log.exception("internal error while answering a request")
                self._hold_robot()
                reply = self._error("internal", f"{type(err).__name__}: {err}")
            if reply is not None:
                self.sock.send_multipart([*envelope, *reply])
        if not self._estop_thread.is_alive() and not self.shutdown.is_set():
            self._estop_channel_lost()
        self._check_watchdog()

    def _hold_robot(self) -> None:
        self.episode_active = False
        try:
            self.adapter.stop()
        except Exception:
            log.exception("adapter.stop failed")
            self.trigger_estop("the robot could not be held after an internal error")

    def serve_forever(self) -> None:
        """Serve until `shutdown` is set (SIGINT/SIGTERM); no request can end this loop."""
        self._estop_thread.start()
        poll_ms = max(5, min(50, int(self.safety.watchdog_s * 250)))
        try:
            while not self.shutdown.is_set():
                try:
                    self._serve_once(poll_ms)
                except Exception:
                    self.counts["server_errors"] += 1
                    log.exception("error in the request loop; still serving")
                    self._hold_robot()
        finally:
            self.close()

    def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        self.shutdown.set()
        try:
            self.adapter.stop()
        except Exception:  # still close the sockets; the log says the robot may not be held
            log.exception("adapter.stop failed while shutting down")
        finally:
            if self._estop_thread.is_alive():
                self._estop_thread.join(timeout=1)
            self.sock.close(0)
            self.estop_sock.close(0)
            if self.authenticator is not None:
                self.authenticator.stop()
            self.ctx.term()
            self.adapter.close()


def _die_with_parent() -> None:
    """Spawned by a benchmark run: exit when it dies, so no sim server outlives its run."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _parse_kv(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--adapter-arg expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m envs.real_robot.server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    p.add_argument("--port", type=int, default=5555, help="request port (0: pick a free one)")
    p.add_argument("--estop-port", type=int, default=None, help="e-stop port (default port+1)")
    p.add_argument(
        "--keys",
        default=os.environ.get("ROBOT_KEYS"),
        help="key folder from `keys` (default $ROBOT_KEYS): only its authorized clients may "
        "use the request port",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback --host without --keys (anyone who reaches it can drive the robot)",
    )
    p.add_argument(
        "--max-message-bytes",
        type=int,
        default=None,
        help="drop messages larger than this (default: 64 KiB + one frame per camera)",
    )
    p.add_argument(
        "--adapter",
        default=os.environ.get("ROBOT_ADAPTER", "sim:drawer-open"),
        help="package.module:Class of your RobotAdapter, or sim:<metaworld-task> / sim:point "
        "(default: $ROBOT_ADAPTER, else sim:drawer-open)",
    )
    p.add_argument("--adapter-arg", action="append", default=[], metavar="K=V")
    p.add_argument("--safety", help="JSON file of SafetyConfig fields (default: the adapter's)")
    p.add_argument("--watchdog", type=float, help="override the safety config's watchdog_s")
    p.add_argument("--log", help="also write the server log (refusals, e-stops) to this file")
    p.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    return p


def _build_server(args: argparse.Namespace) -> RobotServer:
    from envs.real_robot.sim_adapters import build_adapter

    for flag, port in (("--port", args.port), ("--estop-port", args.estop_port)):
        if port is not None and not 0 <= port <= 65535:  # ZeroMQ would wrap it silently
            raise ValueError(f"{flag} must be 0-65535, got {port}")
    if args.max_message_bytes is not None and args.max_message_bytes < HEADER_BUDGET_BYTES:
        raise ValueError(f"--max-message-bytes must be at least {HEADER_BUDGET_BYTES}")
    if args.keys is None and not args.insecure and not is_loopback(args.host):
        # checked before the adapter is built: a real arm may move when it is constructed
        raise InsecureBind(_insecure_message(args.host))
    keys = load_server_keys(args.keys) if args.keys else None
    adapter = build_adapter(args.adapter, **_parse_kv(args.adapter_arg))
    safety = SafetyConfig.load(args.safety) if args.safety else adapter.safety
    if args.watchdog is not None:
        safety = replace(safety, watchdog_s=args.watchdog)
    return RobotServer(
        adapter,
        safety,
        args.host,
        args.port,
        args.estop_port,
        keys=keys,
        insecure=args.insecure,
        max_message_bytes=args.max_message_bytes,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["keys"]:
        return keys_main(argv[1:])
    args = _parser().parse_args(argv)

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if args.log:
        handlers.append(logging.FileHandler(args.log))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=handlers,
    )
    if args.exit_with_parent:
        _die_with_parent()
    try:
        server = _build_server(args)
    except (ValueError, zmq.ZMQError) as err:  # InsecureBind, KeyFileError, bad adapter
        print(f"robot server not started: {err}", file=sys.stderr)
        return 2

    def _terminate(signum, frame):  # stop the robot, then leave the loop
        server.shutdown.set()

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    ready = {"port": server.port, "estop_port": server.estop_port, "protocol": PROTOCOL_VERSION}
    print(f"READY {json.dumps(ready)}", flush=True)
    log.info(
        "robot server on tcp://%s:%d (e-stop on port %d), adapter %s, watchdog %.2f s, %s, "
        "messages up to %d bytes",
        args.host,
        server.port,
        server.estop_port,
        args.adapter,
        server.safety.watchdog_s,
        "CURVE keys from " + str(args.keys) if args.keys else "NO AUTHENTICATION",
        server.max_message_bytes,
    )
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
