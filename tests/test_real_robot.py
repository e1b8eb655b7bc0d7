"""The real-robot path on loopback: protocol, safety refusals, watchdog, e-stop, retries, tasks."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import msgpack
import numpy as np
import pandas as pd
import pytest
import zmq

from envs.real_robot import (
    HumanSuccess,
    RobotClient,
    RobotEnv,
    RobotError,
    RobotTimeout,
    SafetyConfig,
    SafetyFilter,
    SafetyRefusal,
    VersionMismatch,
    send_estop,
)
from envs.real_robot.frame_store import FrameStore
from envs.real_robot.server import RobotServer
from envs.real_robot.sim_adapters import PointMassAdapter

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _frames_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("VLMBENCH_FRAME_DIR", str(tmp_path / "frames"))


class Served:
    """A server on a thread, with its adapter in reach so tests can see what the robot did."""

    def __init__(self, adapter: PointMassAdapter, **kwargs) -> None:
        self.adapter = adapter
        self.server = RobotServer(adapter, port=0, estop_port=0, **kwargs)
        self.address = f"tcp://127.0.0.1:{self.server.port}"
        self.estop_address = f"tcp://127.0.0.1:{self.server.estop_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown.set()
        self.thread.join(timeout=5)


@pytest.fixture
def served():
    made: list[Served] = []

    def make(adapter: PointMassAdapter | None = None, **kwargs) -> Served:
        s = Served(adapter or PointMassAdapter(frame_size=64), **kwargs)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def _env(s: Served, **kwargs) -> RobotEnv:
    timeout = kwargs.pop("timeout_s", 2.0)
    return RobotEnv(s.address, timeout_s=timeout, reset_timeout_s=timeout, **kwargs)


# --- protocol -----------------------------------------------------------------------------------
def test_a_version_mismatch_is_refused_with_a_clear_error(served):
    s = served()
    client = RobotClient(s.address, timeout_s=2.0, version=99)
    with pytest.raises(VersionMismatch, match=r"version 99.*speaks \[1\]"):
        client.request("hello")
    client.close()
    assert s.server.counts["error_version_mismatch"] == 1
    env = _env(s)  # the server keeps serving clients that speak its version
    env.close()


def test_a_malformed_message_is_refused_and_the_server_keeps_going(served):
    s = served()
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(s.address)
    sock.send(b"\xc1 not msgpack")
    assert sock.poll(2000)
    reply = msgpack.unpackb(sock.recv())
    assert reply["ok"] is False and reply["error"] == "malformed"
    sock.send(msgpack.packb({"v": 1, "op": "dance"}))
    assert sock.poll(2000)
    assert msgpack.unpackb(sock.recv())["error"] == "unknown_op"
    sock.close(0)
    env = _env(s)
    env.reset(seed=0)
    env.close()


# --- safety -------------------------------------------------------------------------------------
def test_malformed_actions_are_refused_logged_and_never_reach_the_robot(served, caplog):
    s = served()
    env = _env(s)
    env.reset(seed=0)
    before = s.adapter.pos.copy()
    caplog.set_level(logging.WARNING, logger="envs.real_robot")
    bad = {
        "nan": [np.nan, 0, 0, 0],
        "inf": [0, np.inf, 0, 0],
        "shape": [0.1, 0.1, 0.1],
    }
    for action in bad.values():
        with pytest.raises(RobotError) as err:
            env.step(np.asarray(action, np.float64))
        assert err.value.code == "refused"
    with pytest.raises(RobotError, match="not numeric"):
        env.client.request("step", action=["left", 0, 0, 0])
    assert s.adapter.actions_applied == 0
    np.testing.assert_array_equal(s.adapter.pos, before)
    text = caplog.text
    assert "NaN or inf" in text and "shape (3,)" in text and "not numeric" in text
    assert env.status()["safety_counts"]["refused"] == 4
    env.close()


def test_out_of_bounds_actions_are_clipped_to_box_step_and_workspace(served):
    s = served()
    env = _env(s)
    env.reset(seed=0)
    # beyond the action box: clipped to 1 in that dim and reported
    _, _, _, _, info = env.step(np.array([7.0, 0, 0, 0]))
    assert any("outside its box" in c for c in info["clipped"])
    # a diagonal unit action is 0.0346 m with scale 0.02; max_step 0.03 shortens it
    start = s.adapter.pos.copy()
    _, _, _, _, info = env.step(np.array([1.0, 1.0, 1.0, 0]))
    moved = np.linalg.norm(s.adapter.pos - start)
    assert moved == pytest.approx(0.03, abs=1e-9)
    assert any("max_step" in c for c in info["clipped"])
    # drive towards +x for long enough to leave the box: the workspace wall holds
    for _ in range(60):
        _, _, _, _, info = env.step(np.array([1.0, 0, 0, 0]))
    assert s.adapter.pos[0] == pytest.approx(0.4, abs=1e-9)
    assert any("workspace" in c for c in info["clipped"])
    env.close()


def test_safety_filter_lets_an_outside_effector_move_back_only():
    cfg = SafetyConfig(
        action_dim=3,
        action_low=(-1,) * 3,
        action_high=(1,) * 3,
        position_scale=0.1,
        max_step=1.0,
        workspace_low=(0, 0, 0),
        workspace_high=(1, 1, 1),
    )
    f = SafetyFilter(cfg)
    outside = np.array([1.2, 0.5, 0.5])
    further, _ = f.check([1, 0, 0], outside)
    assert further[0] == pytest.approx(0.0)  # may not move further out
    back, _ = f.check([-1, 0, 0], outside)
    assert back[0] == pytest.approx(-1.0)  # may move back towards the box
    with pytest.raises(SafetyRefusal, match="no ee_position"):
        f.check([0, 0, 0], None)
    with pytest.raises(ValueError, match="action_low/high need 3"):
        SafetyConfig(action_dim=3, action_low=(-1,), action_high=(1,) * 3)


def test_safety_config_loads_from_json_and_rejects_unknown_keys(tmp_path):
    path = tmp_path / "safety.json"
    cfg = PointMassAdapter().safety
    path.write_text(json.dumps(cfg.to_dict()))
    assert SafetyConfig.load(path) == cfg
    path.write_text(json.dumps({**cfg.to_dict(), "max_speed": 3}))
    with pytest.raises(ValueError, match="unknown safety setting"):
        SafetyConfig.load(path)


# --- watchdog and e-stop ------------------------------------------------------------------------
CLIENT_THAT_DIES = textwrap.dedent(
    """
    import sys, numpy as np
    from envs.real_robot import RobotEnv
    env = RobotEnv(sys.argv[1], timeout_s=2.0, frame_root=sys.argv[2])
    env.reset(seed=0)
    env.step(np.zeros(4))
    print("stepping", flush=True)
    while True:
        env.step(np.array([0.1, 0, 0, 0]))
    """
)


def test_the_watchdog_stops_the_robot_when_the_client_is_killed(served, tmp_path):
    s = served()
    s.server.safety = SafetyConfig.from_dict({**s.server.safety.to_dict(), "watchdog_s": 0.3})
    proc = subprocess.Popen(
        [sys.executable, "-c", CLIENT_THAT_DIES, s.address, str(tmp_path / "f")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout.readline().strip() == "stepping"
        time.sleep(0.2)
        assert s.server.episode_active and not s.adapter.stopped
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 3.0
        while not s.adapter.stopped and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        proc.kill()
    assert s.adapter.stopped, "the watchdog did not stop the robot"
    assert s.server.halted and s.server.counts["watchdog"] == 1
    # a reconnecting client must reset before it may move the robot again
    env = _env(s)
    with pytest.raises(RobotError) as err:
        env.step(np.zeros(4))
    assert err.value.code in ("halted", "not_ready")
    env.reset(seed=1)
    env.step(np.zeros(4))
    env.close()


def test_a_paused_client_is_held_by_the_watchdog_then_may_go_on(served):
    """Reward learning pauses stepping for longer than the watchdog: hold the robot, then resume."""
    s = served()
    s.server.safety = SafetyConfig.from_dict({**s.server.safety.to_dict(), "watchdog_s": 0.2})
    env = _env(s)
    env.reset(seed=0)
    env.step(np.zeros(4))
    time.sleep(0.6)
    assert s.adapter.stopped and s.server.halted
    env.step(np.array([0.5, 0, 0, 0]))
    assert s.server.counts["resumed_after_watchdog"] == 1 and not s.adapter.stopped
    other = _env(s)  # a second client may not drive the first one's episode
    with pytest.raises(RobotError, match="another client"):
        other.step(np.zeros(4))
    other.close()
    env.close()


def test_the_estop_wins_over_a_step_in_progress_and_latches(served):
    s = served(PointMassAdapter(frame_size=64, step_delay_s=3.0))
    env = _env(s, timeout_s=10.0, retries=0)
    env.reset(seed=0)
    outcome: dict[str, BaseException | None] = {}

    def slow_step() -> None:
        try:
            env.step(np.array([1.0, 0, 0, 0]))
            outcome["err"] = None
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            outcome["err"] = err

    t = threading.Thread(target=slow_step)
    t0 = time.monotonic()
    t.start()
    time.sleep(0.3)  # the step is now inside apply_action
    assert send_estop(s.estop_address, "test", timeout_s=1.0)
    acked = time.monotonic() - t0
    t.join(timeout=5)
    assert acked < 1.5, f"e-stop took {acked:.2f} s: it waited for the step"
    assert isinstance(outcome["err"], RobotError) and outcome["err"].code == "estopped"
    assert s.adapter.emergency and s.adapter.actions_applied == 0
    with pytest.raises(RobotError, match="latched"):
        env.reset(seed=1)
    with pytest.raises(RobotError, match="robot is safe"):
        env.client.request("release_estop")
    env.client.request("release_estop", confirm="robot is safe")
    s.adapter.emergency = False
    s.adapter.step_delay_s = 0.0
    env.reset(seed=1)
    env.step(np.zeros(4))
    env.close()


# --- client resilience --------------------------------------------------------------------------
def test_a_lost_reply_is_resent_from_the_server_cache_not_applied_twice(served):
    s = served(drop_replies=1)
    env = _env(s, timeout_s=0.5)
    env.reset(seed=0)  # this reply is dropped: the client reconnects and resends the same seq
    assert env.client.reconnects == 1
    env.step(np.array([0.5, 0, 0, 0]))
    assert s.adapter.actions_applied == 1
    assert s.server.counts["resent_reply"] == 1
    env.close()


def test_an_absent_server_times_out_with_advice():
    ctx = zmq.Context.instance()
    probe = ctx.socket(zmq.REP)
    port = probe.bind_to_random_port("tcp://127.0.0.1")
    probe.close(0)  # nothing listens there now
    client = RobotClient(f"tcp://127.0.0.1:{port}", timeout_s=0.2, retries=1)
    with pytest.raises(RobotTimeout, match="did not answer 'hello' in 2 tries.*server"):
        client.request("hello")
    assert client.reconnects == 2
    client.close()


def test_an_adapter_error_stops_the_robot_and_is_reported(served):
    class Broken(PointMassAdapter):
        def apply_action(self, action):
            raise OSError("CAN bus timeout")

    s = served(Broken(frame_size=64))
    env = _env(s)
    env.reset(seed=0)
    with pytest.raises(RobotError, match="CAN bus timeout") as err:
        env.step(np.zeros(4))
    assert err.value.code == "adapter_error" and s.adapter.stopped
    env.close()


# --- success signal and frames ------------------------------------------------------------------
def test_human_success_button_marks_and_reset_clears():
    h = HumanSuccess(port=0)
    try:
        page = urllib.request.urlopen(h.url, timeout=2).read().decode()
        assert "Success" in page and "/success" in page
        frame, proprio = np.zeros((4, 4, 3), np.uint8), np.zeros(2)
        assert not h(frame, proprio, None)
        req = urllib.request.Request(h.url + "success", method="POST")
        assert urllib.request.urlopen(req, timeout=2).status == 204
        assert h(frame, proprio, None)
        h.reset()
        assert not h(frame, proprio, None)
    finally:
        h.close()


def test_a_real_robot_without_a_success_source_is_refused(served):
    class Real(PointMassAdapter):
        def capabilities(self):
            from dataclasses import replace

            return replace(super().capabilities(), privileged=False, name="lab-arm")

    s = served(Real(frame_size=64))
    with pytest.raises(ValueError, match="lab-arm is not a simulator.*human"):
        _env(s)
    env = _env(s, success=HumanSuccess(port=None))
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.zeros(4))
    assert info["success"] is False and info["gt_reward"] == 0.0 and info["progress"] == 0.0
    env.close()


def test_frames_survive_in_the_store_and_a_torn_record_is_cut(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (32, 32, 3), np.uint8) for _ in range(5)]
    store = FrameStore(tmp_path)
    snaps = [store.put(f) for f in frames]
    store.close()
    with open(store.path, "ab") as fh:
        fh.write(b"\x05\x00\x00")  # a run killed while writing
    later = FrameStore(tmp_path)  # a resumed run's new store reads the old one's frames
    for snap, frame in zip(snaps, frames, strict=True):
        np.testing.assert_array_equal(later.get(snap), frame)
    reopened = FrameStore(tmp_path, store.id)
    assert len(reopened) == 5
    with pytest.raises(KeyError, match="frame 9"):
        reopened.get(np.array([*store.id, 9.0]))


def test_env_frames_match_the_server_camera_and_snapshots_replay(served):
    s = served(PointMassAdapter(frame_size=96))
    env = _env(s)
    env.reset(seed=2)
    env.step(np.array([1.0, 0, 0, 0]))
    full = s.adapter.read_cameras()["top"]
    np.testing.assert_array_equal(env.render_frame(96), full)
    snap = env.snapshot()
    env.step(np.array([0, 1.0, 0, 0]))
    np.testing.assert_array_equal(env.render_snapshot(snap, 96), full)
    assert env.render_snapshot(snap, 32).shape == (32, 32, 3)
    env.close()


# --- tasks --------------------------------------------------------------------------------------
def test_robots_file_registers_a_real_task_and_unknown_ones_fail(served, tmp_path, monkeypatch):
    from envs import UnknownTaskError, get_task

    s = served()
    path = tmp_path / "robots.json"
    path.write_text(
        json.dumps(
            {
                "bench-arm": {
                    "address": s.address,
                    "instruction": "touch the green square",
                    "levels": 2,
                    "success": "human:0",
                    "max_episode_steps": 3,
                }
            }
        )
    )
    monkeypatch.setenv("VLMBENCH_ROBOTS", str(path))
    spec = get_task("real/bench-arm")
    assert spec.backend == "zmq" and spec.levels == 2
    env = spec.make_env(0)
    env.reset(seed=0)
    truncated = False
    for _ in range(3):
        _, _, _, truncated, _ = env.step(np.zeros(4))
    assert truncated
    env.close()
    with pytest.raises(UnknownTaskError, match=r"real/no-such-arm.*lists \[.bench-arm.\]"):
        get_task("real/no-such-arm")


def test_a_short_training_run_goes_through_the_network(tmp_path, monkeypatch):
    """client -> ZeroMQ -> server subprocess -> MetaWorld -> frames -> oracle -> reward model."""
    from benchmark.config import RunConfig
    from benchmark.loops.online import run
    from tests.test_record_replay import TINY_BUDGET, TINY_SAC

    kept: list[int] = []
    discard = RobotEnv.discard_frames

    def count_then_discard(self, snapshots):
        kept.append(len(self.frames))
        return discard(self, snapshots)

    monkeypatch.setattr(RobotEnv, "discard_frames", count_then_discard)

    cfg = RunConfig(
        task="real/sim-drawer-open",
        method="erl-vlm",
        seed=0,
        budget="smoke",
        oracle="scripted",
        cache_mode="record",
        cache_dir=str(tmp_path / "cache"),
        out_dir=str(tmp_path / "out"),
        budget_overrides=dict(TINY_BUDGET),
        sac=dict(TINY_SAC),
    )
    root = run(cfg)
    assert not _sim_servers(), "the run left its robot servers running"
    metrics = pd.read_csv(root / "metrics.csv")
    assert metrics["queries"].iloc[-1] == TINY_BUDGET["max_queries"]
    assert metrics["oracle_calls"].iloc[-1] > 0
    resolved = json.loads((root / "config.json").read_text())
    assert "zmq" in json.dumps(resolved)
    # the training env kept one frame per step for the oracle, plus the one the runner takes
    # after reset to size its buffer; the finished run deleted them
    assert len(kept) == 1
    assert TINY_BUDGET["total_steps"] <= kept[0] <= TINY_BUDGET["total_steps"] + 1
    assert not list((tmp_path / "frames").glob("*.frames"))


def test_a_finished_run_deletes_the_frame_stores_its_buffer_names(tmp_path):
    frame = np.zeros((8, 8, 3), np.uint8)
    earlier = FrameStore(tmp_path)  # a killed process's store, named by the resumed buffer
    snaps = [earlier.put(frame)]
    earlier.close()
    unrelated = FrameStore(tmp_path)  # another run's: must survive
    unrelated.put(frame)
    unrelated.close()
    current = FrameStore(tmp_path)
    snaps.append(current.put(frame))
    removed = current.delete(np.stack(snaps))
    assert sorted(removed) == sorted([earlier.path, current.path])
    assert [p.name for p in tmp_path.glob("*.frames")] == [unrelated.path.name]


def _sim_servers() -> list[int]:
    """Robot server processes this test process started and that are still alive."""
    alive = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"envs.real_robot.server" in cmdline:
            alive.append(int(proc.name))
    return alive


def test_the_scripted_teacher_is_refused_on_a_real_robot(served, tmp_path, monkeypatch):
    from benchmark.config import RunConfig
    from benchmark.loops.online import run

    class Real(PointMassAdapter):
        def capabilities(self):
            from dataclasses import replace

            return replace(super().capabilities(), privileged=False)

    s = served(Real(frame_size=64))
    path = tmp_path / "robots.json"
    robot = {"address": s.address, "instruction": "touch the square", "success": "human:0"}
    path.write_text(json.dumps({"lab-arm": robot}))
    monkeypatch.setenv("VLMBENCH_ROBOTS", str(path))
    cfg = RunConfig(task="real/lab-arm", method="erl-vlm", seed=0, out_dir=str(tmp_path / "out"))
    with pytest.raises(ValueError, match="real robot.*gemini"):
        run(cfg)


def test_the_operator_estop_command_stops_and_releases(served, capsys):
    from envs.real_robot.estop import main as estop

    s = served()
    env = _env(s)
    env.reset(seed=0)
    assert estop([s.estop_address]) == 0
    assert s.server.estopped.is_set() and s.adapter.emergency
    with pytest.raises(RobotError) as err:
        env.step(np.zeros(4))
    assert err.value.code == "estopped"
    assert estop(["--release", "--yes", s.address]) == 0
    assert not s.server.estopped.is_set()
    assert "released" in capsys.readouterr().out
    env.close()


def test_train_and_eval_envs_share_one_robot_and_one_button(served, tmp_path, monkeypatch):
    """The runner evaluates mid-episode; on one robot that ends the training episode, cleanly."""
    import socket

    from envs import get_task

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    class Real(PointMassAdapter):
        def capabilities(self):
            from dataclasses import replace

            return replace(super().capabilities(), privileged=False)

    s = served(Real(frame_size=64))
    robot = {"address": s.address, "instruction": "touch", "success": f"human:{port}"}
    (tmp_path / "robots.json").write_text(json.dumps({"one-arm": robot}))
    monkeypatch.setenv("VLMBENCH_ROBOTS", str(tmp_path / "robots.json"))
    spec = get_task("real/one-arm")
    train, evaluation = spec.make_env(0), spec.make_env(1)  # a second button would not bind
    assert train.success is evaluation.success
    train.reset(seed=0)
    train.step(np.zeros(4))
    evaluation.reset(seed=1)
    evaluation.step(np.zeros(4))
    applied = s.adapter.actions_applied
    _, _, term, trunc, info = train.step(np.array([1.0, 0, 0, 0]))
    assert trunc and not term and info["preempted"]
    assert s.adapter.actions_applied == applied  # the preempted action was not executed
    train.reset(seed=2)
    train.step(np.zeros(4))
    url = train.success.url
    evaluation.close()
    assert urllib.request.urlopen(url, timeout=2).status == 200  # still up for the other env
    train.close()
    assert train.success.server is None


def test_on_one_robot_evaluations_wait_for_the_training_episode_to_end(
    served, tmp_path, monkeypatch
):
    from benchmark.config import RunConfig
    from benchmark.loops.online import run
    from tests.test_record_replay import TINY_BUDGET, TINY_SAC

    s = served(PointMassAdapter(frame_size=64))
    robot = {"address": s.address, "instruction": "touch", "success": "simulator"}
    (tmp_path / "robots.json").write_text(json.dumps({"one-arm": robot}))
    monkeypatch.setenv("VLMBENCH_ROBOTS", str(tmp_path / "robots.json"))
    preempted: list[str] = []
    original = RobotEnv._preempted

    def spy(self, err):
        preempted.append(str(err))
        return original(self, err)

    monkeypatch.setattr(RobotEnv, "_preempted", spy)
    # evaluations fall due at 100, 200 and 300: mid-episode, since episodes are 90 steps
    budget = {**TINY_BUDGET, "eval_every": 100, "max_episode_steps": 90}
    cfg = RunConfig(
        task="real/one-arm",
        method="erl-vlm",
        seed=0,
        budget="smoke",
        cache_dir=str(tmp_path / "cache"),
        out_dir=str(tmp_path / "out"),
        budget_overrides=budget,
        sac=dict(TINY_SAC),
    )
    metrics = pd.read_csv(run(cfg) / "metrics.csv")
    assert preempted == []  # no training episode was cut short by an evaluation's reset
    assert list(metrics["step"]) == [0, 180, 270, 360]  # the next boundaries; 360 is the end
