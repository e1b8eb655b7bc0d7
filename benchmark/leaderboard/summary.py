"""The numbers a board ranks on, computed from per-seed final success only.

Submit and validate both call `compute_summary`, so a summary that does not follow from the
per-seed values is caught (the validator recomputes it and compares).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from benchmark.analysis.stats import interval_estimates, iqm, summarize


def _field(run: Any, key: str) -> Any:
    return run[key] if isinstance(run, dict) else getattr(run, key)


def score_matrix(runs: Iterable[Any], tasks: Sequence[str], seeds: Sequence[int]) -> np.ndarray:
    """[seeds, tasks] final success; runs are dicts or models with task, seed, final_success.

    Raises KeyError for a missing (task, seed): callers check completeness first.
    """
    table = {
        (_field(r, "task"), _field(r, "seed")): float(_field(r, "final_success")) for r in runs
    }
    return np.array([[table[(t, s)] for t in tasks] for s in sorted(seeds)], dtype=float)


def compute_summary(scores: np.ndarray, tasks: Sequence[str]) -> dict[str, Any]:
    """Per-task mean/std/bootstrap CI and the IQM over tasks x seeds with its stratified CI."""
    per_task = []
    for j, task in enumerate(tasks):
        s = summarize(scores[:, j])
        per_task.append({"task": task, **s})
    value, lo, hi = interval_estimates(scores, iqm)
    if scores.shape[0] < 2:  # one seed: a zero-width interval, as boards have always shown
        lo = hi = value
    return {
        "iqm": value,
        "iqm_ci_low": lo,
        "iqm_ci_high": hi,
        "mean": float(scores.mean()),
        "per_task": per_task,
    }
