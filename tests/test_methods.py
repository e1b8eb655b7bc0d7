"""Every built-in method against a fake buffer and a fake oracle: no simulator, a few seconds.

The fake world: each stored state has a hidden progress p in [0, 1]; its frame is a grey image
of brightness p (plus a little noise) and its observation is [p, distractor]. The fake oracle
rates by binning p and prefers the segment with more progress, so a method that learns anything
must rank states by p.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import numpy as np
import pytest
import torch

from benchmark.methods.base import RewardMethod
from benchmark.methods.registry import get_method, list_methods
from envs.spec import TaskSpec
from oracle_cache.teachers import UNANSWERED
from oracle_cache.types import NO_PREFERENCE, Preference, Rating


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_task(levels: int = 3, segment_length: int = 1) -> TaskSpec:
    def no_env(seed: int):
        raise AssertionError("method tests never build an environment")

    return TaskSpec(
        name="fake/progress",
        suite="fake",
        instruction="make progress",
        levels=levels,
        max_episode_steps=20,
        make_env=no_env,
        segment_length=segment_length,
        goal_text="progress is complete",
    )


class FakeBuffer:
    """A BufferView over `episodes` episodes of `length` steps whose progress rises (mostly)."""

    def __init__(self, episodes: int = 30, length: int = 20, size: int = 64, seed: int = 0):
        rng = np.random.default_rng(seed)
        n = episodes * length
        ramp = np.tile(np.linspace(0.0, 1.0, length), episodes) ** 2  # most states look "bad"
        self.progress = np.clip(ramp + rng.normal(0, 0.02, n), 0, 1)
        self.episode = np.repeat(np.arange(episodes), length)
        noise = rng.integers(0, 12, (n, size, size, 3))
        self._frames = (self.progress[:, None, None, None] * 230 + noise).astype(np.uint8)
        self._obs = np.stack([self.progress, rng.uniform(0, 1, n)], 1).astype(np.float32)

    @property
    def size(self) -> int:
        return len(self.progress)

    def frames(self, idx: np.ndarray) -> np.ndarray:
        return self._frames[idx]

    def observations(self, idx: np.ndarray) -> np.ndarray:
        return self._obs[idx]

    def episode_ids(self) -> np.ndarray:
        return self.episode.copy()

    def segments(self, length: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
        if length <= 0:  # whole episodes
            ids = rng.integers(0, self.episode.max() + 1, count)
            return [np.flatnonzero(self.episode == e) for e in ids]
        out = []
        while len(out) < count:
            start = int(rng.integers(0, self.size - length + 1))
            if self.episode[start] == self.episode[start + length - 1]:
                out.append(np.arange(start, start + length))
        return out


class FakeFeedback:
    """Rates a segment by binning its mean progress; prefers the segment with more progress."""

    instruction = "make progress"

    def __init__(self, buffer: FakeBuffer, levels: int = 3, budget: int = 10_000):
        self.buffer, self.levels, self.budget = buffer, levels, budget
        self.asked: list[str] = []

    @property
    def budget_left(self) -> int:
        return self.budget - len(self.asked)

    def rate(self, segments: Sequence[np.ndarray]) -> list[Rating]:
        self.asked += ["rate"] * len(segments)
        out = []
        for seg in segments:
            p = float(self.buffer.progress[seg].mean())
            out.append(Rating(min(self.levels - 1, int(p * self.levels))))
        return out

    def prefer(self, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[Preference]:
        self.asked += ["prefer"] * len(pairs)
        out = []
        for a, b in pairs:
            pa, pb = self.buffer.progress[a].mean(), self.buffer.progress[b].mean()
            if abs(pa - pb) < 0.05:
                out.append(Preference(NO_PREFERENCE))
            else:
                out.append(Preference(int(pb > pa)))
        return out


def make_method(name: str, task: TaskSpec | None = None, seed: int = 0, **overrides):
    cls = get_method(name)
    return cls(task or make_task(), cls.Config.from_overrides(overrides), seed)


def rank_corr(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


# --- registry and contract ---------------------------------------------------------------------
def test_every_builtin_is_registered_with_its_contract():
    methods = list_methods()
    for name in ("erl-vlm", "rbrl", "rl-vlm-f", "gt-reward", "sparse"):
        assert name in methods and issubclass(methods[name], RewardMethod)
    assert methods["erl-vlm"].query_kind == methods["rbrl"].query_kind == "rate"
    assert methods["rl-vlm-f"].query_kind == "prefer"
    assert methods["gt-reward"].env_reward == "dense" and methods["sparse"].env_reward == "sparse"
    assert not methods["gt-reward"].needs_frames and methods["gt-reward"].query_kind is None


def test_defaults_trace_to_the_papers():
    erl = asdict(get_method("erl-vlm").Config())
    assert {k: erl[k] for k in ("loss", "sampling", "class_weights", "k", "lr", "ensemble")} == {
        "loss": "mae",
        "sampling": "stratified",
        "class_weights": True,
        "k": 30.0,
        "lr": 3e-4,
        "ensemble": 3,
    }
    assert erl["reward_epochs"] == 10 and erl["batch_size"] == 512
    rbrl = asdict(get_method("rbrl").Config())
    assert (rbrl["loss"], rbrl["sampling"], rbrl["class_weights"]) == ("ce", "uniform", False)
    assert asdict(get_method("rl-vlm-f").Config())["batch_size"] == 64


def test_bad_options_fail_clearly():
    with pytest.raises(ValueError, match="valid"):
        get_method("erl-vlm").Config.from_overrides({"losss": "mae"})
    with pytest.raises(ValueError, match="loss must be one of"):
        make_method("erl-vlm", loss="hinge")
    with pytest.raises(ValueError, match="between 2 and 5"):
        make_method("erl-vlm", levels=6)


@pytest.mark.parametrize("name", ["gt-reward", "sparse"])
def test_reference_rewards_come_from_the_runner(name):
    method = make_method(name)
    assert method.is_ready
    with pytest.raises(RuntimeError, match="through the runner"):
        method.reward(np.zeros((2, 64, 64, 3), np.uint8), np.zeros((2, 2)))


# --- ERL-VLM / RbRL ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["erl-vlm", "rbrl"])
def test_rating_methods_learn_to_rank_states_by_progress(name):
    buffer = FakeBuffer()
    feedback = FakeFeedback(buffer)
    method = make_method(name, batch_size=64, stop_accuracy=None)
    assert not method.is_ready
    for _ in range(3):
        stats = method.query_and_update(buffer, feedback, 60)
    assert method.is_ready and len(feedback.asked) == 180
    assert stats["labels"] == 180 and stats["asked"] == 60 and stats["epochs"] == 10
    assert sum(stats[f"class_{i}"] for i in range(3)) == 180
    assert 0 <= stats["reward_acc"] <= 1 and np.isfinite(stats["loss"])
    r = method.reward(buffer.frames(np.arange(buffer.size)), buffer.observations(np.arange(0)))
    assert r.shape == (buffer.size,) and r.dtype == np.float32
    assert rank_corr(r, buffer.progress) > 0.8


class SkippingFeedback(FakeFeedback):
    """Leaves every third query unanswered, as the `skip` teacher profile does."""

    def rate(self, segments: Sequence[np.ndarray]) -> list[Rating]:
        out = super().rate(segments)
        return [Rating(UNANSWERED) if i % 3 == 0 else r for i, r in enumerate(out)]


def test_unanswered_ratings_are_left_unlabelled_not_an_error():
    buffer = FakeBuffer()
    method = make_method("erl-vlm", reward_epochs=1)
    stats = method.query_and_update(buffer, SkippingFeedback(buffer), 30)
    assert stats["asked"] == 30 and stats["labels"] == 20 and len(method.labels) == 20


def test_rewards_are_rescaled_so_labelled_states_span_0_to_1():
    buffer = FakeBuffer()
    scaled = make_method("erl-vlm", reward_epochs=2)
    raw = make_method("erl-vlm", reward_epochs=2, reward_scale="raw")
    for method in (scaled, raw):
        method.query_and_update(buffer, FakeFeedback(buffer), 40)
    labelled = np.concatenate(scaled.segments)
    r = scaled.reward(labelled, None)
    assert r.min() == pytest.approx(0.0, abs=1e-6) and r.max() == pytest.approx(1.0, abs=1e-6)
    # same seed, same data: the raw reward is the same function before the affine map
    r_raw = raw.reward(labelled, None)
    np.testing.assert_allclose(r, (r_raw - r_raw.min()) / np.ptp(r_raw), atol=1e-4)
    assert np.ptp(r_raw) < 0.05  # why the rescaling exists: RbRL never sets the scale


def test_labelled_set_keeps_copies_of_the_frames():
    buffer = FakeBuffer()
    method = make_method("erl-vlm", reward_epochs=1)
    method.query_and_update(buffer, FakeFeedback(buffer), 10)
    kept = [s.copy() for s in method.segments]
    buffer._frames[:] = 0  # the buffer evicts / overwrites
    assert all(np.array_equal(a, b) for a, b in zip(kept, method.segments, strict=True))
    assert [len(i) for i in method.indices] == [1] * 10


def test_levels_come_from_the_feedback_unless_overridden():
    buffer = FakeBuffer()
    method = make_method("erl-vlm", reward_epochs=1)
    method.query_and_update(buffer, FakeFeedback(buffer, levels=2), 20)
    assert method.levels == 2 and set(method.labels) <= {0, 1}
    fixed = make_method("erl-vlm", levels=4, reward_epochs=1)
    fixed.query_and_update(buffer, FakeFeedback(buffer, levels=4), 20)
    assert fixed.levels == 4
    with pytest.raises(ValueError, match="outside"):
        make_method("erl-vlm", levels=2).query_and_update(buffer, FakeFeedback(buffer, 5), 50)


def test_whole_trajectory_ratings_train_on_variable_length_segments():
    buffer = FakeBuffer(episodes=12, length=8)
    buffer.episode[buffer.episode == 3] = 2  # one longer episode: segments of 8 and 16 steps
    method = make_method("erl-vlm", task=make_task(segment_length=0), reward_epochs=2)
    stats = method.query_and_update(buffer, FakeFeedback(buffer), 12)
    assert {len(s) for s in method.segments} <= {8, 16} and np.isfinite(stats["loss"])


def test_state_inputs_train_an_mlp_without_frames():
    buffer = FakeBuffer()
    method = make_method("erl-vlm", inputs="state", batch_size=64, stop_accuracy=None)
    assert not method.needs_frames
    for _ in range(2):
        method.query_and_update(buffer, FakeFeedback(buffer), 60)
    r = method.reward(np.empty((buffer.size, 0)), buffer.observations(np.arange(buffer.size)))
    assert rank_corr(r, buffer.progress) > 0.8


def test_training_stops_early_once_accurate():
    buffer = FakeBuffer()
    method = make_method("erl-vlm", levels=2, stop_accuracy=0.0, reward_epochs=10)
    stats = method.query_and_update(buffer, FakeFeedback(buffer, levels=2), 20)
    assert stats["epochs"] == 2  # the reference checks from the second epoch on


@pytest.mark.parametrize("name", ["erl-vlm", "rl-vlm-f"])
def test_checkpoint_resume_continues_bit_for_bit(name):
    def session(method, buffer, feedback):
        method.query_and_update(buffer, feedback, 30)

    buffer = FakeBuffer()
    straight = make_method(name, reward_epochs=2)
    fb = FakeFeedback(buffer)
    session(straight, buffer, fb)
    state = straight.state_dict()
    session(straight, buffer, fb)

    resumed = make_method(name, reward_epochs=2)
    resumed.load_state_dict(state)
    session(resumed, buffer, FakeFeedback(buffer))
    frames = buffer.frames(np.arange(0, buffer.size, 7))
    np.testing.assert_array_equal(straight.reward(frames, None), resumed.reward(frames, None))


# --- RL-VLM-F ----------------------------------------------------------------------------------
def test_rl_vlm_f_drops_no_preference_and_learns_the_order():
    buffer = FakeBuffer()
    feedback = FakeFeedback(buffer)
    method = make_method("rl-vlm-f", stop_accuracy=None)
    assert not method.is_ready
    for _ in range(3):
        stats = method.query_and_update(buffer, feedback, 60)
    assert feedback.asked == ["prefer"] * 180
    assert stats["asked"] == 180 and stats["dropped"] > 0
    assert stats["labels"] + stats["dropped"] == 180 == len(method.labels) + stats["dropped"]
    r = method.reward(buffer.frames(np.arange(buffer.size)), None)
    assert rank_corr(r, buffer.progress) > 0.8
    labelled = np.concatenate([seg for pair in method.pairs for seg in pair])
    r = method.reward(labelled, None)  # rescaled like ERL-VLM's: labelled states span [0, 1]
    assert r.min() == pytest.approx(0.0, abs=1e-6) and r.max() == pytest.approx(1.0, abs=1e-6)
