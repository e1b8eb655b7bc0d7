"""How good a learned reward is, measured without running RL (the reward-model track).

Pure functions of arrays, each pinned by a hand-computed test and, where scipy has one, an
independent implementation:

- `value_order_correlation` (VOC, GVL: arXiv 2411.04549): Spearman's rank correlation between a
  reward and the time index along each expert episode, averaged over episodes;
- `success_auc`: ROC-AUC of the reward as a detector of success states;
- `epic_distance` (EPIC, Gleave et al.: arXiv 2006.13900): the Pearson distance between two
  rewards after canonicalisation, which removes potential shaping;
- `headline_score`: the track's score in [0, 1], from the EPIC distance (docs/reward-track.md
  says why that one, and it was chosen before any run was scored).

Reward alignment (concordance across teacher levels) lives in `stats.reward_alignment`, shared
with the online and offline loops.
"""

from __future__ import annotations

import math

import numpy as np


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties getting the mean of the ranks they span (what Spearman's rho uses)."""
    x = np.asarray(x, float).ravel()
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    # start of each run of equal values, and the average rank of the run
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    avg = (starts + ends + 1) / 2.0  # ranks starts+1 .. ends, averaged
    ranks = np.empty(len(x))
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r; 0 when either side is constant (a constant carries no order at all)."""
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"pearson: shapes differ, {a.shape} vs {b.shape}")
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float(a @ a) * float(b @ b))
    return float(np.clip((a @ b) / denom, -1.0, 1.0))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho (Pearson of average ranks); 0 when either side is constant."""
    return pearson(average_ranks(a), average_ranks(b))


def value_order_correlation(values: np.ndarray, episode_ids: np.ndarray) -> float:
    """Mean over episodes of Spearman(value, time index), the time index being the order in
    which each episode's entries appear. 1 = the reward rises along every expert episode.
    Episodes shorter than two steps are skipped; NaN when none is left."""
    values, ep = np.asarray(values, float).ravel(), np.asarray(episode_ids).ravel()
    rhos = []
    for e in np.unique(ep):
        v = values[ep == e]
        if len(v) >= 2:
            rhos.append(spearman(v, np.arange(len(v))))
    return float(np.mean(rhos)) if rhos else float("nan")


def success_auc(scores: np.ndarray, success: np.ndarray) -> float:
    """ROC-AUC of `scores` for telling success states from the rest: P(score of a success >
    score of a failure), ties counting half. NaN when only one class is present."""
    s, y = np.asarray(scores, float).ravel(), np.asarray(success, bool).ravel()
    pos, neg = s[y], np.sort(s[~y])
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    below = np.searchsorted(neg, pos, side="left")
    tied = np.searchsorted(neg, pos, side="right") - below
    return float((below.sum() + 0.5 * tied.sum()) / (len(pos) * len(neg)))


def pearson_distance(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None) -> float:
    """sqrt((1 - rho) / 2) with rho the (optionally weighted) Pearson correlation; in [0, 1]."""
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    if weights is None:
        rho = pearson(a, b)
    else:
        w = np.asarray(weights, float).ravel()
        w = w / w.sum()
        da, db = a - w @ a, b - w @ b
        denom = math.sqrt(float(w @ (da * da)) * float(w @ (db * db)))
        rho = 0.0 if denom == 0 else float(np.clip(w @ (da * db) / denom, -1.0, 1.0))
    return math.sqrt(max(0.0, (1.0 - rho) / 2.0))


def canonicalize_tabular(reward: np.ndarray, state_dist: np.ndarray, gamma: float) -> np.ndarray:
    """EPIC's canonically shaped reward for a reward table R[s, s'] (rewards that do not depend
    on the action), with S and S' drawn independently from `state_dist`:

        C(R)(s, s') = R(s, s') + gamma E[R(s', S')] - E[R(s, S')] - gamma E[R(S, S')].

    Any potential shaping gamma*phi(s') - phi(s) added to R cancels out of C(R).
    """
    r = np.asarray(reward, float)
    d = np.asarray(state_dist, float)
    d = d / d.sum()
    from_state = r @ d  # E[R(x, S')] for every x
    mean = float(d @ from_state)  # E[R(S, S')]
    return r + gamma * from_state[None, :] - from_state[:, None] - gamma * mean


def epic_distance_tabular(
    reward_a: np.ndarray,
    reward_b: np.ndarray,
    state_dist: np.ndarray,
    transition_weights: np.ndarray,
    gamma: float = 0.99,
) -> float:
    """EPIC distance of two reward tables R[s, s']: the Pearson distance of their canonical
    forms, weighted by the transitions' distribution `transition_weights[s, s']`."""
    ca = canonicalize_tabular(reward_a, state_dist, gamma)
    cb = canonicalize_tabular(reward_b, state_dist, gamma)
    return pearson_distance(ca, cb, transition_weights)


def canonicalize_state_reward(reward_next: np.ndarray) -> np.ndarray:
    """C(R) for a reward of the reached state, R(s, a, s') = f(s'), under the dataset's own
    coverage distribution (the reached states of its transitions): with f(s') only, every
    expectation in `canonicalize_tabular` is the same mean of f, so C(R) = f(s') - mean(f)
    whatever gamma is (the test checks this against the tabular formula)."""
    r = np.asarray(reward_next, float).ravel()
    return r - r.mean()


def epic_distance(reward_a: np.ndarray, reward_b: np.ndarray) -> float:
    """EPIC distance of two rewards of the reached state, evaluated on the same transitions
    (in [0, 1]; 0 = equivalent up to shaping and positive rescaling, 1/sqrt(2) = unrelated)."""
    return pearson_distance(
        canonicalize_state_reward(reward_a), canonicalize_state_reward(reward_b)
    )


def headline_score(epic: float) -> float:
    """The track's score in [0, 1]: 1 - sqrt(2) * D_EPIC, clipped at 0, so the dense reward
    scores 1 and a reward unrelated to it (D = 1/sqrt(2)) or anti-correlated scores 0."""
    if math.isnan(epic):
        return float("nan")
    return float(min(1.0, max(0.0, 1.0 - math.sqrt(2.0) * epic)))
