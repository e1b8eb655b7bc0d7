"""The statistics behind every table, checked against values worked out by hand."""

import numpy as np
import pytest

from benchmark.stats import (
    iqm,
    probability_of_improvement,
    reward_alignment,
    stratified_bootstrap_ci,
    summarize,
)


def test_iqm_is_mean_of_middle_half():
    scores = np.array([[0.0, 1.0], [1.0, 1.0], [0.5, 0.0], [1.0, 0.5]])
    # sorted: 0 0 .5 .5 1 1 1 1 -> middle four .5 .5 1 1 -> 0.75
    assert iqm(scores) == pytest.approx(0.75)


def test_probability_of_improvement_counts_ties_as_half():
    x = np.array([[1.0], [0.5]])
    y = np.array([[0.5], [0.5]])
    # pairs: 1>.5, 1>.5, .5=.5 (1/2), .5=.5 (1/2) -> 3/4
    assert probability_of_improvement(x, y) == pytest.approx(0.75)
    assert probability_of_improvement(y, x) == pytest.approx(0.25)


def test_probability_of_improvement_averages_tasks():
    x = np.array([[1.0, 0.0]])
    y = np.array([[0.0, 1.0]])
    assert probability_of_improvement(x, y) == pytest.approx(0.5)


def test_bootstrap_ci_brackets_mean_and_collapses_for_constant_scores():
    v = np.array([0.2, 0.4, 0.6, 0.8])
    lo, hi = stratified_bootstrap_ci(v, reps=4000)
    assert lo <= v.mean() <= hi
    assert lo >= 0.2 and hi <= 0.8
    assert stratified_bootstrap_ci(np.full(5, 0.3)) == pytest.approx((0.3, 0.3))


def test_bootstrap_is_stratified_by_task():
    # task columns have very different levels; a stratified resample keeps one value per task
    # per run, so the mean over a resample can never leave [min of row-means, max]
    scores = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    assert stratified_bootstrap_ci(scores) == pytest.approx((0.5, 0.5))


def test_summarize_uses_sample_std():
    s = summarize(np.array([0.0, 1.0]))
    assert s["mean"] == 0.5
    assert s["std"] == pytest.approx(np.sqrt(0.5))
    assert s["n"] == 2


def test_reward_alignment_is_spearman_with_average_ranks_for_ties():
    # ranks: reward 1,2,3; progress 1.5,1.5,3 -> centred (-1,0,1) and (-.5,-.5,1)
    # -> 1.5 / (sqrt(2) * sqrt(1.5)) = sqrt(3)/2
    assert reward_alignment(np.array([0.1, 0.5, 0.9]), np.array([0.0, 0.0, 1.0])) == pytest.approx(
        np.sqrt(3) / 2
    )
    # a monotone map of the progress is perfectly aligned; reversed, perfectly anti-aligned
    p = np.array([0.0, 0.2, 0.3, 0.9])
    assert reward_alignment(np.exp(p), p) == pytest.approx(1.0)
    assert reward_alignment(-(p**3), p) == pytest.approx(-1.0)


def test_reward_alignment_is_nan_when_nothing_can_be_said():
    assert np.isnan(reward_alignment(np.zeros(5), np.arange(5.0)))  # unlabelled (constant)
    assert np.isnan(reward_alignment(np.arange(5.0), np.ones(5)))  # no progress anywhere
    assert np.isnan(reward_alignment(np.arange(2.0), np.arange(2.0)))  # too few points
