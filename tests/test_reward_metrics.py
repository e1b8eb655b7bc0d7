"""The reward-model track's metrics: hand-computed cases, then scipy's own implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from benchmark.analysis.reward_metrics import (
    average_ranks,
    canonicalize_state_reward,
    canonicalize_tabular,
    epic_distance,
    epic_distance_tabular,
    headline_score,
    pearson,
    spearman,
    success_auc,
    value_order_correlation,
)


def test_average_ranks_by_hand() -> None:
    assert average_ranks(np.array([10.0, 30.0, 20.0, 20.0])).tolist() == [1.0, 4.0, 2.5, 2.5]


def test_voc_by_hand() -> None:
    # episode 0 rises (rho 1); episode 1 = [0, 2, 1]: ranks (1, 3, 2) vs (1, 2, 3):
    # d^2 = 0 + 1 + 1 = 2, rho = 1 - 6*2 / (3*8) = 0.5; a one-step episode is skipped
    values = np.array([0.1, 0.2, 0.3, 0.0, 2.0, 1.0, 5.0])
    ep = np.array([0, 0, 0, 1, 1, 1, 2])
    assert value_order_correlation(values, ep) == pytest.approx((1.0 + 0.5) / 2)


def test_voc_of_a_constant_reward_is_zero_and_empty_is_nan() -> None:
    assert value_order_correlation(np.ones(5), np.zeros(5)) == 0.0
    assert math.isnan(value_order_correlation(np.ones(1), np.zeros(1)))


def test_success_auc_by_hand() -> None:
    # positives 0.9, 0.5; negatives 0.1, 0.5, 0.7: pairs won 3 + (1 + 0.5 tie) = 4.5 of 6
    scores = np.array([0.9, 0.5, 0.1, 0.5, 0.7])
    success = np.array([1, 1, 0, 0, 0], bool)
    assert success_auc(scores, success) == pytest.approx(4.5 / 6)
    assert math.isnan(success_auc(scores, np.ones(5, bool)))


def test_epic_is_zero_for_shaped_and_rescaled_rewards_by_hand() -> None:
    # two states; R(s, s') = [[0, 1], [0, 1]] (a reward for reaching state 1); a potential
    # phi = (0, 3) shaped in with gamma 0.5 and a rescaling by 2 leave the distance at 0
    gamma, phi = 0.5, np.array([0.0, 3.0])
    r = np.array([[0.0, 1.0], [0.0, 1.0]])
    shaped = 2.0 * r + gamma * phi[None, :] - phi[:, None]
    d, w = np.array([0.5, 0.5]), np.full((2, 2), 0.25)
    assert epic_distance_tabular(r, shaped, d, w, gamma) == pytest.approx(0.0, abs=1e-9)
    # canonical form by hand: E[R(x, S')] = 0.5 for both x, E[R] = 0.5, so
    # C(R) = R + 0.5*0.5 - 0.5 - 0.5*0.5 = R - 0.5
    np.testing.assert_allclose(canonicalize_tabular(r, d, gamma), r - 0.5)
    # the negated reward is as far as can be: rho = -1, distance 1
    assert epic_distance_tabular(r, -r, d, w, gamma) == pytest.approx(1.0)


def test_state_reward_canonicalisation_agrees_with_the_tabular_formula() -> None:
    rng = np.random.default_rng(0)
    f, g = rng.normal(size=6), rng.normal(size=6)
    d = np.full(6, 1 / 6)
    # the dataset's transitions reach each state once: weights over (s, s') whose s' marginal
    # is uniform, any s
    w = rng.random((6, 6))
    w = w / w.sum(axis=0, keepdims=True) / 6
    for gamma in (0.0, 0.9, 0.99):
        tab = epic_distance_tabular(
            np.tile(f, (6, 1)), np.tile(g, (6, 1)), d, w, gamma
        )  # R(s, s') = f(s')
        assert epic_distance(f, g) == pytest.approx(tab, abs=1e-9)
    np.testing.assert_allclose(canonicalize_state_reward(f), f - f.mean())


def test_against_scipy() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 5, size=40).astype(float)  # ties on purpose
    b = a + rng.normal(size=40)
    assert spearman(a, b) == pytest.approx(sps.spearmanr(a, b).statistic)
    assert pearson(a, b) == pytest.approx(sps.pearsonr(a, b).statistic)
    assert epic_distance(a, b) == pytest.approx(math.sqrt((1 - sps.pearsonr(a, b).statistic) / 2))
    y = rng.random(40) < 0.4
    u = sps.mannwhitneyu(b[y], b[~y]).statistic  # U counts ties as half, like the AUC
    assert success_auc(b, y) == pytest.approx(u / (y.sum() * (~y).sum()))
    ep = np.repeat(np.arange(4), 10)
    per_episode = [sps.spearmanr(b[ep == e], np.arange(10)).statistic for e in range(4)]
    assert value_order_correlation(b, ep) == pytest.approx(np.mean(per_episode))


def test_headline_score_ends() -> None:
    assert headline_score(0.0) == 1.0
    assert headline_score(1 / math.sqrt(2)) == pytest.approx(0.0)
    assert headline_score(1.0) == 0.0  # anti-correlated: clipped, not above chance
    # [0, 1, 2] vs [0, 0, 3]: centred (-1, 0, 1), (-1, -1, 2): rho = 3 / sqrt(2 * 6)
    rho = 3 / math.sqrt(12)
    got = headline_score(epic_distance(np.array([0.0, 1, 2]), np.array([0.0, 0, 3])))
    assert got == pytest.approx(1 - math.sqrt(1 - rho))
    assert math.isnan(headline_score(float("nan")))
    # a constant reward carries no information: scored as unrelated
    assert headline_score(epic_distance(np.ones(5), np.arange(5.0))) == pytest.approx(0.0)


def test_the_bracket_needs_a_margin_and_disjoint_intervals() -> None:
    import pandas as pd

    from benchmark.analysis.reward_table import bracket

    def frame(scores: dict[str, list[float]]) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {"task": "t", "method": m, "seed": k, "score": v}
                for m, vs in scores.items()
                for k, v in enumerate(vs)
            ]
        )

    wide = bracket(frame({"gt-reward": [1.0] * 4, "sparse": [0.1, 0.2, 0.3, 0.2]}))
    # IQM of (0.1, 0.2, 0.2, 0.3) = mean of the middle two = 0.2
    assert wide["brackets"] and wide["difference"] == pytest.approx(0.8)
    narrow = bracket(frame({"gt-reward": [1.0] * 4, "sparse": [0.6, 0.7, 0.7, 0.8]}))
    assert narrow["disjoint"] and not narrow["brackets"]  # 0.3 apart: too close
    overlap = bracket(frame({"gt-reward": [1.0, 0.0, 1.0, 1.0], "sparse": [0.0, 0.1, 0.0, 0.9]}))
    assert not overlap["disjoint"] and not overlap["brackets"]
