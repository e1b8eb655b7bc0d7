"""Offline datasets on the ALFRED twin: columns line up, privileged data stays apart, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.loops.offline_data import (
    PRIVILEGED_COLUMNS,
    SOURCES,
    DatasetView,
    OfflineDataset,
    build_dataset,
    episode_seeds,
)
from envs import get_task


@pytest.fixture(scope="module")
def data() -> OfflineDataset:
    return build_dataset(get_task("alfred/pick-cool-then-place"), 16, seed=3)


def test_columns_shapes_and_mix(data: OfflineDataset) -> None:
    n = data.size
    env = get_task("alfred/pick-cool-then-place").make_env(0)
    assert data.obs.shape == data.next_obs.shape == (n, env.observation_space.shape[0])
    assert data.masks.shape == data.next_masks.shape == (n, env.action_space.n)
    assert data.frames.shape == (n, 64, 64, 3) and data.frames.dtype == np.uint8
    assert data.snapshots.dtype == np.float64 and data.actions.dtype == np.int64
    assert set(data.privileged) == set(PRIVILEGED_COLUMNS)
    assert data.meta["mix"] == {"expert": 2, "noisy": 6, "random": 8}
    stats = data.stats()
    assert stats["episodes"] == 16 and stats["expert_success"] == 1.0
    assert stats["random_success"] <= 0.25 and stats["noisy_success"] < 1.0
    assert not data.rewards.any()  # unlabelled until a method relabels it


def test_transitions_are_consistent(data: OfflineDataset) -> None:
    assert data.masks[np.arange(data.size), data.actions].all()  # every logged action was valid
    env = get_task("alfred/pick-cool-then-place").make_env(0)
    for ep in data.episodes():
        assert np.all(np.diff(data.steps[ep]) == 1) and data.steps[ep[0]] == 0
        assert np.array_equal(data.obs[ep[1:]], data.next_obs[ep[:-1]])
        assert data.terminals[ep[-1]] or data.timeouts[ep[-1]]
        assert not (data.terminals[ep[:-1]].any() or data.timeouts[ep[:-1]].any())
        assert data.terminals[ep[-1]] == data.privileged["success"][ep[-1]]
        # the dense reward is a difference of progress at every step (potential-based shaping,
        # which docs/alfred-v2-pilots.md section 8 builds on), so its return is the final progress
        progress = data.privileged["progress"][ep]
        steps = np.diff(progress, prepend=np.float32(0.0))
        assert np.allclose(data.privileged["gt_reward"][ep], steps, atol=1e-6)
        total = data.privileged["gt_reward"][ep].sum()
        assert total == pytest.approx(progress[-1], abs=1e-5)
    for i in range(0, data.size, 7):  # the stored frame is the stored snapshot's picture
        assert np.array_equal(env.render_snapshot(data.snapshots[i], 64), data.frames[i])


def test_seeded_and_roundtrip(data: OfflineDataset, tmp_path) -> None:
    again = build_dataset(get_task("alfred/pick-cool-then-place"), 16, seed=3)
    for k in ("obs", "actions", "frames", "snapshots", "sources"):
        assert np.array_equal(getattr(data, k), getattr(again, k))
    other = build_dataset(get_task("alfred/pick-cool-then-place"), 16, seed=4)
    assert not np.array_equal(other.snapshots[:5], data.snapshots[:5])
    back = OfflineDataset.load(data.save(tmp_path / "d.npz"))
    assert back.meta == data.meta
    for k in ("obs", "next_obs", "actions", "masks", "frames", "episode_ids"):
        assert np.array_equal(getattr(back, k), getattr(data, k))
    for k in PRIVILEGED_COLUMNS:
        assert np.array_equal(back.privileged[k], data.privileged[k])
    assert set(episode_seeds(3, 50)) & set(episode_seeds(3, 50, "eval")) == set()


def test_view_hides_privileged_columns_and_gives_whole_episodes(data: OfflineDataset) -> None:
    view = data.view()
    assert isinstance(view, DatasetView)
    assert not any(hasattr(view, k) for k in ("privileged", "rewards", "snapshots", "sample"))
    rng = np.random.default_rng(0)
    eps = {tuple(e) for e in data.episodes()}
    for seg in view.segments(0, 5, rng):
        assert tuple(seg) in eps
    for seg in view.segments(3, 5, rng):
        assert len(seg) == 3 and len(set(view.episode_ids()[seg])) == 1
    idx = np.array([0, 5])
    assert np.array_equal(view.observations(idx), data.next_obs[idx])
    assert view.frames(idx).shape == (2, 64, 64, 3)
    assert SOURCES[int(data.sources[0])] == "expert"


def test_dataset_needs_an_expert_and_discrete_actions() -> None:
    import dataclasses

    spec = get_task("alfred/pick-and-place")
    with pytest.raises(ValueError, match="expert"):
        build_dataset(dataclasses.replace(spec, make_expert=None), 2)
    with pytest.raises(ValueError, match="discrete"):
        build_dataset(dataclasses.replace(spec, action_kind="continuous"), 2)
