"""The feedback gate hands view-placed teachers (systematic, vlm-like) the state's view, on the
reward-model track (from the logged observations) and in the online loop (the env's
info["view"] per buffer index), and leaves ordinal's answers and cache keys as they were."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from benchmark.loops.feedback import RunnerFeedback, ViewColumn
from benchmark.loops.logged_episodes import METAWORLD_VIEW_COLUMNS, build_dataset, views
from envs import get_task
from oracle_cache.cache import CachedOracle
from oracle_cache.scripted import ScriptedTeacher
from tests.test_logged_episodes import TINY

TASK = "metaworld/drawer-open"


@pytest.fixture(scope="module")
def data():
    return build_dataset(get_task(TASK), 0, TINY)


def _gate(split, oracle, views_=None, levels: int = 3) -> RunnerFeedback:
    def render(snapshot: np.ndarray, size: int) -> np.ndarray:
        # a frame that differs per state (the teacher hashes frames) without rendering
        rng = np.random.default_rng(int(hashlib.sha256(snapshot.tobytes()).hexdigest()[:8], 16))
        return rng.integers(0, 255, (size, size, 3), dtype=np.uint8)

    return RunnerFeedback(
        split, render, oracle, TASK, "open the drawer", levels, 8, 1000, 1, views_
    )


def test_logged_views_are_the_metaworld_envs_info_view() -> None:
    env = get_task(TASK).make_env(0)
    try:
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        for _ in range(5):
            obs, _, _, _, info = env.step(rng.uniform(-1, 1, 4).astype(np.float32))
            np.testing.assert_allclose(
                obs[list(METAWORLD_VIEW_COLUMNS)], info["view"], rtol=0, atol=1e-6
            )
    finally:
        env.close()


def test_the_reward_tracks_gate_puts_the_view_in_the_teachers_context(data, tmp_path) -> None:
    split = data.train
    v = views(split, get_task(TASK))
    assert v is not None and v.shape == (split.size, 6)
    teacher = ScriptedTeacher(profile="systematic", rate=0.5)
    segs = [np.array([i]) for i in range(split.size)]
    with_view = _gate(split, CachedOracle(teacher, "record", tmp_path / "a"), v).rate(segs)
    without = _gate(split, CachedOracle(teacher, "record", tmp_path / "b")).rate(segs)
    assert {r.meta["placed_by"] for r in with_view} == {"view"}
    assert {r.meta["placed_by"] for r in without} == {"progress"}
    # the context describes a segment's last state: its view, not the first's
    gate = _gate(split, None, v)
    ctx = gate._context(np.array([0, 1, 2]))
    assert ctx["view"] == pytest.approx(v[2].tolist())
    assert "view" not in _gate(split, None)._context(np.array([0, 1, 2]))


def test_ordinal_answers_and_keys_do_not_change_with_the_view(data, tmp_path) -> None:
    split = data.train
    v = views(split, get_task(TASK))
    segs = [np.array([i]) for i in range(split.size)]
    a = CachedOracle(ScriptedTeacher(), "record", tmp_path / "a")
    b = CachedOracle(ScriptedTeacher(), "record", tmp_path / "b")
    with_view = _gate(split, a, v).rate(segs)
    without = _gate(split, b).rate(segs)
    assert [r.level for r in with_view] == [r.level for r in without]
    assert [r.meta for r in with_view] == [r.meta for r in without]
    # the same questions: replaying cache b with the view on finds every answer (no miss)
    replay = CachedOracle(ScriptedTeacher(), "replay", tmp_path / "b")
    replayed = _gate(split, replay, v).rate(segs)
    assert [r.level for r in replayed] == [r.level for r in with_view]


def test_the_view_column_records_checkpoints_and_skips_envs_without_a_view() -> None:
    col = ViewColumn(4)
    col.record(0, {"progress": 0.1})  # an env with no view (ALFRED, a robot)
    assert col.data is None
    col.record(1, {"view": [1, 2, 3]})
    col.record(2, {"view": (4.0, 5.0, 6.0)})
    assert col.data.shape == (4, 3) and np.isnan(col.data[0]).all()
    restored = ViewColumn(4)
    restored.load_state_dict(col.state_dict(size=3))
    np.testing.assert_array_equal(restored.data[:3], col.data[:3])
    assert np.isnan(restored.data[3]).all()
    empty = ViewColumn(4)
    empty.load_state_dict(ViewColumn(4).state_dict())
    assert empty.data is None

    class Buf:
        progress = np.array([0.1, 0.2, 0.3, 0.4], np.float32)
        success = np.zeros(4, bool)

    gate = _gate(Buf(), None, col)
    assert "view" not in gate._context(np.array([0]))  # NaN row: this state had no view
    assert gate._context(np.array([2]))["view"] == [4.0, 5.0, 6.0]
