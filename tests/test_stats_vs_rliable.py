"""The hand-written statistics, pinned against rliable's own values.

rliable cannot be imported in the project's venv (pandas 3 breaks its dependency `arch`), so
tests/data/rliable_reference.json holds its numbers, written by scripts/rliable_reference.py in
a separate venv (see that script's docstring). The IQM, mean and optimality gap (point and CI)
and the probability of improvement are pinned.

Bootstrap tolerance: rliable draws resamples from numpy's global RNG, the project from
np.random.default_rng, so the CI bounds can only agree up to bootstrap sampling error. The
fixture stores, per bound, the mean and standard deviation sd of rliable's bound over n seeds
(2000 reps each, as here). If both implement the same percentile stratified bootstrap, the
project's seed-0 bound minus rliable's n-seed mean has standard deviation sd * sqrt(1 + 1/n);
we allow 5 of those (about 0.01-0.015 on these matrices, against CI widths of about 0.12-0.17),
which a bootstrap over the wrong strata or a wrong quantile would exceed.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from benchmark.analysis.stats import (
    interval_estimates,
    iqm,
    optimality_gap,
    probability_of_improvement,
)

REF = json.loads((Path(__file__).parent / "data" / "rliable_reference.json").read_text())
FUNCS = {"iqm": iqm, "mean": np.mean, "optimality_gap": optimality_gap}
SIGMAS = 5


def scores(name: str) -> np.ndarray:
    return np.array(REF["matrices"][name], float)


@pytest.mark.parametrize("name", sorted(REF["matrices"]))
@pytest.mark.parametrize("stat", sorted(FUNCS))
def test_point_estimates_match_rliable(name, stat):
    ours = float(FUNCS[stat](scores(name)))
    assert ours == pytest.approx(REF["point"][name][stat], abs=1e-12, rel=0)


@pytest.mark.parametrize(
    "pair", REF["probability_of_improvement"], ids=lambda p: f"{p['x']}>{p['y']}"
)
def test_probability_of_improvement_matches_rliable(pair):
    ours = probability_of_improvement(scores(pair["x"]), scores(pair["y"]))
    assert ours == pytest.approx(pair["value"], abs=1e-12, rel=0)


@pytest.mark.parametrize("name", sorted(REF["matrices"]))
@pytest.mark.parametrize("stat", sorted(FUNCS))
def test_bootstrap_ci_agrees_with_rliable(name, stat):
    ref = REF["ci"][name][stat]
    point, lo, hi = interval_estimates(scores(name), func=FUNCS[stat], reps=REF["reps"], seed=0)
    rl_point = REF["point"][name][stat]
    assert lo - 1e-12 <= rl_point <= hi + 1e-12
    n = REF["ci_seed_count"]
    for ours, mean, sd in zip((lo, hi), ref["mean"], ref["std"], strict=True):
        tol = SIGMAS * sd * math.sqrt(1 + 1 / n) + 1e-12
        assert abs(ours - mean) <= tol, (ours, mean, tol)
