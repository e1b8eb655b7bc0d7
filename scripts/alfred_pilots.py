"""Summarise offline (ALFRED) sweep results for the pilot log: per run, per method, per step.

    python scripts/alfred_pilots.py RESULTS_DIR [--methods gt-reward,sparse] [--markdown]

Reads every `<task>/<method>/seed<k>/` under RESULTS_DIR that has a `done.json` (unfinished runs
are listed as such and left out of the aggregates), and prints:

* one row per run: final success rate, the dataset's share of successful episodes, wall time;
* per method: the IQM of the final success rates over runs x tasks with its 95 % stratified
  bootstrap CI (`benchmark.analysis.stats.interval_estimates`, what the report and the leaderboard
  use), and the same at every evaluation step the runs share (the learning curve, so a pilot run
  at 5k updates also says what 1k..4k updates would have given, evaluation being on the same
  fixed scenes);
* the gap between the first two methods and whether their CIs are disjoint.

It only reads result files; it trains nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from benchmark.analysis.stats import interval_estimates


def load_runs(root: Path) -> list[dict]:
    runs = []
    for cfg in sorted(root.glob("*/*/seed*/config.json")):
        run = cfg.parent
        task_dir, method, seed = run.parent.parent.name, run.parent.name, run.name
        rows = (
            list(csv.DictReader((run / "metrics.csv").read_text().splitlines()))
            if (run / "metrics.csv").exists()
            else []
        )
        curve = {int(r["step"]): float(r["success_rate"]) for r in rows}
        phases = (
            json.loads((run / "phases.json").read_text()) if (run / "phases.json").exists() else {}
        )
        runs.append(
            {
                "task": task_dir.replace("__", "/"),
                "method": method,
                "seed": int(seed[4:]),
                "done": (run / "done.json").exists(),
                "final": curve[max(curve)] if curve else float("nan"),
                "curve": curve,
                "train_success": float(rows[-1]["train_success"]) if rows else float("nan"),
                "wall_s": float(phases.get("total_s", float("nan"))),
            }
        )
    return runs


def score_matrix(runs: list[dict], method: str, step: int | None = None) -> np.ndarray | None:
    """[seeds, tasks] of the method's success (final, or at `step`), on seeds done for every task."""
    mine = [r for r in runs if r["method"] == method and r["done"]]
    tasks = sorted({r["task"] for r in mine})
    seeds = sorted(
        set.intersection(*[{r["seed"] for r in mine if r["task"] == t} for t in tasks])
        if tasks
        else set()
    )
    if not seeds:
        return None
    by = {(r["task"], r["seed"]): r for r in mine}
    get = (lambda r: r["final"]) if step is None else (lambda r: r["curve"].get(step, np.nan))
    return np.array([[get(by[(t, s)]) for t in tasks] for s in seeds], float)


def fmt(est: tuple[float, float, float]) -> str:
    return f"{est[0]:.3f} [{est[1]:.3f}, {est[2]:.3f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--methods", default="gt-reward,sparse")
    args = ap.parse_args()
    runs = load_runs(args.root)
    methods = args.methods.split(",")
    print("| task | method | seed | final success | data success share | wall s |")
    print("|---|---|---|---|---|---|")
    for r in sorted(runs, key=lambda r: (r["task"], r["method"], r["seed"])):
        final = f"{r['final']:.2f}" if r["done"] else "(unfinished)"
        print(
            f"| {r['task']} | {r['method']} | {r['seed']} | {final} | {r['train_success']:.4f} "
            f"| {r['wall_s']:.0f} |"
        )
    print()
    ests = {}
    for m in methods:
        scores = score_matrix(runs, m)
        if scores is None:
            print(f"{m}: no finished runs")
            continue
        ests[m] = interval_estimates(scores)
        walls = [r["wall_s"] for r in runs if r["method"] == m and r["done"]]
        print(
            f"{m}: IQM {fmt(ests[m])} over {scores.shape[0]} seeds x {scores.shape[1]} tasks; "
            f"per-task means {np.round(scores.mean(0), 3).tolist()}; "
            f"mean wall {np.mean(walls):.0f} s/run"
        )
        steps = sorted(
            set.intersection(*[set(r["curve"]) for r in runs if r["method"] == m and r["done"]])
        )
        if len(steps) > 2:
            curve = ", ".join(
                f"{s}: {iqm_at:.3f}"
                for s, iqm_at in (
                    (s, interval_estimates(score_matrix(runs, m, s))[0]) for s in steps
                )
            )
            print(f"  IQM by IQL updates: {curve}")
    if len(ests) >= 2:
        a, b = methods[:2]
        gap = ests[a][0] - ests[b][0]
        disjoint = ests[a][1] > ests[b][2] or ests[b][1] > ests[a][2]
        print(
            f"{a} - {b}: {gap:+.3f} IQM; CIs disjoint: {disjoint}; brackets (>= 0.3 and disjoint): {gap >= 0.3 and disjoint}"
        )


if __name__ == "__main__":
    main()
