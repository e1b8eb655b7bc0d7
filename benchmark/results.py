"""The on-disk layout of results: one directory per run, appended to as the run goes.

results/<task>/<method>/seed<k>/
    config.json       the resolved configuration (task, method, budget, SAC, oracle)
    metrics.csv       one row per evaluation (step, success_rate, queries, cache counters, ...)
    cache_stats.json  the oracle's hit/miss/call counters and its name
    phases.json       wall time per phase (env, update, feedback, relabel, eval) and shares
    versions.json     the software stack
    done.json         written last: a run with this file is finished and never rerun
    checkpoint.pt     while running: the state to resume from
"""

from __future__ import annotations

import csv
import json
import os
import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmark.inputs import redact_secrets


def slug(name: str) -> str:
    return name.replace("/", "__")


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    data = redact_secrets(data)  # every config written goes through here: no key on disk
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @classmethod
    def for_run(cls, out_dir: str | Path, task: str, method: str, seed: int) -> RunPaths:
        return cls(Path(out_dir) / slug(task) / slug(method.replace(":", ".")) / f"seed{seed}")

    config = property(lambda self: self.root / "config.json")
    metrics = property(lambda self: self.root / "metrics.csv")
    cache_stats = property(lambda self: self.root / "cache_stats.json")
    phases = property(lambda self: self.root / "phases.json")
    versions = property(lambda self: self.root / "versions.json")
    done = property(lambda self: self.root / "done.json")
    checkpoint = property(lambda self: self.root / "checkpoint.pt")
    log = property(lambda self: self.root / "run.log")

    def append_metrics(self, row: dict[str, Any], fields: list[str]) -> None:
        new = not self.metrics.exists()
        with self.metrics.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            if new:
                writer.writeheader()
            writer.writerow(row)
            f.flush()
            os.fsync(f.fileno())

    def save_checkpoint(self, payload: dict[str, Any]) -> None:
        """Write through a temporary file and rename: a kill never leaves half a checkpoint."""
        import torch  # here, so reading results never needs torch

        tmp = self.checkpoint.with_suffix(".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, self.checkpoint)

    def finish(
        self, oracle: Any, oracle_name: str, phases: dict[str, float], wall_s: float, **done: Any
    ) -> None:
        """Write the cache counters, the phase shares and, last, `done.json`; drop the checkpoint.

        `done` holds the run's own summary (final success rate, steps); `wall_s` joins it.
        """
        stats = oracle.stats() if hasattr(oracle, "stats") else {}
        write_json(self.cache_stats, {"oracle": getattr(oracle, "name", oracle_name), **stats})
        write_json(
            self.phases,
            {
                "total_s": wall_s,
                **{k: round(v, 3) for k, v in phases.items()},
                "share": {k: round(v / wall_s, 4) for k, v in phases.items()},
            },
        )
        write_json(self.done, {**done, "wall_s": wall_s})
        self.checkpoint.unlink(missing_ok=True)

    def truncate_metrics(self, n_rows: int, fields: list[str] | None = None) -> None:
        """On resume, keep the first `n_rows` rows: later ones will be produced again.

        With `fields`, the header becomes those columns (plus any older ones), so a run begun
        before a metric was added resumes into one well-formed CSV, the new column empty above.
        """
        if not self.metrics.exists():
            return
        with self.metrics.open(newline="") as f:
            rows = list(csv.DictReader(f))
            old = list(rows[0].keys()) if rows else []
        if not old:
            return
        header = [*fields, *(c for c in old if c not in fields)] if fields else old
        kept = rows[:n_rows]
        tmp = self.metrics.with_suffix(".tmp")
        with tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(kept)
        os.replace(tmp, self.metrics)


def oracle_counters(oracle: Any) -> dict[str, int]:
    """The oracle's cache counters as metrics columns (zero for an oracle without a cache)."""
    stats = oracle.stats() if hasattr(oracle, "stats") else {}
    return {
        "oracle_hits": stats.get("hits", 0),
        "oracle_misses": stats.get("misses", 0),
        "oracle_calls": stats.get("provider_calls", 0),
    }


def stack_versions() -> dict[str, Any]:
    """Versions that decide whether frames (and so cache keys) are reproducible."""
    out: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("torch", "numpy", "gymnasium", "metaworld", "mujoco", "vlm-feedback-bench"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    out["MUJOCO_GL"] = os.environ.get("MUJOCO_GL")
    return out
