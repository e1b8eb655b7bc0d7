"""The reward-model track's own table: every reward metric per task and method.

The sweep's report ranks by the headline score (written as `success_rate`); this table puts the
four metrics behind it side by side, from the last row of each finished reward-track run's
metrics.csv, so a reader sees why a score is what it is. `python -m benchmark.analysis.reward_table
RESULTS_DIR` prints it; `sweep --loop reward-model` prints it after the report.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from benchmark.results import RunPaths

COLUMNS = {
    "score": "score",
    "epic_distance": "EPIC dist.",
    "voc": "VOC",
    "success_auc": "success AUC",
    "reward_alignment": "alignment",
}


def load_final_rows(results_dir: str | Path) -> pd.DataFrame:
    """One row per finished reward-track run: task, method, seed and its last metrics.

    A directory holding a sweep record is read on that sweep's runs only (as the report is).
    """
    from benchmark.analysis.report import sweep_runs

    _, run_dirs = sweep_runs(Path(results_dir))
    name = RunPaths(Path()).config.name
    found = (
        sorted(Path(results_dir).rglob(name))
        if run_dirs is None
        else [d / name for d in run_dirs if (d / name).exists()]
    )
    rows = []
    for cfg_path in found:
        paths = RunPaths(cfg_path.parent)
        if not (paths.done.exists() and paths.metrics.exists()):
            continue
        cfg = json.loads(cfg_path.read_text())
        if cfg.get("track") != "reward-model":
            continue
        last = pd.read_csv(paths.metrics).iloc[-1]
        rows.append(
            {
                "task": cfg["task"]["name"],
                "method": cfg["method"]["name"],
                "seed": cfg["run"]["seed"],
                "queries": int(last["queries"]),
                **{k: float(last[k]) for k in COLUMNS},
            }
        )
    return pd.DataFrame(rows)


def markdown(final: pd.DataFrame) -> str:
    """Mean ± std over seeds of every metric, per task and method (best score first)."""
    head = ["task", "method", "seeds", "queries", *COLUMNS.values()]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    groups = final.groupby(["task", "method"], sort=True)
    order = sorted(groups, key=lambda kv: (kv[0][0], -kv[1]["score"].mean()))
    for (task, method), g in order:
        cells = []
        for k in COLUMNS:
            sd = g[k].std(ddof=1) if len(g) > 1 else 0.0
            cells.append(f"{g[k].mean():.2f} ± {sd:.2f}")
        lines.append(
            f"| {task} | {method} | {len(g)} | {int(g['queries'].max())} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


def bracket(
    final: pd.DataFrame, upper: str = "gt-reward", lower: str = "sparse", margin: float = 0.5
) -> dict[str, object]:
    """Issue 20's criterion for a usable board: IQM(upper) - IQM(lower) >= margin over tasks x
    seeds, with disjoint 95 % stratified-bootstrap CIs (stats.interval_estimates, the report's
    and the leaderboard's estimator)."""
    from benchmark.analysis.stats import interval_estimates

    out: dict[str, object] = {}
    for role, method in (("upper", upper), ("lower", lower)):
        pivot = final[final["method"] == method].pivot_table(
            index="seed", columns="task", values="score"
        )
        point, lo, hi = interval_estimates(pivot.dropna().to_numpy())
        out[role] = {"method": method, "iqm": point, "ci": [lo, hi], "runs": int(pivot.size)}
    up, low = out["upper"], out["lower"]
    out["difference"] = up["iqm"] - low["iqm"]
    out["disjoint"] = bool(low["ci"][1] < up["ci"][0])
    out["brackets"] = bool(out["difference"] >= margin and out["disjoint"])
    return out


def bracket_line(b: dict[str, object]) -> str:
    up, low = b["upper"], b["lower"]
    return (
        f"bracket: {up['method']} IQM {up['iqm']:.3f} [{up['ci'][0]:.3f}, {up['ci'][1]:.3f}] vs "
        f"{low['method']} IQM {low['iqm']:.3f} [{low['ci'][0]:.3f}, {low['ci'][1]:.3f}]: "
        f"difference {b['difference']:.3f}, CIs {'disjoint' if b['disjoint'] else 'overlap'} -> "
        + ("brackets" if b["brackets"] else "does NOT bracket (needs >= 0.5 and disjoint CIs)")
    )


def write_table(results_dir: str | Path) -> Path | None:
    """Write reward_table.md next to the report's tables; None when there is no track run."""
    final = load_final_rows(results_dir)
    if final.empty:
        return None
    out = Path(results_dir) / "reward_table.md"
    note = (
        "\nscore = 1 - sqrt(2) x EPIC distance to the dense reward, clipped to [0, 1] (the "
        "`success` column of table.md on this track); VOC along held-out expert episodes; "
        "success AUC; alignment = concordance across the teacher's levels. docs/reward-track.md.\n"
    )
    out.write_text(markdown(final) + note)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m benchmark.analysis.reward_table RESULTS_DIR", file=sys.stderr)
        return 2
    path = write_table(argv[0])
    if path is None:
        print(f"error: no finished reward-model-track run under {argv[0]}", file=sys.stderr)
        return 1
    print(path.read_text())
    final = load_final_rows(argv[0])
    if {"gt-reward", "sparse"} <= set(final["method"]):
        print(bracket_line(bracket(final)))
        for task, g in final.groupby("task"):
            print(f"  {task}: {bracket_line(bracket(g))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
