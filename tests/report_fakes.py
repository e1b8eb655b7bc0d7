"""Finished runs written without training, shaped like the loops' output, for report tests.

Online (MetaWorld-like): `sac` in config.json, queries rising during training. Offline
(ALFRED-like): `iql` in config.json, every query spent before the first update, and the long
task names that used to collide on the bar chart's axis. `sparse` logs no reward alignment.
"""

from __future__ import annotations

import csv
from pathlib import Path

from benchmark.loops.harness import METRIC_FIELDS
from benchmark.results import RunPaths, write_json

ONLINE = ["metaworld/drawer-open", "metaworld/sweep-into", "metaworld/soccer"]
OFFLINE = [
    "alfred/pick-cool-then-place",
    "alfred/pick-heat-then-place",
    "alfred/pick-clean-then-place",
    "alfred/pick-two-and-place",
]
LEVELS = {"erl-vlm": 0.6, "gt-reward": 0.9, "sparse": 0.1}


def write_run(out: Path, task: str, method: str, seed: int, final: float) -> Path:
    """One finished run whose success rises to `final` over five evaluations."""
    offline = task.startswith("alfred/")
    paths = RunPaths.for_run(out, task, method, seed)
    paths.root.mkdir(parents=True, exist_ok=True)
    every = 300 if offline else 1000
    rows = []
    for i in range(5):
        row = dict.fromkeys(METRIC_FIELDS, 0)
        queries = 0 if method != "erl-vlm" else (100 if offline else 25 * i)
        align = "nan" if method == "sparse" or i == 0 else round(0.5 + 0.1 * i + 0.01 * seed, 3)
        row.update(
            step=i * every,
            success_rate=round(final * i / 4, 4),
            eval_return=round(100 * final * i / 4 + seed, 3),
            queries=queries,
            reward_alignment=align,
            reward_loss="nan",
            wall_s=0.5 * i,
        )
        rows.append(row)
    with paths.metrics.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=METRIC_FIELDS)
        w.writeheader()
        w.writerows(rows)
    cfg = {
        "run": {"task": task, "method": method, "seed": seed, "budget_overrides": {}},
        "task": {"name": task},
        "method": {"name": method},
        "budget": {"name": "smoke"},
        "oracle": {"name": "scripted", "provider": "scripted"},
        ("iql" if offline else "sac"): {},
    }
    write_json(paths.config, cfg)
    write_json(paths.done, {"final_success_rate": final})
    return paths.root


def write_sweep(out: Path, tasks: list[str], methods: dict[str, float] = LEVELS) -> list[Path]:
    """Every task x method x seeds 0, 1, with seed-dependent finals."""
    return [
        write_run(out, t, m, s, round(min(1.0, level + 0.05 * s + 0.02 * i), 3))
        for i, t in enumerate(tasks)
        for m, level in methods.items()
        for s in (0, 1)
    ]
