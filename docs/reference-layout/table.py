"""The tables of docs/reference-layout/README.md from the run directories (run from the
repository root):

    python docs/reference-layout/table.py /work/runs/layouts/results [more result dirs ...]

One row per run (evaluation success at every evaluation, steps to first success, final
success, wall time), then one row per (task, layout, method) over the seeds found.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

from benchmark.rl.sac_history import BEFORE_FIELD


def _numerics(sac: dict) -> str:
    """'fp32' (PyTorch's kernels, what the board ran), 'fp32 oneDNN' or 'bf16'."""
    sac = {**BEFORE_FIELD, **sac}  # a run from before a field existed ran what it says
    if sac["precision"] == "fp32" and sac["matmul"] == "onednn":
        return "fp32 oneDNN"
    return sac["precision"]


def run_rows(results: Path) -> list[dict]:
    out = []
    for run in sorted(results.glob("*/*/seed*")):
        metrics = run / "metrics.csv"
        if not metrics.exists():
            continue
        with metrics.open(newline="") as f:
            evals = list(csv.DictReader(f))
        done = (run / "done.json").exists()
        config = json.loads((run / "config.json").read_text())
        task = run.parent.parent.name.replace("__", "/")
        base, _, variant = task.partition("@")
        out.append(
            {
                "task": base,
                "layout": variant or "reference",
                "method": run.parent.name,
                "seed": int(run.name[4:]),
                "precision": _numerics(config.get("sac", {})),
                "evals": [float(r["success_rate"]) for r in evals],
                "first": next(
                    (int(r["step"]) for r in evals if float(r["success_rate"]) > 0), None
                ),
                "final": float(evals[-1]["success_rate"]) if done else None,
                "wall_min": json.loads((run / "phases.json").read_text())["total_s"] / 60
                if done
                else None,
            }
        )
    return out


def per_run(rows: list[dict]) -> list[str]:
    lines = [
        "| task | layout | method | precision | seed | success at each eval (0, 2.5k, ..., 20k) "
        "| first success | final | wall min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        evals = " ".join(f"{x:.0f}" if x in (0.0, 1.0) else f"{x:.1f}" for x in r["evals"])
        first = "never" if r["first"] is None else str(r["first"])
        final = "(running)" if r["final"] is None else f"{r['final']:.2f}"
        wall = "–" if r["wall_min"] is None else f"{r['wall_min']:.1f}"
        lines.append(
            f"| {r['task']} | {r['layout']} | {r['method']} | {r['precision']} | {r['seed']} "
            f"| {evals} | {first} | {final} | {wall} |"
        )
    return lines


def summary(rows: list[dict]) -> list[str]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if r["final"] is not None:
            groups[(r["task"], r["layout"], r["method"], r["precision"])].append(r)
    lines = [
        "| task | layout | method | precision | seeds | final success per seed | mean "
        "| steps to first success per seed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (task, layout, method, precision), rs in sorted(groups.items()):
        rs.sort(key=lambda r: r["seed"])
        finals = [r["final"] for r in rs]
        firsts = ", ".join(str(r["first"]) if r["first"] is not None else "never" for r in rs)
        lines.append(
            f"| {task} | {layout} | {method} | {precision} | "
            f"{','.join(str(r['seed']) for r in rs)} | "
            f"{', '.join(f'{x:.1f}' for x in finals)} | {sum(finals) / len(finals):.2f} | {firsts} |"
        )
    return lines


if __name__ == "__main__":
    rows = [r for arg in sys.argv[1:] for r in run_rows(Path(arg))]
    print("\n".join(summary(rows)))
    print()
    print("\n".join(per_run(rows)))
