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


# --- recipe v2 (docs/reward-track.md, "Recipe v2") ---------------------------------------------
TINY_STOPPED = Recipe(
    episode_steps=30, expert_noise=(0.1,), expert_episodes=1, partial_episodes=0,
    random_episodes=0, stopped_episodes=2,
)  # fmt: skip


def test_v1_keeps_its_digest_when_the_v2_fields_exist(task) -> None:
    """The committed v1 board's datasets are named by the digest of the six v1 fields alone."""
    import hashlib
    import json
    from dataclasses import asdict

    from benchmark.loops.logged_episodes import DEFAULT_RECIPE, _stack_version, recipe_digest

    v1 = {k: v for k, v in asdict(DEFAULT_RECIPE).items() if not k.startswith("stopped")}
    doc = {
        "task": task.name,
        "description": task.description,
        "seed": 3,
        "recipe": v1,
        "frame_size": 64,
        "stack": _stack_version(),
    }
    old = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
    assert recipe_digest(task, 3, DEFAULT_RECIPE, 64) == old
    assert DEFAULT_RECIPE.as_doc() == v1 and "stopped" not in DEFAULT_RECIPE.sources()


def test_stopped_episodes_are_deterministic_and_have_their_own_digest(task) -> None:
    a, b = build_dataset(task, 0, TINY_STOPPED), build_dataset(task, 0, TINY_STOPPED)
    for col in ("obs", "frames", "sources"):
        np.testing.assert_array_equal(getattr(a.heldout, col), getattr(b.heldout, col))
    assert a.digest == b.digest
    assert "stopped" in a.meta["sources"] and "stopped_episodes" in a.meta["recipe"]
    no_stop = Recipe(**{**TINY_STOPPED.__dict__, "stopped_episodes": 0})
    assert build_dataset(task, 0, no_stop).digest != a.digest


def test_recipe_v2_makes_successful_episodes_rare(task) -> None:
    """The registered intent: about 10 % of the states (the two expert episodes) come from
    episodes that succeed; the stopped episodes stop short of success."""
    from benchmark.loops.logged_episodes import RECIPE_V2, build_split

    split = build_split(task, 0, "heldout", RECIPE_V2, task.reward_frame_size)
    success = split.privileged["success"]
    won = {e: bool(success[split.episode_ids == e].any()) for e in np.unique(split.episode_ids)}
    share = float(np.mean([won[e] for e in split.episode_ids]))
    assert 0.05 <= share <= 0.25, share
    stopped = RECIPE_V2.sources().index("stopped")
    stopped_eps = np.unique(split.episode_ids[split.sources == stopped])
    assert len(stopped_eps) == RECIPE_V2.stopped_episodes
    assert sum(won[e] for e in stopped_eps) <= 2
    expert = np.unique(split.episode_ids[split.sources == 0])
    assert all(won[e] for e in expert)  # VOC still has expert episodes that reach the goal


def test_a_budget_names_its_recipe_and_an_unknown_name_is_one_line() -> None:
    from dataclasses import replace

    from benchmark.config import get_budget
    from benchmark.inputs import InputError
    from benchmark.loops.logged_episodes import DEFAULT_RECIPE, RECIPE_V2, get_recipe
    from benchmark.loops.reward_track import run_recipe

    short = get_budget("short")
    assert short.logged_recipe is None and get_recipe(None) is DEFAULT_RECIPE
    assert run_recipe(short.with_overrides(logged_recipe="v2")) is RECIPE_V2
    with pytest.raises(InputError, match="choose one of v1, v2"):
        run_recipe(replace(short, logged_recipe="v9"))
