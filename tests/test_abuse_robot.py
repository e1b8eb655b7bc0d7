"""Abuse and fault tests for the robot server (issue 25): a hostile or broken peer on loopback.

What is promised (docs/robot.md): any message on the e-stop port stops the robot; the e-stop
thread survives every input and, if it dies anyway, the server fails safe; a malformed request
costs one `malformed` reply, never the server; messages have a size limit; `v: true` is not
version 1; with CURVE keys only authorized clients can release, reset or step.

Imports of APIs added by that issue sit inside the tests, so that the behavioural tests run, and
fail, against the code from before the fix.
"""

from __future__ import annotations

import random
import stat
import threading
import time
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
import zmq

from envs.real_robot import RobotClient, RobotEnv, RobotError, send_estop
from envs.real_robot.protocol import ProtocolError, decode, encode
from envs.real_robot.server import RobotServer
from envs.real_robot.sim_adapters import PointMassAdapter

#: the packet from the issue: one header field of the wrong type
ISSUE_ESTOP = msgpack.packb({"v": 1, "op": "estop", "frames": 5})
ISSUE_STATUS = msgpack.packb({"v": 1, "op": "status", "frames": 5})

FUZZ_SEED = 25


@pytest.fixture(autouse=True)
def _frames_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("VLMBENCH_FRAME_DIR", str(tmp_path / "frames"))


class Served:
    """A server on a thread, its adapter in reach, so a test sees what the robot did."""

    def __init__(self, adapter: PointMassAdapter, start: bool = True, **kwargs: Any) -> None:
        self.adapter = adapter
        self.server = RobotServer(adapter, port=0, estop_port=0, **kwargs)
        self.address = f"tcp://127.0.0.1:{self.server.port}"
        self.estop_address = f"tcp://127.0.0.1:{self.server.estop_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        if start:
            self.thread.start()

    def stop(self) -> None:
        self.server.shutdown.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        else:
            self.server.close()


@pytest.fixture
def served():
    made: list[Served] = []

    def make(adapter: PointMassAdapter | None = None, **kwargs: Any) -> Served:
        s = Served(adapter or PointMassAdapter(frame_size=64), **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


class Raw:
    """A REQ socket that sends raw multipart messages and decodes nothing itself."""

    def __init__(self, address: str) -> None:
        self.sock = zmq.Context.instance().socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(address)

    def ask(self, parts: list[bytes], timeout_ms: int = 3000) -> dict[str, Any] | None:
        self.sock.send_multipart(parts)
        if not self.sock.poll(timeout_ms):
            return None
        return msgpack.unpackb(self.sock.recv_multipart()[0])

    def close(self) -> None:
        self.sock.close(0)


def _status(address: str) -> dict[str, Any]:
    client = RobotClient(address, timeout_s=3.0, retries=0)
    try:
        return client.request("status")[0]
    finally:
        client.close()


def _episode(s: Served) -> RobotEnv:
    env = RobotEnv(s.address, timeout_s=3.0, reset_timeout_s=3.0)
    env.reset(seed=0)
    env.step(np.zeros(4))
    return env


# --- the fuzz corpus ------------------------------------------------------------------------------
WRONG_VALUES: list[Any] = [True, False, None, 1.5, -1, 2**63, "1", b"\x00", [], [1], {}, {"a": 1}]
#: what each header field may legally hold (the test's own statement of the protocol)
LEGAL: dict[str, Any] = {
    "v": lambda x: type(x) is int,
    "op": lambda x: isinstance(x, str),
    "session": lambda x: isinstance(x, str),
    "seq": lambda x: type(x) is int,
    "seed": lambda x: x is None or type(x) is int,
    "reason": lambda x: isinstance(x, str),
    "confirm": lambda x: isinstance(x, str),
    "action": lambda x: isinstance(x, list),
    "frames": lambda x: isinstance(x, list) and not x,
}
GOOD = {"v": 1, "op": "status", "session": "s", "seq": 1}


def wrong_type_messages() -> list[list[bytes]]:
    """Every header field with every value of a wrong type (the issue's packet is one)."""
    out = []
    for field, legal in LEGAL.items():
        for value in WRONG_VALUES:
            if not legal(value):
                out.append([msgpack.packb({**GOOD, field: value}, use_bin_type=True)])
    return out


def bad_frame_messages() -> list[list[bytes]]:
    """Frame descriptions that lie about their buffers, or ask numpy for something odd."""
    buf = bytes(12)
    metas: list[Any] = [
        5,
        None,
        "uint8",
        {},
        {"dtype": "O", "shape": [12]},
        {"dtype": "<U3", "shape": [1]},
        {"dtype": "V12", "shape": [1]},
        {"dtype": "(1000000000,)u1", "shape": [1]},
        {"dtype": 5, "shape": [12]},
        {"dtype": "uint8", "shape": [-1]},
        {"dtype": "uint8", "shape": [-12, -1]},
        {"dtype": "uint8", "shape": [1.5, 8]},
        {"dtype": "uint8", "shape": [True] * 12},
        {"dtype": "uint8", "shape": "12"},
        {"dtype": "uint8", "shape": 12},
        {"dtype": "uint8", "shape": []},
        {"dtype": "uint8", "shape": [1] * 64},
        {"dtype": "uint8", "shape": [2**62, 2**62]},
        {"dtype": "uint8", "shape": [13]},
        {"dtype": "float64", "shape": [12]},
        {"dtype": "uint8", "shape": [12], "t": "now"},
        {"dtype": "uint8", "shape": [12], "camera": 7},
    ]
    out = [[msgpack.packb({**GOOD, "frames": [m]}), buf] for m in metas]
    ok_meta = {"dtype": "uint8", "shape": [12]}
    out.append([msgpack.packb({**GOOD, "frames": [ok_meta]})])  # a frame without its buffer
    out.append([msgpack.packb({**GOOD, "frames": []}), buf])  # a buffer without its frame
    out.append([msgpack.packb({**GOOD, "frames": [ok_meta] * 100_000}), buf])  # a huge list
    out.append([msgpack.packb({**GOOD, "frames": [ok_meta] * 40}), *[buf] * 40])  # too many
    return out


def random_messages(rng: random.Random, n: int) -> list[list[bytes]]:
    """Random bytes, non-map msgpack, odd keys, deep nesting and bit-flipped valid messages."""
    out: list[list[bytes]] = [
        [b""],
        [b"\xc1"],
        [b"\x91" * 5000 + b"\xc0"],
        [b"\xdf\xff\xff\xff\xff"],
    ]
    out += [[msgpack.packb(v)] for v in (1, "status", [1, "op"], None, 3.5, b"bin")]
    out += [[msgpack.packb({1: 2})], [msgpack.packb({b"v": 1, b"op": b"status"})]]
    valid = msgpack.packb(GOOD)
    for _ in range(n):
        kind = rng.randrange(3)
        if kind == 0:
            out.append([rng.randbytes(rng.randrange(0, 200))])
        elif kind == 1:
            flipped = bytearray(valid)
            for _ in range(rng.randrange(1, 4)):
                flipped[rng.randrange(len(flipped))] = rng.randrange(256)
            out.append([bytes(flipped)])
        else:
            out.append(
                [valid, *[rng.randbytes(rng.randrange(0, 40)) for _ in range(rng.randrange(1, 4))]]
            )
    return out


def version_messages() -> list[list[bytes]]:
    return [[msgpack.packb({**GOOD, "v": v})] for v in (True, False, 1.0, "1", b"1", [1], None)]


def corpus(n_random: int = 400) -> list[list[bytes]]:
    rng = random.Random(FUZZ_SEED)
    return (
        wrong_type_messages()
        + bad_frame_messages()
        + version_messages()
        + random_messages(rng, n_random)
    )


def rejected(parts: list[bytes]) -> bool:
    try:
        decode(parts)
    except ProtocolError:
        return True
    return False


# --- decode is total ------------------------------------------------------------------------------
def test_decode_raises_only_protocol_error_on_any_input():
    """Any bytes -> a message or ProtocolError; never TypeError, KeyError, ValueError ..."""
    escaped = []
    weird_parts: list[Any] = [[], None, "text", [None], ["str"], [1], [object()], [b"\x80", 5]]
    for parts in corpus() + weird_parts:
        try:
            decode(parts)
        except ProtocolError:
            pass
        except Exception as err:  # noqa: BLE001 - this is what the test looks for
            escaped.append(f"{type(err).__name__}: {err} <- {parts!r:.80}")
    assert escaped == []


def test_decode_rejects_every_wrongly_typed_field_and_every_lying_frame():
    for parts in wrong_type_messages() + bad_frame_messages():
        with pytest.raises(ProtocolError):
            decode(parts)
    # while a correct message still decodes, frames included
    frame = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    meta = {"camera": "top", "shape": [2, 2, 3], "dtype": "uint8", "t": 1.0}
    header, frames = decode([bytes(p) for p in encode({**GOOD, "frames": [meta]}, [frame])])
    assert header["op"] == "status"
    np.testing.assert_array_equal(frames[0], frame)


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_a_version_that_only_equals_one_is_not_version_one(version):
    with pytest.raises(ProtocolError, match="'v' must be integer"):
        decode([msgpack.packb({**GOOD, "v": version})])


def test_the_handler_refuses_a_true_version_even_without_decode(served):
    s = served(start=False)
    reply = msgpack.unpackb(bytes(s.server.handle({"v": True, "op": "status"})[0]))
    assert reply["ok"] is False and reply["error"] in ("malformed", "version_mismatch")


# --- the e-stop port ------------------------------------------------------------------------------
def test_the_issue_packet_on_the_estop_port_stops_the_robot(served):
    s = served()
    env = _episode(s)
    raw = Raw(s.estop_address)
    try:
        reply = raw.ask([ISSUE_ESTOP])
        assert reply is not None, "the e-stop channel did not acknowledge"
        assert reply["estopped"] is True
    finally:
        raw.close()
    assert s.adapter.emergency and s.server.estopped.is_set()
    with pytest.raises(RobotError) as err:
        env.step(np.zeros(4))
    assert err.value.code == "estopped"
    assert send_estop(s.estop_address, "later, well-formed", timeout_s=3.0)
    env.close()


def test_every_fuzzed_message_on_the_estop_port_latches_and_is_acknowledged(served):
    s = served()
    messages = [m for m in corpus(100) if sum(len(p) for p in m) < s.server.max_message_bytes]
    raw = Raw(s.estop_address)
    try:
        for i, parts in enumerate(messages):
            s.server.estopped.clear()
            s.adapter.emergency = False
            reply = raw.ask(parts)
            assert reply is not None and reply["estopped"] is True, f"message {i}: {parts!r:.80}"
            assert s.server.estopped.is_set() and s.adapter.emergency, f"message {i}"
    finally:
        raw.close()
    assert s.server._estop_thread.is_alive()
    assert s.server.counts["estop"] >= len(messages)


def test_an_error_inside_the_estop_thread_is_survived(served, monkeypatch):
    import envs.real_robot.server as server_module

    s = served()
    calls = {"n": 0}
    real_decode = server_module.decode

    def faulty(parts, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected fault")
        return real_decode(parts, *args, **kwargs)

    monkeypatch.setattr(server_module, "decode", faulty)
    raw = Raw(s.estop_address)
    raw.ask([msgpack.packb({"v": 1, "op": "estop"})], timeout_ms=500)
    raw.close()
    assert s.server.estopped.is_set() and s.adapter.emergency  # obeyed before the fault
    monkeypatch.setattr(server_module, "decode", real_decode)
    assert send_estop(s.estop_address, "after the fault", timeout_s=3.0)
    assert s.server._estop_thread.is_alive()


class Killed(BaseException):
    """Something no `except Exception` catches, to end the e-stop thread."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_estop_thread_latches_the_estop_and_refuses_release(served):
    s = served()
    env = _episode(s)

    def die() -> None:
        raise Killed("injected: the e-stop thread dies")

    s.server._estop_once = die
    s.server._estop_thread.join(timeout=3)
    assert not s.server._estop_thread.is_alive()
    deadline = time.monotonic() + 3
    while not s.server.estopped.is_set() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert s.server.estopped.is_set() and s.adapter.emergency
    with pytest.raises(RobotError) as err:
        env.step(np.zeros(4))
    assert err.value.code == "estopped"
    with pytest.raises(RobotError, match="restart the server"):
        env.client.request("release_estop", confirm="robot is safe")
    assert env.status()["estop_channel"] == "down"
    env.close()


def test_the_request_loop_notices_an_estop_thread_that_never_ran(served):
    """No `finally` ran (the thread never started its loop): the main loop still fails safe."""
    s = served(start=False)
    s.server._estop_thread = threading.Thread(target=lambda: None, daemon=True)
    s.thread.start()
    deadline = time.monotonic() + 3
    while not s.server.estopped.is_set() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert s.server.estopped.is_set() and s.adapter.emergency
    assert _status(s.address)["estop_channel"] == "down"


def test_a_failing_emergency_stop_latches_and_says_stop_by_hand(served):
    class BadBrake(PointMassAdapter):
        def emergency_stop(self) -> None:
            raise OSError("brake controller offline")

    s = served(BadBrake(frame_size=64))
    env = _episode(s)
    assert not send_estop(s.estop_address, "test", timeout_s=3.0)  # not confirmed
    assert s.server.estopped.is_set() and s.adapter.stopped  # latched, and `stop` was tried
    assert s.server._estop_thread.is_alive()
    with pytest.raises(RobotError) as err:
        env.step(np.zeros(4))
    assert err.value.code == "estopped"
    with pytest.raises(RobotError, match="stop the robot by hand"):
        env.client.request("estop")
    env.close()


def test_a_watchdog_that_cannot_stop_the_robot_latches_the_estop(served):
    class Stuck(PointMassAdapter):
        def stop(self) -> None:
            raise OSError("controller not answering")

    s = served(Stuck(frame_size=64))
    s.server.safety = type(s.server.safety).from_dict(
        {**s.server.safety.to_dict(), "watchdog_s": 0.1}
    )
    env = _episode(s)
    deadline = time.monotonic() + 3
    while not s.server.estopped.is_set() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert s.server.estopped.is_set() and s.adapter.emergency
    assert s.thread.is_alive()
    env.client.close()


# --- the request port -----------------------------------------------------------------------------
def test_the_issue_packet_on_the_request_port_is_refused_and_the_server_lives(served):
    s = served()
    raw = Raw(s.address)
    try:
        reply = raw.ask([ISSUE_STATUS])
        assert reply is not None and reply["ok"] is False and reply["error"] == "malformed"
    finally:
        raw.close()
    assert s.thread.is_alive()
    assert _status(s.address)["ok"] is True


def test_a_fuzz_batch_on_the_request_port_gets_malformed_replies_then_status_works(served):
    s = served()
    env = _episode(s)
    messages = [
        m
        for m in corpus(300)
        if rejected(m) and sum(len(p) for p in m) < s.server.max_message_bytes
    ]
    raw = Raw(s.address)
    codes = []
    try:
        for parts in messages:
            reply = raw.ask(parts)
            assert reply is not None, f"no reply to {parts!r:.80}"
            codes.append(reply.get("error"))
    finally:
        raw.close()
    assert set(codes) == {"malformed"}
    assert s.thread.is_alive() and s.adapter.actions_applied == 1
    assert env.status()["counts"]["error_malformed"] == len(messages)
    env.step(np.zeros(4))  # the episode's client was not disturbed
    env.close()


def test_an_internal_error_costs_one_request_and_holds_the_robot(served):
    s = served()
    env = _episode(s)

    def broken(header):
        raise KeyError("injected server bug")

    s.server.handle = broken
    with pytest.raises(RobotError) as err:
        env.step(np.zeros(4))
    assert err.value.code == "internal" and s.adapter.stopped
    del s.server.handle
    assert env.status()["ok"] is True and s.thread.is_alive()
    env.close()


def test_the_issue_packets_do_not_end_the_server_process(tmp_path, monkeypatch):
    """The CLI server, as a sweep starts it: before the fix it exited with rc 1."""
    from envs.real_robot.client import _terminate
    from envs.real_robot.tasks import launch_sim_server

    # the robot's own key folder must not leak into a loopback sim server
    monkeypatch.setenv("ROBOT_KEYS", str(tmp_path / "no-keys-here"))
    proc, address = launch_sim_server("sim:point")
    try:
        hello = RobotClient(address, timeout_s=10.0).request("hello")[0]
        estop_address = address.rsplit(":", 1)[0] + f":{hello['estop_port']}"
        for addr, packet in ((address, ISSUE_STATUS), (estop_address, ISSUE_ESTOP)):
            raw = Raw(addr)
            assert raw.ask([packet]) is not None
            raw.close()
        time.sleep(0.2)
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        status = _status(address)
        assert status["estopped"] is True and status["estop_channel"] == "up"
    finally:
        _terminate(proc)


# --- message size ---------------------------------------------------------------------------------
def test_the_size_limit_fits_an_observation_and_drops_more(served):
    s = served()
    limit = s.server.max_message_bytes
    observation = s.server.handle({"v": 1, "op": "reset", "seed": 0})
    assert sum(memoryview(p).nbytes for p in observation) <= limit
    raw = Raw(s.address)
    try:
        # one part over the limit: ZeroMQ cuts the sender off before the server reads it
        assert raw.ask([bytes(limit + 1)], timeout_ms=500) is None
    finally:
        raw.close()
    raw = Raw(s.address)
    try:  # parts under the limit that add up to more: refused by the server
        half = msgpack.packb({**GOOD, "pad": bytes(limit // 2)})
        reply = raw.ask([half, bytes(limit // 2 + 16)])
        assert reply is not None and reply["error"] == "malformed" and "at most" in reply["reason"]
    finally:
        raw.close()
    raw = Raw(s.estop_address)
    try:  # an oversized packet does not wedge the e-stop port either
        assert raw.ask([bytes(limit + 1)], timeout_ms=500) is None
    finally:
        raw.close()
    assert send_estop(s.estop_address, "after the oversized packet", timeout_s=3.0)
    assert s.thread.is_alive() and s.server._estop_thread.is_alive()


def test_the_size_limit_has_a_cli_flag():
    from envs.real_robot.server import _build_server, _parser

    args = _parser().parse_args(["--port", "0", "--estop-port", "0", "--adapter", "sim:point"])
    server = _build_server(args)
    default = server.max_message_bytes
    server.close()
    args = _parser().parse_args(
        [
            "--port",
            "0",
            "--estop-port",
            "0",
            "--adapter",
            "sim:point",
            "--max-message-bytes",
            str(default * 2),
        ]
    )
    server = _build_server(args)
    assert server.max_message_bytes == default * 2
    assert server.sock.getsockopt(zmq.MAXMSGSIZE) == default * 2
    server.close()


# --- authentication -------------------------------------------------------------------------------
@pytest.fixture
def keys(tmp_path):
    from envs.real_robot.server import main

    root = tmp_path / "robot-keys"
    assert main(["keys", str(root)]) == 0
    intruder = tmp_path / "intruder-keys"  # a valid CURVE keypair the server never listed
    assert main(["keys", str(intruder)]) == 0
    return root, intruder


def test_keys_are_files_with_private_permissions(keys, capsys):
    from envs.real_robot.auth import KeyFileError, load_client_keys
    from envs.real_robot.server import main

    root, _ = keys
    for secret in (root / "server.key_secret", root / "clients" / "benchmark.key_secret"):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert (root / "authorized" / "benchmark.key").is_file()
    assert main(["keys", str(root), "--client", "benchmark"]) == 2  # never overwritten
    assert "never overwritten" in capsys.readouterr().err
    (root / "clients" / "benchmark.key_secret").chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_client_keys(root)


def test_only_authorized_clients_can_release_reset_or_step(served, keys):
    from envs.real_robot.auth import ClientKeys, load_client_keys, load_server_keys

    root, intruder_root = keys
    s = served(keys=load_server_keys(root))
    mine = load_client_keys(root)
    env = RobotEnv(s.address, timeout_s=3.0, reset_timeout_s=3.0, keys=mine)
    env.reset(seed=0)
    env.step(np.zeros(4))
    assert send_estop(s.estop_address, "anyone may stop the robot", timeout_s=3.0)
    stolen = load_client_keys(intruder_root)
    strangers = {
        "no keys": None,
        "unlisted key": ClientKeys(stolen.public, stolen.secret, mine.server_public),
    }
    for who, client_keys in strangers.items():
        for op, fields in (
            ("release_estop", {"confirm": "robot is safe"}),
            ("reset", {"seed": 1}),
            ("step", {"action": [1.0, 0, 0, 0]}),
        ):
            client = RobotClient(s.address, timeout_s=0.3, retries=0, keys=client_keys)
            with pytest.raises(TimeoutError):
                client.request(op, **fields)
            client.close()
        assert s.server.estopped.is_set(), who
    assert s.adapter.actions_applied == 1
    env.client.request("release_estop", confirm="robot is safe")
    env.reset(seed=1)
    env.step(np.zeros(4))
    assert env.status()["authenticated"] is True
    env.close()


def test_a_public_address_without_keys_is_refused(capsys):
    from envs.real_robot.auth import is_loopback
    from envs.real_robot.server import InsecureBind, main

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not any(is_loopback(h) for h in ("0.0.0.0", "*", "eth0", "192.168.1.20", "::"))
    with pytest.raises(InsecureBind, match="--keys"):
        RobotServer(PointMassAdapter(frame_size=32), host="0.0.0.0", port=0)
    assert main(["--host", "0.0.0.0", "--adapter", "sim:point"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--insecure" in err[0]


def test_a_robots_json_entry_passes_its_keys(served, keys, tmp_path, monkeypatch):
    import json

    from envs import get_task
    from envs.real_robot.auth import load_server_keys

    root, _ = keys
    s = served(keys=load_server_keys(root))
    entry = {"address": s.address, "instruction": "touch", "success": "simulator"}
    path = tmp_path / "robots.json"
    path.write_text(json.dumps({"keyed": {**entry, "keys": root.name}}))  # relative to the file
    monkeypatch.setenv("VLMBENCH_ROBOTS", str(path))
    env = get_task("real/keyed").make_env(0)
    env.reset(seed=0)
    env.step(np.zeros(4))
    env.close()


def test_the_operator_releases_with_a_key(served, keys, capsys):
    from envs.real_robot.auth import load_server_keys
    from envs.real_robot.estop import main as estop

    root, _ = keys
    s = served(keys=load_server_keys(root))
    assert estop([s.estop_address]) == 0
    assert estop(["--release", "--yes", "--keys", str(root), s.address]) == 0
    assert not s.server.estopped.is_set()
    assert estop(["--release", "--yes", "--keys", str(Path(root) / "nowhere"), s.address]) == 2
