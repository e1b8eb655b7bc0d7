"""The statistics behind every table, checked against values worked out by hand."""

import numpy as np
import pytest

from benchmark.stats import iqm, probability_of_improvement, stratified_bootstrap_ci, summarize


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
