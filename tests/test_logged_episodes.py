"""The reward-model track's logged data: deterministic per seed, cached under its content's
digest, two disjoint splits, and nothing privileged in what a method sees."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.loops.logged_episodes import (
    Recipe,
    build_dataset,
    cache_path,
    check_task,
    load_or_build,
)
from envs import get_task

TINY = Recipe(
    episode_steps=6, expert_noise=(0.1,), expert_episodes=1, partial_episodes=1, random_episodes=1
)
TASK = "metaworld/drawer-open"


@pytest.fixture(scope="module")
def task():
    return get_task(TASK)


def test_same_seed_same_bytes_other_seed_other_data(task) -> None:
    a, b = build_dataset(task, 0, TINY), build_dataset(task, 0, TINY)
    for split in ("train", "heldout"):
        for col in ("obs", "frames", "snapshots", "sources"):
            np.testing.assert_array_equal(
                getattr(a.split(split), col), getattr(b.split(split), col)
            )
    assert a.digest == b.digest
    c = build_dataset(task, 1, TINY)
    assert c.digest != a.digest
    assert not np.array_equal(c.train.obs, a.train.obs)


def test_splits_hold_different_episodes_of_every_source(task) -> None:
    data = build_dataset(task, 0, TINY)
    n = TINY.episode_steps * len(TINY.plan())
    assert data.train.size == data.heldout.size == n
    assert data.train.frames.shape == (n, task.reward_frame_size, task.reward_frame_size, 3)
    assert sorted(set(data.train.sources.tolist())) == [0, 1, 2]
    assert not np.array_equal(data.train.obs, data.heldout.obs)


def test_built_once_then_read_from_its_content_named_file(task, tmp_path) -> None:
    data, cached = load_or_build(task, 0, tmp_path, TINY)
    path = cache_path(tmp_path, task, 0, TINY, task.reward_frame_size)
    assert not cached and path.is_file()
    assert path.name == f"{data.digest}.npz" and path.parent.name == "metaworld__drawer-open"
    again, cached = load_or_build(task, 0, tmp_path, TINY)
    assert cached
    np.testing.assert_array_equal(again.heldout.frames, data.heldout.frames)
    np.testing.assert_array_equal(
        again.heldout.privileged["gt_reward"], data.heldout.privileged["gt_reward"]
    )
    assert again.meta == data.meta
    # another recipe is another file, never a stale read of this one
    other = Recipe(**{**TINY.__dict__, "episode_steps": 5})
    assert cache_path(tmp_path, task, 0, other, task.reward_frame_size) != path
    assert list(tmp_path.rglob("*.tmp")) == []  # written through a renamed temporary file


def test_a_method_sees_no_privileged_column(task) -> None:
    split = build_dataset(task, 0, TINY).train
    view = split.view()
    public = {n for n in dir(view) if not n.startswith("_")}
    assert public == {"size", "frames", "observations", "episode_ids", "segments"}
    idx = np.array([0, 3])
    np.testing.assert_array_equal(view.frames(idx), split.frames[idx])
    np.testing.assert_array_equal(view.observations(idx), split.obs[idx])
    segs = view.segments(3, 4, np.random.default_rng(0))
    assert all(len(s) == 3 and len(set(split.episode_ids[s])) == 1 for s in segs)


def test_a_task_without_a_scripted_expert_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="continuous-control task with a scripted expert"):
        check_task(get_task("alfred/pick-cool-then-place"))
