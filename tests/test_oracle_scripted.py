"""The scripted teacher: deterministic per content, calibrated, ordinal, and honest about itself."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from oracle_cache import OracleError, ScriptedTeacher
from oracle_cache.scripted import DEFAULT_ACCURACY, PAPER_ACCURACY, true_level


def _frames(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    return [rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8) for _ in range(n)]


def test_same_frames_same_rating_twice():
    teacher = ScriptedTeacher(accuracy=0.5)
    rng = np.random.default_rng(0)
    for frame in _frames(rng, 50):
        ctx = {"task": "t", "progress": float(rng.random()), "success": False}
        first = teacher.rate([frame], "open the drawer", 3, ctx)
        again = teacher.rate([frame.copy()], "open the drawer", 3, dict(ctx))
        assert first == again


def test_true_level_bins_and_success_is_top():
    assert [true_level(p, False, 3) for p in (0.0, 0.32, 0.34, 0.66, 0.67, 1.0)] == [
        0,
        0,
        1,
        1,
        2,
        2,
    ]
    assert true_level(0.0, True, 4) == 3


@pytest.mark.parametrize(
    "task,levels",
    [("metaworld/drawer-open", 3), ("metaworld/sweep-into", 2), ("metaworld/soccer", 2), ("x", 5)],
)
def test_measured_accuracy_matches_configured(task, levels):
    teacher = ScriptedTeacher()
    expected = PAPER_ACCURACY.get(task, DEFAULT_ACCURACY)
    rng = np.random.default_rng(1)
    n, correct = 3000, 0
    for frame in _frames(rng, n):
        progress = float(rng.random())
        r = teacher.rate([frame], "do it", levels, {"task": task, "progress": progress})
        correct += r.level == true_level(progress, False, levels)
    # the seeds are fixed, so this never flakes; 1e-3 keeps it honest about sampling error
    assert binomtest(correct, n, expected).pvalue > 1e-3, (correct / n, expected)


def test_errors_are_mostly_adjacent_and_bias_shifts_them():
    rng = np.random.default_rng(2)
    frames = _frames(rng, 2000)
    ctx = {"task": "t", "progress": 0.5}  # level 2 of 5: room to err both ways
    up = {0.0: 0, 0.8: 0}
    for bias in up:
        teacher = ScriptedTeacher(accuracy=0.0, bias=bias)
        levels = np.array([teacher.rate([f], "i", 5, ctx).level for f in frames])
        assert (levels != 2).all()
        assert np.mean(np.abs(levels - 2) == 1) > 0.6
        up[bias] = int(np.sum(levels > 2))
    assert up[0.8] > 1.5 * up[0.0]


def test_preference_band_and_noise():
    rng = np.random.default_rng(3)
    teacher = ScriptedTeacher(accuracy=0.8, no_preference_band=0.05)
    a, b = _frames(rng, 2)
    tie = teacher.prefer(
        [a], [b], "i", {"task": "t", "a": {"progress": 0.5}, "b": {"progress": 0.52}}
    )
    assert tie.label == -1
    n, right = 2000, 0
    for fa, fb in zip(_frames(rng, n), _frames(rng, n), strict=True):
        p = teacher.prefer(
            [fa], [fb], "i", {"task": "t", "a": {"progress": 0.9}, "b": {"progress": 0.1}}
        )
        assert p.label in (0, 1)
        right += p.label == 0
    assert binomtest(right, n, 0.8).pvalue > 1e-3


def test_says_it_is_scripted_and_needs_context():
    teacher = ScriptedTeacher()
    frame = np.zeros((2, 2, 3), np.uint8)
    r = teacher.rate([frame], "i", 3, {"task": "t", "progress": 0.1})
    assert r.meta["provider"] == "scripted"
    assert "scripted" in r.analysis and "not a VLM" in r.analysis
    with pytest.raises(OracleError, match="privileged context"):
        teacher.rate([frame], "i", 3)
