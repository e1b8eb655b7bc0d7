"""The buffer's method-facing view: segments stay inside one episode, no privileged data leaks."""

import numpy as np

from benchmark.rl.buffer import ReplayBuffer


def _filled(episodes: int = 3, length: int = 10) -> ReplayBuffer:
    buf = ReplayBuffer(100, 2, 1, (4, 4, 3), 3)
    for e in range(episodes):
        for t in range(length):
            buf.add(
                np.full(2, t),
                np.zeros(1),
                np.full(2, t + 1),
                False,
                e,
                np.full((4, 4, 3), t, np.uint8),
                np.full(3, t),
                1.0,
                t == length - 1,
                t / length,
            )
    return buf


def test_segments_stay_within_an_episode():
    buf = _filled()
    rng = np.random.default_rng(0)
    for seg in buf.segments(4, 50, rng):
        assert len(seg) == 4
        assert len(set(buf.episode[seg])) == 1
        assert np.all(np.diff(seg) == 1)


def test_whole_episode_segments_skip_the_running_episode():
    buf = _filled(episodes=3)
    segs = buf.segments(0, 20, np.random.default_rng(0))
    assert {int(buf.episode[s[0]]) for s in segs} <= {0, 1}
    assert all(len(s) == 10 for s in segs)


def test_view_exposes_frames_and_observations_only():
    buf = _filled()
    idx = np.array([0, 5])
    assert buf.frames(idx).shape == (2, 4, 4, 3)
    assert np.array_equal(buf.observations(idx)[:, 0], [1, 6])
    assert not hasattr(buf, "rate")


def test_state_dict_round_trip():
    buf = _filled()
    other = ReplayBuffer(100, 2, 1, (4, 4, 3), 3)
    other.load_state_dict(buf.state_dict())
    assert other.size == buf.size
    assert np.array_equal(other.frames_[: buf.size], buf.frames_[: buf.size])
    assert np.array_equal(other.progress[: buf.size], buf.progress[: buf.size])
