"""The statistics behind every table, checked against values worked out by hand."""

import numpy as np
import pytest

from benchmark.analysis.stats import (
    interval_estimates,
    iqm,
    probability_of_improvement,
    progress_levels,
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


def test_reward_alignment_counts_ordered_pairs_across_levels_ties_half():
    # level 1 vs level 0: (0.3 vs 0.3) a tie -> 0.5, (0.1 vs 0.3) wrong -> 0;
    # level 2 (0.9) vs the three below: 3 right. 3.5 of 5 pairs; pairs inside a level ignored
    reward = np.array([0.3, 0.3, 0.1, 0.9])
    level = np.array([0, 1, 1, 2])
    assert reward_alignment(reward, level) == pytest.approx(3.5 / 5)
    # any monotone map of the level order is perfect, the reverse is 0, a constant is chance
    lv = np.array([0, 0, 1, 2, 2])
    assert reward_alignment(np.exp(lv + np.arange(5) * 0.01), lv) == pytest.approx(1.0)
    assert reward_alignment(-lv.astype(float), lv) == pytest.approx(0.0)
    assert reward_alignment(np.zeros(5), lv) == pytest.approx(0.5)


def test_reward_alignment_is_nan_when_the_states_span_one_level():
    assert np.isnan(reward_alignment(np.arange(5.0), np.zeros(5, int)))
    assert np.isnan(reward_alignment(np.empty(0), np.empty(0, int)))  # nothing labelled yet


def test_progress_levels_are_the_scripted_teachers():
    from oracle_cache.scripted import true_level

    progress = np.linspace(0, 1, 41)
    success = np.arange(41) % 7 == 0
    for levels in (2, 3, 5):
        want = [true_level(p, s, levels) for p, s in zip(progress, success, strict=True)]
        assert progress_levels(progress, success, levels).tolist() == want


def test_interval_estimates_are_the_iqm_and_its_stratified_bootstrap_ci():
    scores = np.random.default_rng(3).random((5, 3))
    point, lo, hi = interval_estimates(scores)
    assert point == iqm(scores)
    assert (lo, hi) == stratified_bootstrap_ci(scores, statistic=iqm)
    assert lo <= point <= hi
    one_seed = interval_estimates(scores[:1], np.mean)
    assert one_seed[0] == scores[0].mean() and np.isnan(one_seed[1]) and np.isnan(one_seed[2])


def test_report_and_leaderboard_aggregate_through_the_same_estimate():
    import pandas as pd

    from benchmark.analysis.report import aggregate_table
    from benchmark.leaderboard.summary import compute_summary

    scores = np.random.default_rng(4).random((4, 2))
    runs = pd.DataFrame(
        [
            {"method": "m", "seed": s, "task": t, "final_success": scores[s, j]}
            for s in range(4)
            for j, t in enumerate(["a", "b"])
        ]
    )
    row = aggregate_table(runs).iloc[0]
    board = compute_summary(scores, ["a", "b"])
    assert (row["iqm"], row["iqm_ci95_low"], row["iqm_ci95_high"]) == (
        board["iqm"],
        board["iqm_ci_low"],
        board["iqm_ci_high"],
    )
