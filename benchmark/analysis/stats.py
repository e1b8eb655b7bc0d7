"""Statistics for few-seed RL results, following Agarwal et al. (2021, "rliable").

Written here rather than imported: rliable 1.2.0 installs, but imports `arch`, which breaks
under the pandas 3 this project's lock pins; the computations are small and pinned by
hand-computed tests and against rliable's own values (tests/test_stats_vs_rliable.py). Scores are
arrays shaped [runs, tasks] (one column per task, one row per seed). `interval_estimates` is the
one entry point the report and the leaderboard share; `optimality_gap`, `performance_profile`
and `poi_matrix` feed the report's rliable-style figures.
"""

from __future__ import annotations

import numpy as np


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean over all runs x tasks: the mean of the middle 50 % of scores.

    Uses rliable's definition (scipy.stats.trim_mean with 25 % cut at each end).
    """
    from scipy.stats import trim_mean

    return float(trim_mean(np.asarray(scores, float).ravel(), proportiontocut=0.25))


def optimality_gap(scores: np.ndarray, threshold: float = 1.0) -> float:
    """How far runs fall short of `threshold` on average (rliable's optimality gap; lower is better).

    Scores above the threshold count as reaching it, so a few runs far above cannot hide others
    far below, which the mean allows. For success rates the threshold is 1 (always succeeds).
    """
    return float(np.mean(threshold - np.minimum(np.asarray(scores, float), threshold)))


def _resample(scores: np.ndarray, reps: int, seed: int) -> np.ndarray:
    """[reps, runs, tasks]: seeds drawn with replacement independently within each task."""
    runs, tasks = scores.shape
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, runs, size=(reps, runs, tasks))
    return np.take_along_axis(np.broadcast_to(scores, (reps, runs, tasks)), idx, axis=1)


def stratified_bootstrap_ci(
    scores: np.ndarray,
    statistic=np.mean,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile CI of `statistic`, resampling seeds independently within each task."""
    scores = np.asarray(scores, float)
    if scores.ndim == 1:
        scores = scores[:, None]
    resampled = _resample(scores, reps, seed)
    rowwise = _ROWWISE.get(statistic)
    if rowwise is not None:  # the same numbers, computed for all resamples at once
        values = rowwise(resampled.reshape(reps, -1))
    else:
        values = np.array([statistic(r) for r in resampled])
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _iqm_rows(flat: np.ndarray) -> np.ndarray:
    from scipy.stats import trim_mean

    return trim_mean(flat, proportiontocut=0.25, axis=1)


#: statistics of [reps, runs * tasks] resamples in one call, for the common aggregates
_ROWWISE = {
    iqm: _iqm_rows,
    np.mean: lambda flat: flat.mean(axis=1),
    optimality_gap: lambda flat: (1.0 - np.minimum(flat, 1.0)).mean(axis=1),
}


def interval_estimates(
    scores: np.ndarray, func=None, reps: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """(point, ci_low, ci_high) of `func` (default: the IQM) over [runs, tasks] scores.

    The interval is the 95 % stratified-bootstrap CI, like rliable's `get_interval_estimates`;
    with fewer than two runs there is nothing to resample and it is (nan, nan).
    """
    func = iqm if func is None else func
    scores = np.asarray(scores, float)
    point = float(func(scores))
    if len(scores) < 2:
        return point, float("nan"), float("nan")
    lo, hi = stratified_bootstrap_ci(scores, statistic=func, reps=reps, seed=seed)
    return point, lo, hi


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y), averaged over tasks: the Mann-Whitney U statistic / (m n), ties counting 1/2.

    x, y: [runs, tasks] scores of methods X and Y on the same tasks (runs may differ).
    """
    x, y = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float))
    if x.shape[0] == 1 and x.shape[1] > 1 and y.shape[1] == 1:
        x = x.T
    per_task = []
    for t in range(x.shape[1]):
        a, b = x[:, t][:, None], y[:, t][None, :]
        per_task.append(((a > b) + 0.5 * (a == b)).mean())
    return float(np.mean(per_task))


def performance_profile(
    scores: np.ndarray, taus: np.ndarray, reps: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(profile, low, high): the fraction of runs scoring above each tau, with a 95 % band.

    rliable's run-score distribution: every run of every task counts once, so it shows the whole
    spread of outcomes that a single aggregate hides; the band is the stratified bootstrap's
    percentile interval at each tau (degenerate with one seed).
    """
    scores = np.atleast_2d(np.asarray(scores, float))
    taus = np.asarray(taus, float)

    def profile(s: np.ndarray) -> np.ndarray:
        return (s.reshape(-1, 1) > taus[None, :]).mean(axis=0)

    point = profile(scores)
    if len(scores) < 2:
        return point, point.copy(), point.copy()
    values = np.array([profile(r) for r in _resample(scores, reps, seed)])
    lo, hi = np.quantile(values, [0.025, 0.975], axis=0)
    return point, lo, hi


def poi_matrix(by_method: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """(names, M) with M[i, j] = P(method i > method j), each [runs, tasks] on the same tasks."""
    names = list(by_method)
    m = np.full((len(names), len(names)), 0.5)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i != j:
                m[i, j] = probability_of_improvement(by_method[a], by_method[b])
    return names, m


def summarize(values: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Mean, sample std and a bootstrap 95 % CI of one task's per-seed scores."""
    v = np.asarray(values, float)
    lo, hi = stratified_bootstrap_ci(v, seed=seed) if len(v) > 1 else (float(v.mean()),) * 2
    return {
        "mean": float(v.mean()),
        "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
        "ci_low": lo,
        "ci_high": hi,
        "n": int(len(v)),
    }


def progress_levels(progress: np.ndarray, success: np.ndarray, levels: int) -> np.ndarray:
    """The scripted teacher's true level of each state, by the teacher's own rule."""
    from oracle_cache.scripted import true_levels

    return true_levels(progress, success, levels)


def reward_alignment(reward: np.ndarray, level: np.ndarray) -> float:
    """How often a reward ranks a state of a higher true level above one of a lower level.

    A diagnostic of the reward the agent trains on, logged with every evaluation: whether a
    learned reward orders states the way the task does, which a success rate of zero early in a
    short run cannot say. It is the concordance (a pooled AUC) over every pair of states whose
    true levels differ, ties in reward counting half: 0.5 is chance, 1 a perfect order, and NaN
    when the states span a single level, when nothing can be said. Pairs within a level are
    left out on purpose: progress inside a bin is mostly simulator jitter (a closed drawer moves
    by fractions of a millimetre), and a rank correlation with it measured that jitter: MetaWorld's
    dense reward scored -0.6 against raw progress on random-action data.
    """
    r, lv = np.asarray(reward, float).ravel(), np.asarray(level).ravel()
    present = np.unique(lv)
    if len(present) < 2:
        return float("nan")
    concordant, pairs = 0.0, 0
    for j in present[1:]:
        lower, upper = np.sort(r[lv < j]), r[lv == j]
        below = np.searchsorted(lower, upper, side="left")
        tied = np.searchsorted(lower, upper, side="right") - below
        concordant += float(below.sum()) + 0.5 * float(tied.sum())
        pairs += lower.size * upper.size
    return concordant / pairs
