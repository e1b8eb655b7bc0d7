"""The ALFRED twin v2: partially observable as in ALFWorld, solvable by its searching planner,
and the first twin (v1) left exactly as it was."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from envs import expand_tasks, get_task
from envs.alfred import get_alfred_task
from envs.alfred.actions import OPEN, encode
from envs.alfred.catalog import TASK_TYPES
from envs.alfred.observation import (
    OBS_DIM,
    PARTIAL_OBS_DIM,
    PARTIAL_STRUCTURE,
    encode_observation,
)
from envs.alfred.planner import expert_action
from envs.alfred.render import draw_state
from envs.alfred.scene import from_snapshot, generate_scene, to_snapshot
from envs.alfred.twin import AlfredTwinEnv
from envs.alfred.versions import V2

V2_TASKS = [f"alfred-v2/{short}" for short in TASK_TYPES.values()]
_OBJ = 13  # width of an object slot block (observation.py)


def _object_block(obs: np.ndarray, o: int) -> np.ndarray:
    start = PARTIAL_OBS_DIM - 10 * _OBJ + o * _OBJ
    return obs[start : start + _OBJ]


@pytest.mark.parametrize("name", V2_TASKS)
def test_searching_planner_solves_every_v2_task_type_for_100_seeds(name: str) -> None:
    spec = get_task(name)
    env = spec.make_env(0)
    expert = spec.make_expert(env)
    for seed in range(100):
        obs, info = env.reset(seed=seed)
        progress = [info["progress"]]
        for _ in range(spec.max_episode_steps):
            obs, _, term, trunc, info = env.step(expert(obs, info))
            assert not info["invalid_action"], (seed, info["action_text"], info["invalid_reason"])
            progress.append(info["progress"])
            if term or trunc:
                break
        assert info["success"] and term, f"{name} seed {seed}: expert failed, {progress}"
        assert np.all(np.diff(progress) >= 0), (seed, progress)


def test_closed_receptacle_hides_its_contents_until_opened() -> None:
    env = get_task("alfred-v2/pick-cool-then-place").make_env(0)
    for seed in range(200):  # a scene whose apple starts in a closed cabinet/drawer/microwave
        obs, _ = env.reset(seed=seed)
        s = env.state
        apple = s.objects_of_class("Apple")[0]
        where = s.receptacles[s.where(apple)]
        if where.openable and not where.is_open:
            break
    else:
        pytest.fail("no scene with the apple behind a closed door")
    assert obs.shape == (PARTIAL_OBS_DIM,) and not _object_block(obs, apple).any()
    obs, *_ = env.step(encode("goto", s.where(apple)))
    assert not _object_block(obs, apple).any()  # standing at the closed door shows nothing
    assert not env.state.is_known(apple)
    obs, *_, info = env.step(OPEN)
    assert _object_block(obs, apple)[0] == 1.0 and env.state.is_known(apple)
    assert info["action_mask"][encode("take", apple)]


def test_observation_is_blind_to_what_the_agent_has_not_seen() -> None:
    """Moving an unseen object elsewhere changes nothing the policy observes."""
    rng = np.random.default_rng(0)
    env = get_task("alfred-v2/pick-two-and-place").make_env(0)
    checked = 0
    for seed in range(40):
        obs, info = env.reset(seed=seed)
        for _ in range(int(rng.integers(0, 8))):
            obs, _, term, _, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
            if term:
                break
        s = env.state
        unseen = [o for o in range(len(s.objects)) if not s.is_known(o) and s.objects[o].loc >= 0]
        for o in unseen:
            other = s.copy()
            other.objects[o].loc = (s.objects[o].loc + 1) % len(s.receptacles)
            if other.is_searched(other.objects[o].loc):
                continue
            mine = AlfredTwinEnv(s.goal, version="v2")
            mine.state = other
            assert np.array_equal(mine.action_masks(), env.action_masks())
            assert np.array_equal(encode_observation(other), obs)
            checked += 1
    assert checked > 20


def test_v2_snapshot_keeps_what_was_seen_and_frames_hide_the_rest() -> None:
    env = get_task("alfred-v2/pick-heat-then-place").make_env(0)
    env.reset(seed=3)
    a = env.render_frame(128)
    counter = env.state.recep_of_class("CounterTop")[0]
    env.step(encode("goto", counter))
    snap = env.snapshot()
    back = from_snapshot(snap)
    assert back.partial and back.searched == env.state.searched and back.known == env.state.known
    assert np.array_equal(to_snapshot(back), snap)
    assert np.array_equal(env.render_snapshot(snap, 128), env.render_frame(128))
    assert not np.array_equal(a, env.render_frame(128))
    # the first frame drew no object on any receptacle: all contents are still unseen
    unseen_scene = generate_scene(env.goal, 3, V2)
    seen_scene = unseen_scene.copy()
    seen_scene.partial = False

    assert not np.array_equal(draw_state(unseen_scene, 128), draw_state(seen_scene, 128))
    assert np.array_equal(draw_state(unseen_scene, 128), a)


def test_names_suites_and_versions() -> None:
    assert expand_tasks("alfred-v2") == [
        "alfred-v2/pick-cool-then-place",
        "alfred-v2/pick-heat-then-place",
        "alfred-v2/pick-clean-then-place",
        "alfred-v2/pick-two-and-place",
    ]
    v2 = get_task("alfred-v2/pick-cool-then-place/apple-countertop")
    assert v2.suite == "alfred-v2" and v2.max_episode_steps == V2.max_episode_steps
    assert v2.offline_mix == V2.offline_mix
    assert v2.make_env(0).observation_space.shape == (PARTIAL_OBS_DIM,)
    assert v2.make_env(0).obs_structure == PARTIAL_STRUCTURE
    v1 = get_task("alfred/pick-cool-then-place")
    assert v1.offline_mix is None and v1.make_env(0).observation_space.shape == (OBS_DIM,)
    thor = get_alfred_task("alfred-v2/pick-cool-then-place", backend="thor")
    assert thor.name == "alfred-thor-v2/pick-cool-then-place"
    assert get_alfred_task("alfred/pick-cool-then-place", version="v2").suite == "alfred-v2"
    with pytest.raises(ValueError, match="version"):
        AlfredTwinEnv(v1.make_env(0).goal, version="v3")


def test_v1_twin_is_byte_for_byte_the_first_one() -> None:
    """Old protocol entries stay valid only if v1 scenes, observations and steps are unchanged:
    digest of a small v1 dataset, computed with the code before v2 existed."""
    from benchmark.loops.offline_data import build_dataset

    data = build_dataset(get_task("alfred/pick-cool-then-place"), 12, seed=1)
    h = hashlib.sha256()
    for k in ("obs", "next_obs", "masks", "actions", "snapshots", "sources"):
        h.update(np.ascontiguousarray(getattr(data, k)).tobytes())
    assert h.hexdigest()[:16] == "ca631da5babc2d4b"


def test_expert_sees_only_what_the_observation_shows() -> None:
    """Its first moves in a scene are the same whatever lies in unseen receptacles."""
    env = get_task("alfred-v2/pick-cool-then-place").make_env(0)
    env.reset(seed=5)
    s = env.state
    first = expert_action(s)
    other = s.copy()
    for o in range(len(other.objects)):
        if not other.is_known(o) and other.objects[o].loc >= 0:
            other.objects[o].loc = (other.objects[o].loc + 2) % len(other.receptacles)
    assert expert_action(other) == first


def test_thor_backend_follows_the_same_observation_rule() -> None:
    """alfred-thor-v2: the apple on the dining table is unseen until the agent stands there,
    and the searching planner still solves the task file on the fake controller."""
    from envs.alfred.thor import ThorAlfredEnv
    from tests.alfred_thor_fake import FakeController
    from tests.test_alfred_thor import SAMPLE

    fake = FakeController()
    env = ThorAlfredEnv([SAMPLE], seed=0, partial=True, controller_factory=lambda: fake)
    obs, info = env.reset(seed=0)
    apple = env.state.objects_of_class("Apple")[0]
    assert obs.shape == env.observation_space.shape == (PARTIAL_OBS_DIM,)
    assert env.obs_structure == PARTIAL_STRUCTURE and not _object_block(obs, apple).any()
    expert = get_alfred_task("alfred-v2/pick-cool-then-place", backend="thor").make_expert(env)
    seen_at = None
    for t in range(env.max_episode_steps):
        obs, _, term, trunc, info = env.step(expert(obs, info))
        assert not info["invalid_action"], info["invalid_reason"]
        if seen_at is None and _object_block(obs, apple).any():
            seen_at = t
            assert env.state.is_searched(env.state.agent)
        if term or trunc:
            break
    assert info["success"] and seen_at is not None


def test_texts_of_invalid_actions_name_no_unseen_object() -> None:
    env = get_task("alfred-v2/pick-cool-then-place").make_env(0)
    env.reset(seed=1)
    apple = env.state.objects_of_class("Apple")[0]
    _, _, _, _, info = env.step(encode("take", apple))
    assert info["invalid_action"] and "apple" not in info["invalid_reason"].lower()
    assert "apple" not in info["action_text"].lower()
