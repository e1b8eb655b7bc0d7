"""The THOR backend's pure-Python parts: task files, action mapping, bookkeeping, a fake episode.

ai2thor itself cannot run here (Unity download and an X server); `FakeController` applies
THOR's preconditions to the action dicts the backend sends, so a wrong mapping fails here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from envs import get_task
from envs.alfred import get_alfred_task
from envs.alfred.actions import CLOSE, COOL, OPEN, PUT, TOGGLE, encode
from envs.alfred.catalog import TaskGoal
from envs.alfred.planner import expert_action
from envs.alfred.scene import SceneState
from envs.alfred.thor import ThorAlfredEnv, ThorUnavailableError, default_controller, restore_calls
from envs.alfred.thor_bridge import (
    SlotMap,
    StateChanges,
    abstract_state,
    goal_conditions,
    interaction_pose,
    thor_calls,
)
from envs.alfred.traj_data import find_task_files, parse_location, parse_traj_data
from tests.alfred_thor_fake import FakeController

DATA = Path(__file__).parent / "data" / "alfred"
SAMPLE = next(DATA.glob("valid_seen/pick_cool*/*/traj_data.json"))
COOL_GOAL = TaskGoal("pick_cool_then_place_in_recep", "Apple", "CounterTop")


def test_parse_traj_data_sample() -> None:
    t = parse_traj_data(SAMPLE)
    assert t.task_type == "pick_cool_then_place_in_recep"
    assert t.goal == COOL_GOAL
    assert (t.scene_num, t.floor_plan, t.dirty_and_empty) == (1, "FloorPlan1", False)
    assert t.init_action["action"] == "TeleportFull" and len(t.object_poses) == 2
    assert t.subgoals == [
        "GotoLocation diningtable",
        "PickupObject apple",
        "GotoLocation fridge",
        "CoolObject apple",
        "GotoLocation countertop",
        "PutObject apple countertop",
    ]
    assert t.instructions == ["Chill an apple and set it on the counter."]
    assert parse_location("loc|-5|-4|3|30") == {
        "x": -1.25,
        "z": -1.0,
        "rotation": 270,
        "horizon": 30,
    }
    with pytest.raises(ValueError, match="location"):
        parse_location("-5|-4|3|30")
    with pytest.raises(ValueError, match="task_type"):
        parse_traj_data({"task_type": "make_coffee", "scene": {"scene_num": 1}})


def test_find_task_files_by_type_and_classes() -> None:
    assert find_task_files(DATA, COOL_GOAL, match_classes=True) == [SAMPLE]
    other = TaskGoal("pick_cool_then_place_in_recep", "Tomato", "CounterTop")
    assert find_task_files(DATA, other, match_classes=True) == []
    assert find_task_files(DATA, other, match_classes=False) == [SAMPLE]
    lower = TaskGoal("pick_cool_then_place_in_recep", "apple", "countertop")  # thor variants
    assert find_task_files(DATA, lower, match_classes=True) == [SAMPLE]


def test_registry_and_backend_switch_import_no_ai2thor(monkeypatch: pytest.MonkeyPatch) -> None:
    twin = get_task("alfred/pick-cool-then-place")
    thor = get_alfred_task("alfred/pick-cool-then-place", backend="thor")
    assert thor.name == "alfred-thor/pick-cool-then-place" and thor.backend == "thor"
    assert thor.instruction == twin.instruction and thor.action_kind == "discrete"
    assert get_task("alfred-thor/pick-two-and-place/butterknife-countertop").backend == "thor"
    assert "ai2thor" not in sys.modules
    monkeypatch.delenv("ALFRED_DATA", raising=False)
    with pytest.raises(ThorUnavailableError, match="ALFRED_DATA"):
        thor.make_env(0)
    monkeypatch.setenv("ALFRED_DATA", str(DATA))
    with pytest.raises(ThorUnavailableError, match="variants there"):
        get_task("alfred-thor/pick-cool-then-place/tomato-countertop").make_env(0)
    env = thor.make_env(0)  # builds without starting THOR
    assert isinstance(env, ThorAlfredEnv)
    monkeypatch.setitem(sys.modules, "ai2thor", None)
    monkeypatch.setitem(sys.modules, "ai2thor.controller", None)
    with pytest.raises(ThorUnavailableError, match="ai2thor==2.1.0"):
        default_controller()
    with pytest.raises(ValueError, match="backend"):
        get_alfred_task("alfred/pick-cool-then-place", backend="unity")


def _fake_env(strict: bool = False) -> tuple[ThorAlfredEnv, FakeController]:
    fake = FakeController()
    env = ThorAlfredEnv([SAMPLE], seed=0, strict=strict, controller_factory=lambda: fake)
    return env, fake


def test_restore_sequence_and_slot_choice() -> None:
    env, fake = _fake_env()
    env.reset(seed=0)
    calls = restore_calls(env.task)
    assert [c["action"] for c in calls] == ["Initialize", "SetObjectPoses", "TeleportFull"]
    assert fake.scenes == ["FloorPlan1"]
    assert fake.calls[: len(calls)] == calls
    slots = env.slots
    # goal receptacles first, then the apple's table; the duplicate 'Sink' is skipped
    assert slots.receptacles[0].startswith("CounterTop") and slots.receptacles[1].startswith(
        "Fridge"
    )
    assert slots.receptacles[2].startswith("DiningTable")
    assert not any(r.startswith("Sink|") for r in slots.receptacles)
    assert slots.objects[0].startswith("Apple") and any(o.startswith("Bowl") for o in slots.objects)
    s = env.state
    apple = s.objects[0]
    assert apple.cls == "Apple" and s.receptacles[apple.loc].cls == "DiningTable"
    bowl = next(o for o in s.objects if o.cls == "Bowl")
    assert bowl.is_container and s.receptacles[bowl.loc].cls == "Cabinet"
    assert s.receptacles[s.recep_of_class("Fridge")[0]].openable


def test_action_mapping_to_thor_dicts() -> None:
    env, _ = _fake_env()
    env.reset(seed=0)
    s, slots, meta, poses = env.state, env.slots, env.event.metadata, env.poses
    fridge = s.recep_of_class("Fridge")[0]
    fid = slots.receptacles[fridge]
    table = s.recep_of_class("DiningTable")[0]
    goto = thor_calls(encode("goto", table), s, slots, meta, poses)
    # the task file's expert pose for the table ('loc|4|6|1|30')
    assert goto == [
        {
            "action": "TeleportFull",
            "x": 1.0,
            "y": 0.9,
            "z": 1.5,
            "rotateOnTeleport": True,
            "rotation": 90,
            "horizon": 30,
        }
    ]
    held = SceneState(s.goal, s.receptacles, s.objects, agent=fridge, held=0)
    apple = slots.objects[0]
    assert thor_calls(COOL, held, slots, meta, poses) == [
        {
            "action": "PutObject",
            "objectId": apple,
            "receptacleObjectId": fid,
            "forceAction": True,
            "placeStationary": True,
        },
        {"action": "CloseObject", "objectId": fid, "forceAction": True},
        {"action": "OpenObject", "objectId": fid, "moveMagnitude": 1.0},
        {"action": "PickupObject", "objectId": apple},
    ]
    at_fridge = SceneState(s.goal, s.receptacles, s.objects, agent=fridge)
    assert thor_calls(OPEN, at_fridge, slots, meta, poses) == [
        {"action": "OpenObject", "objectId": fid, "moveMagnitude": 1.0}
    ]
    assert thor_calls(CLOSE, at_fridge, slots, meta, poses)[0]["action"] == "CloseObject"
    assert thor_calls(encode("take", 0), at_fridge, slots, meta, poses) == [
        {"action": "PickupObject", "objectId": apple}
    ]
    assert thor_calls(PUT, held, slots, meta, poses)[0]["receptacleObjectId"] == fid
    # clean: basin, then the nearest faucet on and off, then pick up again
    sink = s.recep_of_class("SinkBasin")[0]
    at_sink = SceneState(s.goal, s.receptacles, s.objects, agent=sink, held=0)
    names = [
        (c["action"], c.get("objectId", "")[:6])
        for c in thor_calls(encode("clean"), at_sink, slots, meta, poses)
    ]
    assert names == [
        ("PutObject", "Apple|"),
        ("ToggleObjectOn", "Faucet"),
        ("ToggleObjectOff", "Faucet"),
        ("PickupObject", "Apple|"),
    ]
    lamp = s.recep_of_class("DeskLamp")[0]
    at_lamp = SceneState(s.goal, s.receptacles, s.objects, agent=lamp)
    assert thor_calls(TOGGLE, at_lamp, slots, meta, poses)[0]["action"] == "ToggleObjectOn"


def test_interaction_pose_faces_the_target() -> None:
    grid = [{"x": x * 0.25, "y": 0.9, "z": z * 0.25} for x in range(-4, 5) for z in range(-4, 5)]
    pose = interaction_pose({"x": 2.0, "y": 1.0, "z": 0.0}, grid)
    assert (pose["x"], pose["z"], pose["rotation"]) == (1.0, 0.0, 90)  # 1 m away on +x, facing +x
    pose = interaction_pose({"x": 0.0, "y": 1.0, "z": -2.0}, grid)
    assert pose["rotation"] == 180 and pose["z"] == -1.0
    with pytest.raises(ValueError):
        interaction_pose({"x": 0, "z": 0}, [])


def test_expert_solves_the_task_file_on_the_fake_controller() -> None:
    env, fake = _fake_env()
    obs, info = env.reset(seed=0)
    assert info["subgoals"][0] == "GotoLocation diningtable" and info["goal_conditions"] == 0.0
    expert = get_alfred_task("alfred/pick-cool-then-place", backend="thor").make_expert(env)
    progress = [info["progress"]]
    for _ in range(env.max_episode_steps):
        obs, _, term, trunc, info = env.step(expert(obs, info))
        assert not info["invalid_action"], info["invalid_reason"]
        progress.append(info["progress"])
        if term or trunc:
            break
    assert info["success"] and progress[-1] == 1.0 and np.all(np.diff(progress) >= 0)
    assert info["goal_conditions"] == 1.0  # ALFRED's own goal-condition measure agrees
    assert obs.shape == env.observation_space.shape
    apple = env.slots.objects[0]
    assert apple in env.changes.cooled
    counter = next(o for o in env.event.metadata["objects"] if o["objectType"] == "CounterTop")
    assert apple in counter["receptacleObjectIds"]
    assert any(
        c["action"] == "CloseObject" and c["objectId"].startswith("Fridge") for c in fake.calls
    )


def test_invalid_and_refused_actions_on_thor() -> None:
    env, fake = _fake_env()
    env.reset(seed=0)
    n = len(fake.calls)
    _, _, _, _, info = env.step(encode("take", 0))
    assert info["invalid_action"] and "not at any receptacle" in info["invalid_reason"]
    assert len(fake.calls) == n  # rejected before reaching THOR
    table = env.state.recep_of_class("DiningTable")[0]
    env.poses[env.slots.receptacles[table]] = {"x": -1.5, "z": -1.5, "rotation": 0, "horizon": 30}
    env.step(encode("goto", table))  # teleports too far away to reach the apple
    _, _, _, _, info = env.step(encode("take", 0))
    assert info["invalid_action"] and "THOR refused PickupObject" in info["invalid_reason"]
    strict, _ = _fake_env(strict=True)
    strict.reset(seed=0)
    with pytest.raises(Exception, match="not at any receptacle"):
        strict.step(encode("take", 0))


def test_snapshot_redraws_from_cache_or_by_replay() -> None:
    env, _ = _fake_env()
    obs, info = env.reset(seed=0)
    snaps, frames = [], []
    for _ in range(4):
        snaps.append(env.snapshot())
        frames.append(env.render_frame(64))
        obs, _, term, _, info = env.step(expert_action(env.state))
    live_snap, live_frame = env.snapshot(), env.render_frame(64)
    assert np.array_equal(env.render_snapshot(snaps[1], 64), frames[1])  # from the cache
    env._frames.clear()
    assert np.array_equal(env.render_snapshot(snaps[2], 64), frames[2])  # by replay
    assert np.array_equal(env.snapshot(), live_snap)
    assert np.array_equal(env.render_frame(64), live_frame)
    assert env.render_frame(224).shape == (224, 224, 3)


def test_bookkeeping_and_goal_conditions() -> None:
    fake = FakeController()
    ev = fake.reset("FloorPlan1")
    meta = ev.metadata
    changes = StateChanges()
    fridge = next(o for o in meta["objects"] if o["objectType"] == "Fridge")
    apple = next(o for o in meta["objects"] if o["objectType"] == "Apple")
    fridge["receptacleObjectIds"] = [apple["objectId"]]
    meta["lastActionSuccess"] = False
    changes.observe({"action": "CloseObject", "objectId": fridge["objectId"]}, meta)
    assert not changes.cooled  # a failed action changes nothing
    meta["lastActionSuccess"] = True
    changes.observe({"action": "CloseObject", "objectId": fridge["objectId"]}, meta)
    assert changes.cooled == {apple["objectId"]}
    assert goal_conditions(COOL_GOAL, meta, changes) == (1, 3)  # cooled, not yet on the counter
    slots = SlotMap.choose(meta, COOL_GOAL)
    s = abstract_state(meta, slots, COOL_GOAL, -1, changes)
    assert s.objects[0].cold
    look = TaskGoal("look_at_obj_in_light", "Apple", toggle="DeskLamp")
    assert goal_conditions(look, meta, changes) == (0, 2)
