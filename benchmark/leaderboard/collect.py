"""Turn finished runs (the runner's results layout) into a submission document.

Reads only what the runner wrote: config.json (budget, oracle, threads), metrics.csv (the
curve; final success is its last row), versions.json (the stack). Values are parsed from the
CSV text exactly as written, so the validator can compare them with the file bit for bit.
"""

from __future__ import annotations

import csv
import importlib
import inspect
import json
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmark.leaderboard.digests import content_digest, sha256_file
from benchmark.leaderboard.protocol import Protocol
from benchmark.leaderboard.summary import compute_summary, score_matrix
from benchmark.results import RunPaths, slug


class IncompleteRunsError(RuntimeError):
    """A run of the protocol has not finished; the message names it and its log."""


def read_curve(metrics_csv: str | Path) -> dict[str, list]:
    with Path(metrics_csv).open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{metrics_csv} has no rows")
    return {
        "step": [int(r["step"]) for r in rows],
        "queries": [int(r["queries"]) for r in rows],
        "success_rate": [float(r["success_rate"]) for r in rows],
        "eval_return": [float(r["eval_return"]) for r in rows],
    }


def metrics_relpath(name: str, task: str, seed: int) -> str:
    """Where a run's metrics.csv is kept, relative to the submission JSON file."""
    return f"{name}/metrics/{slug(task)}/seed{seed}.csv"


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _distribution_version(module: str) -> str | None:
    top = module.split(".")[0]
    for dist in metadata.packages_distributions().get(top, []):
        try:
            return f"{dist} {metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return None


def _default_config(cls: type) -> dict[str, Any]:
    try:
        return cls.Config().to_dict()
    except Exception:  # noqa: BLE001 - a Config with required fields: the runs' config is used
        return {}


def method_info(
    ref: str,
    name: str | None = None,
    version: str | None = None,
    authors: list[str] | None = None,
    url: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Who and what: the method's identity, resolved from its class where not given."""
    from benchmark.methods.registry import get_method

    cls = get_method(ref)
    module = importlib.import_module(cls.__module__)
    source = Path(inspect.getfile(module)).resolve()
    commit = _git(["rev-parse", "HEAD"], source.parent)
    dirty = None
    if commit:
        dirty = bool(_git(["status", "--porcelain", "--", source.name], source.parent))
    doc = (cls.__doc__ or "").strip().splitlines()
    return {
        "name": name or cls.name,
        "version": version
        or str(getattr(cls, "version", "") or "")
        or _distribution_version(cls.__module__)
        or (f"git {commit[:12]}" if commit else "unversioned"),
        "authors": authors or list(getattr(cls, "authors", []) or []) or ["anonymous"],
        "description": description if description is not None else (doc[0] if doc else ""),
        "code": {
            "ref": ref,
            "class_path": f"{cls.__module__}:{cls.__qualname__}",
            "url": url or getattr(cls, "url", None),
            "git_commit": commit,
            "git_dirty": dirty,
            "source_sha256": sha256_file(source),
        },
        "query_kind": cls.query_kind,
        "config": _default_config(cls),
    }


def collect_runs(
    results_dir: str | Path, method_ref: str, protocol: Protocol, name: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(run entries, shared facts: budget, sac, stack) for every (task, seed) of the protocol."""
    runs, shared = [], {}
    missing = []
    for task in protocol.tasks:
        for seed in protocol.seeds:
            paths = RunPaths.for_run(results_dir, task, method_ref, seed)
            if not paths.done.exists():
                missing.append(f"{task} seed {seed} (log: {paths.log})")
                continue
            cfg = json.loads(paths.config.read_text())
            curve = read_curve(paths.metrics)
            runs.append(
                {
                    "task": task,
                    "seed": seed,
                    "final_success": curve["success_rate"][-1],
                    "steps": curve["step"][-1],
                    "queries": curve["queries"][-1],
                    "oracle": str(cfg["oracle"]["name"]),
                    "threads": int(cfg["run"].get("threads", 1)),
                    "wall_s": round(float(json.loads(paths.done.read_text()).get("wall_s", 0)), 2),
                    "curve": curve,
                    "metrics_file": metrics_relpath(name, task, seed),
                    "metrics_sha256": sha256_file(paths.metrics),
                    "_source": str(paths.metrics),
                }
            )
            if not shared:
                budget = dict(cfg["budget"])
                budget.pop("notes", None)
                shared = {
                    "method_config": cfg.get("method", {}).get("config"),
                    "resolved_budget": budget,
                    "sac": cfg.get("sac", {}),
                    "stack": json.loads(paths.versions.read_text())
                    if paths.versions.exists()
                    else {},
                }
    if missing:
        raise IncompleteRunsError(
            "These runs did not finish; read their logs, fix the method and submit again "
            "(finished runs are kept with --resume):\n  " + "\n  ".join(missing)
        )
    return runs, shared


def build_submission(
    runs: list[dict[str, Any]],
    shared: dict[str, Any],
    method: dict[str, Any],
    protocol: Protocol,
    kind: str = "submission",
    cache_bundle: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The submission document (plain JSON data) with its summary and content digest."""
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs]
    clean.sort(key=lambda r: (protocol.tasks.index(r["task"]), r["seed"]))
    scores = score_matrix(clean, protocol.tasks, protocol.seeds)
    if shared.get("method_config") is not None:  # what the runs used, not the class defaults
        method = {**method, "config": shared["method_config"]}
    doc = {
        "schema_version": 1,
        "kind": kind,
        "method": method,
        "protocol": protocol.model_dump(mode="json"),
        "resolved_budget": shared["resolved_budget"],
        "sac": shared["sac"],
        "stack": shared["stack"],
        "runs": clean,
        "summary": compute_summary(scores, protocol.tasks),
        "cache_bundle": cache_bundle,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    # round-trip through JSON so the digest is of exactly what is written
    doc = json.loads(json.dumps(doc))
    doc["content_sha256"] = content_digest(doc)
    return doc
