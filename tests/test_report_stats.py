"""The statistics behind the report's rliable-style figures, checked on hand-computed cases.

The optimality gap is also pinned against rliable in tests/test_stats_vs_rliable.py; its fixture
holds success rates only (all <= 1), where the gap equals 1 - mean, so the clipping at the
threshold is checked here.
"""

import numpy as np
import pytest

from benchmark.analysis.stats import optimality_gap, performance_profile, poi_matrix


def test_optimality_gap_counts_scores_above_the_threshold_as_reaching_it():
    # 1 - mean would be 0: the 1.5 would hide the 0.5 entirely
    assert optimality_gap(np.array([[1.5, 0.5]])) == pytest.approx(0.25)
    assert optimality_gap(np.array([[0.2], [0.6]]), threshold=0.5) == pytest.approx(0.15)


def test_performance_profile_is_the_fraction_of_runs_above_each_tau():
    scores = np.array([[0.0, 1.0], [0.5, 1.0]])  # 4 runs: 0, 0.5, 1, 1
    prof, lo, hi = performance_profile(scores, np.array([-0.1, 0.25, 0.75, 1.0]), reps=200)
    assert prof.tolist() == [1.0, 0.75, 0.5, 0.0]
    assert np.all(lo <= prof + 1e-12) and np.all(prof <= hi + 1e-12)
    # the second task never varies across seeds, so its runs never leave the band
    assert lo[2] >= 0.5 - 1e-12


def test_performance_profile_with_one_seed_has_no_band():
    prof, lo, hi = performance_profile(np.array([[0.3, 0.9]]), np.array([0.5]))
    assert prof.tolist() == lo.tolist() == hi.tolist() == [0.5]


def test_poi_matrix_is_complementary():
    names, m = poi_matrix({"a": np.array([[0.9], [0.8]]), "b": np.array([[0.1], [0.8]])})
    assert names == ["a", "b"]
    assert m[0, 1] == pytest.approx(0.875)  # a > b in 3 of 4 pairs, one tie counting half
    assert m[0, 1] + m[1, 0] == pytest.approx(1.0) and np.diag(m).tolist() == [0.5, 0.5]
