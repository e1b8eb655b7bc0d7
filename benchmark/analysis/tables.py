"""The report's tables: per task and method, and aggregated over tasks x seeds.

Tables are for people: a value that was not measured (reward alignment of a method that learns
no reward, a CI from one seed) is written as NA_TEXT, never NaN. The per-run metrics.csv files
keep NaN: they are the loops' raw records, read by programs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.analysis.stats import (
    interval_estimates,
    iqm,
    optimality_gap,
    probability_of_improvement,
    summarize,
)

NA_TEXT = "n/a"


def method_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per task and method: final success over seeds, its CI, alignment, queries."""
    rows = []
    for (task, method), g in runs.groupby(["task", "method"], sort=True):
        s = summarize(g.sort_values("seed")["final_success"].to_numpy())
        align = g["final_alignment"].to_numpy(float)
        rows.append(
            {
                "task": task,
                "method": method,
                "success_mean": s["mean"],
                "success_std": s["std"],
                "ci95_low": s["ci_low"],
                "ci95_high": s["ci_high"],
                "reward_alignment": float(np.nanmean(align))
                if np.isfinite(align).any()
                else np.nan,
                "seeds": s["n"],
                "queries": int(g["queries"].max()),
                "budget": g["budget"].iloc[0],
                "oracle": ", ".join(sorted(set(g["oracle"]))),
            }
        )
    return pd.DataFrame(rows)


def score_matrices(runs: pd.DataFrame) -> tuple[dict[str, np.ndarray], list[str]]:
    """Per method a [seeds, tasks] matrix of final success on the tasks every method ran.

    Aggregates and P(improvement) compare methods on the same tasks; seeds missing a task are
    left out of that method's matrix.
    """
    common = sorted(set.intersection(*(set(g["task"]) for _, g in runs.groupby("method"))))
    pivot = runs[runs["task"].isin(common)].pivot_table(
        index=["method", "seed"], columns="task", values="final_success"
    )
    out = {}
    for method in sorted(runs["method"].unique()):
        if common and method in pivot.index.get_level_values(0):
            m = pivot.loc[method].reindex(columns=common).dropna(axis=0).to_numpy()
            if len(m):
                out[method] = m
    return out, common


def aggregate_table(runs: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """IQM, mean and optimality gap over tasks x seeds with stratified-bootstrap CIs, and
    P(improvement) over a baseline."""
    scores, _ = score_matrices(runs)
    rows = []
    for method, m in scores.items():
        row: dict[str, object] = {"method": method}
        for name, func in (("iqm", iqm), ("mean", np.mean), ("optimality_gap", optimality_gap)):
            value, lo, hi = interval_estimates(m, func)
            row.update({name: value, f"{name}_ci95_low": lo, f"{name}_ci95_high": hi})
        if baseline and baseline in scores and method != baseline:
            row[f"p_improve_over_{baseline}"] = probability_of_improvement(m, scores[baseline])
        row["runs"] = m.size
        rows.append(row)
    return pd.DataFrame(rows)


def fmt(x: object, digits: int = 2) -> str:
    """A number for a reader: fixed digits, NA_TEXT when missing."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return NA_TEXT
    return f"{x:.{digits}f}" if isinstance(x, float | np.floating) else str(x)


def markdown_table(table: pd.DataFrame) -> str:
    lines = [
        "| task | method | success (mean ± std) | 95% CI | reward alignment | seeds | queries "
        "| oracle | budget |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.task} | {r.method} | {fmt(r.success_mean)} ± {fmt(r.success_std)} | "
            f"[{fmt(r.ci95_low)}, {fmt(r.ci95_high)}] | {fmt(r.reward_alignment)} | {r.seeds} | "
            f"{r.queries} | {r.oracle} | {r.budget} |"
        )
    return "\n".join(lines) + "\n"


def to_csv(table: pd.DataFrame, path) -> None:
    """CSV for readers and spreadsheets: missing values written as NA_TEXT."""
    table.to_csv(path, index=False, na_rep=NA_TEXT)


def _ci_columns(table: pd.DataFrame, col: str) -> tuple[str, str] | None:
    """The interval columns of `col`: X_ci95_low/high, or ci95_low/high for success_mean."""
    pair = (
        ("ci95_low", "ci95_high")
        if col == "success_mean"
        else (f"{col}_ci95_low", f"{col}_ci95_high")
    )
    return pair if all(c in table for c in pair) else None


def display_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The table as text for a page: each interval as one "[low, high]" column beside its
    value, so a row fits the page; missing values as NA_TEXT."""
    skip = {c for c in table.columns if c.endswith(("ci95_low", "ci95_high"))}
    out: dict[str, list[str]] = {}
    for col in table.columns:
        if col in skip:
            continue
        out[col] = [fmt(v, digits) for v in table[col]]
        if pair := _ci_columns(table, col):
            lo, hi = table[pair[0]], table[pair[1]]
            out[f"{col} 95% CI"] = [
                NA_TEXT
                if not (np.isfinite(a) and np.isfinite(b))
                else f"[{a:.{digits}f}, {b:.{digits}f}]"
                for a, b in zip(lo, hi, strict=True)
            ]
    return pd.DataFrame(out)
