"""Write tests/data/rliable_reference.json: rliable's own values on small fixed score matrices.

benchmark/analysis/stats.py re-implements rliable's IQM, stratified-bootstrap CIs and
probability of improvement because rliable 1.2.0 cannot be imported under the pandas 3 the
project's lock pins (its dependency `arch` breaks). tests/test_stats_vs_rliable.py pins the
hand-written statistics against the numbers this script records.

This script is NOT part of `make test` and does not run in the project's venv. Run it by hand
in a separate, throwaway venv that has rliable with pandas < 3 (no torch needed):

    python3.11 -m venv /tmp/rlvenv
    /tmp/rlvenv/bin/pip install rliable 'pandas<3'
    /tmp/rlvenv/bin/python scripts/rliable_reference.py

It rewrites tests/data/rliable_reference.json (with the rliable/arch/numpy/scipy/pandas
versions used).

Bootstrap CIs: rliable resamples with numpy's global RNG (StratifiedBootstrap.update_indices
calls np.random.choice), so its stream cannot match the project's np.random.default_rng. The
fixture therefore records, per matrix and statistic, rliable's CI for np.random.seed(0) and the
mean and standard deviation of each bound over SEEDS seeds, which is the bootstrap sampling
error the test's tolerance is derived from.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
from rliable import library, metrics

REPS = 2000
SEEDS = 30
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "rliable_reference.json"

# runs x tasks, values in [0, 1]; written literally so the fixture is reproducible.
MATRICES = {
    # 5 seeds x 3 tasks, with ties within and across tasks.
    "a": [
        [0.12, 0.55, 0.91],
        [0.23, 0.47, 0.78],
        [0.23, 0.62, 1.00],
        [0.41, 0.30, 0.78],
        [0.05, 0.55, 0.69],
    ],
    # 4 seeds x 3 tasks (a different number of runs), some values shared with "a".
    "b": [
        [0.20, 0.40, 0.83],
        [0.12, 0.58, 0.95],
        [0.35, 0.47, 0.60],
        [0.18, 0.71, 0.88],
    ],
    # degenerate: every score equal.
    "flat": [[0.5, 0.5, 0.5]] * 5,
}
# (x, y) pairs for P(X > Y); includes a matrix against itself (rliable's 0.5 shortcut).
POI_PAIRS = [("a", "b"), ("b", "a"), ("a", "flat"), ("flat", "a"), ("a", "a"), ("flat", "flat")]
STATISTICS = ["iqm", "mean", "optimality_gap"]


def aggregates(x: np.ndarray) -> np.ndarray:
    return np.array(
        [
            metrics.aggregate_iqm(x),
            metrics.aggregate_mean(x),
            metrics.aggregate_optimality_gap(x, gamma=1),
        ]
    )


def rliable_ci(scores: np.ndarray, seed: int) -> np.ndarray:
    np.random.seed(seed)  # rliable's run resampling uses the global RNG
    _, ci = library.get_interval_estimates(
        {"m": scores},
        aggregates,
        reps=REPS,
        random_state=np.random.RandomState(seed),
    )
    return ci["m"]  # shape (2, len(STATISTICS)): lower row, upper row


def main() -> None:
    out: dict = {
        "versions": {p: version(p) for p in ("rliable", "arch", "numpy", "scipy", "pandas")},
        "python": sys.version.split()[0],
        "reps": REPS,
        "confidence": 0.95,
        "method": "percentile",
        "ci_seed_count": SEEDS,
        "matrices": MATRICES,
        "point": {},
        "ci": {},
        "probability_of_improvement": [],
    }
    for name, m in MATRICES.items():
        scores = np.array(m, float)
        point = aggregates(scores)
        out["point"][name] = {s: float(v) for s, v in zip(STATISTICS, point, strict=True)}
        cis = np.array([rliable_ci(scores, seed) for seed in range(SEEDS)])  # seeds x 2 x stats
        out["ci"][name] = {
            s: {
                "seed0": [float(cis[0, 0, i]), float(cis[0, 1, i])],
                "mean": [float(cis[:, 0, i].mean()), float(cis[:, 1, i].mean())],
                "std": [float(cis[:, 0, i].std(ddof=1)), float(cis[:, 1, i].std(ddof=1))],
            }
            for i, s in enumerate(STATISTICS)
        }
    for x, y in POI_PAIRS:
        p = metrics.probability_of_improvement(
            np.array(MATRICES[x], float), np.array(MATRICES[y], float)
        )
        out["probability_of_improvement"].append({"x": x, "y": y, "value": float(p)})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
