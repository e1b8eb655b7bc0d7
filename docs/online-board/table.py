"""Per-seed evaluation success of a metaworld-online-v1 work dir, as the Markdown table in
docs/online-board/README.md (run from the repository root):

    python docs/online-board/table.py /work/runs/online-board/results [more result dirs ...]

Reads the run directories with docs/reference-layout/table.py's `run_rows`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "reference_layout_table", Path(__file__).resolve().parents[1] / "reference-layout" / "table.py"
)
_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_table)


def rows(results: Path) -> list[str]:
    out = []
    for r in _table.run_rows(results):
        successes = " ".join(f"{x:.0f}" for x in r["evals"])
        final = "(running)" if r["final"] is None else f"{r['final']:.2f}"
        first = "never" if r["first"] is None else r["first"]
        minutes = "–" if r["wall_min"] is None else f"{r['wall_min']:.1f}"
        out.append(f"| {r['method']} | {r['seed']} | {successes} | {first} | {final} | {minutes} |")
    return out


if __name__ == "__main__":
    print(
        "| method | seed | success at each eval (0, 2.5k, ..., 20k) | first success | final | wall min |"
    )
    print("|---|---|---|---|---|---|")
    for arg in sys.argv[1:]:
        print("\n".join(rows(Path(arg))))
