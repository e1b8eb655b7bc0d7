"""Per-seed evaluation success of a metaworld-online-v1 work dir, as the Markdown table in
docs/online-board/README.md (run from the repository root):

    python docs/online-board/table.py /work/runs/online-board/results [more result dirs ...]
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def rows(results: Path) -> list[str]:
    out = []
    for run in sorted(results.glob("*/*/seed*")):
        metrics = run / "metrics.csv"
        if not metrics.exists():
            continue
        with metrics.open(newline="") as f:
            evals = list(csv.DictReader(f))
        done = (run / "done.json").exists()
        wall = json.loads((run / "phases.json").read_text())["total_s"] if done else None
        successes = " ".join(f"{float(r['success_rate']):.0f}" for r in evals)
        final = f"{float(evals[-1]['success_rate']):.2f}" if done else "(running)"
        first = next((r["step"] for r in evals if float(r["success_rate"]) > 0), "never")
        minutes = f"{wall / 60:.1f}" if wall else "–"
        out.append(
            f"| {run.parent.name} | {run.name[4:]} | {successes} | {first} | {final} | {minutes} |"
        )
    return out


if __name__ == "__main__":
    print(
        "| method | seed | success at each eval (0, 2.5k, ..., 20k) | first success | final | wall min |"
    )
    print("|---|---|---|---|---|---|")
    for arg in sys.argv[1:]:
        print("\n".join(rows(Path(arg))))
