"""`submit`: run a protocol for a method, write its submission, regenerate the standings.

The runs go through the sweep API (parallel processes, finished runs skipped on --resume), in a
scratch directory; only the submission JSON, its metrics files and (vlm track) its cache bundle
are written to the board, so a board directory is small enough to commit.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from benchmark.leaderboard.bundle import export_cache_bundle
from benchmark.leaderboard.collect import (
    build_submission,
    collect_runs,
    method_info,
)
from benchmark.leaderboard.digests import tree_digest
from benchmark.leaderboard.protocol import Protocol
from benchmark.leaderboard.schema import NAME_PATTERN


class SubmitError(RuntimeError):
    """Submitting failed; the message says what to do."""


@dataclass
class Identity:
    """Who submits what; anything left None is read from the method class."""

    name: str | None = None
    version: str | None = None
    authors: list[str] | None = None
    url: str | None = None
    description: str | None = None


def default_work_dir(protocol: Protocol, label: str) -> Path:
    return Path(".cache") / "leaderboard" / protocol.id / label


def _run_pinned(configs: list, jobs: int | None, threads: int) -> list:
    """run_local with `threads` torch threads per run, so scripted runs reproduce bit for bit.

    Uses run_local's own `threads` option when it has one; otherwise picks the number of
    processes for which run_local's split (cores // processes) gives `threads`, and warns
    when no such number exists on this machine.
    """
    from benchmark.sweep.local import run_local

    if "threads" in inspect.signature(run_local).parameters:
        return run_local(configs, jobs=jobs, threads=threads)
    from benchmark.results import RunPaths

    # run_local splits the cores among the runs it still has to do (finished ones are skipped)
    n = sum(
        not RunPaths.for_run(c.out_dir, c.task, c.method, c.seed).done.exists() for c in configs
    )
    cores = os.cpu_count() or 1
    if n == 0:
        return run_local(configs, jobs=jobs)
    fits = [j for j in range(cores, 0, -1) if cores // min(j, n) == threads]
    if jobs is not None and cores // min(jobs, n) == threads:
        fits = [jobs]
    if not fits:
        warnings.warn(
            f"cannot run {n} run(s) with {threads} thread(s) each on {cores} cores with this "
            "sweep; results may differ in the last digits from a pinned run",
            stacklevel=2,
        )
        return run_local(configs, jobs=jobs)
    return run_local(configs, jobs=fits[0])


def run_protocol(
    method_refs: list[str],
    protocol: Protocol,
    work_dir: Path,
    jobs: int | None = None,
    threads: int | None = None,
    bundle: Path | None = None,
) -> tuple[Path, Path]:
    """Run every (task, method, seed) of the protocol; returns (results_dir, cache_dir).

    With `bundle`, every answer is replayed from it (read-only, no provider, no API key): how
    a VLM-track entry is re-run from the bundle it ships; the cache_dir returned is then unused.
    """
    from benchmark.config import RunConfig
    from benchmark.sweep.local import plan

    results, cache = work_dir / "results", work_dir / "cache"
    base = RunConfig(
        task="",
        method="",
        seed=0,
        budget=protocol.budget,
        oracle=protocol.oracle.provider,
        cache_mode="replay" if bundle else "record",
        cache_dir=str(cache),
        bundle=str(bundle) if bundle else None,
        out_dir=str(results),
        oracle_options=dict(protocol.oracle.options),
        budget_overrides=dict(protocol.budget_overrides),
        sac=dict(protocol.sac),
        loop=protocol.loop,
    )
    configs = plan(protocol.tasks, method_refs, protocol.seeds, base)
    outcomes = _run_pinned(configs, jobs, threads or protocol.threads)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        lines = [
            f"{o.config.task} {o.config.method} seed {o.config.seed}: {o.error}" for o in failed
        ]
        raise SubmitError(
            f"{len(failed)} run(s) of protocol '{protocol.id}' failed (logs under {results}):\n  "
            + "\n  ".join(lines)
        )
    return results, cache


def _check_name(name: str) -> None:
    if not re.fullmatch(NAME_PATTERN, name):
        raise SubmitError(
            f"Submission name '{name}' is not allowed: use lower-case letters, digits, '.', '_' "
            "or '-' (at most 64 characters); pass --name to choose one."
        )


def write_submission(
    method_ref: str,
    protocol: Protocol,
    results: Path,
    cache: Path | None,
    root: Path,
    info: dict,
    kind: str = "submission",
    replace: bool = False,
) -> Path:
    """Collect finished runs into `<board>/submissions/<name>.json` plus its files.

    `info` is the method block (see `collect.method_info`); its name names the files.
    """
    name = info["name"]
    _check_name(name)
    sub_dir = protocol.board_dir(root) / "submissions"
    target, files_dir = sub_dir / f"{name}.json", sub_dir / name
    if target.exists() and not replace:
        raise SubmitError(
            f"{target} already exists. Pass --replace to overwrite it with this run, "
            "or --name to submit under another name."
        )
    runs, shared = collect_runs(results, method_ref, protocol, name)
    shutil.rmtree(files_dir, ignore_errors=True)
    for run in runs:
        dest = sub_dir / run["metrics_file"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run["_source"], dest)
    bundle = None
    if protocol.track == "vlm":
        if cache is None or not Path(cache).exists():
            raise SubmitError("The vlm track needs the runs' oracle cache to export its bundle.")
        out = export_cache_bundle(cache, files_dir / "bundle")
        digest, count = tree_digest(out)
        bundle = {"path": f"{name}/bundle", "sha256": digest, "files": count}
    doc = build_submission(runs, shared, info, protocol, kind=kind, cache_bundle=bundle)
    sub_dir.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return target


def submit(
    method_ref: str,
    protocol: Protocol,
    root: str | Path,
    identity: Identity | None = None,
    kind: str = "submission",
    jobs: int | None = None,
    work_dir: str | Path | None = None,
    resume: bool = False,
    replace: bool = False,
    protocols_file: Path | None = None,
) -> Path:
    """Run the protocol for one method, write its submission, validate it, redo the standings."""
    from benchmark.leaderboard.standings import write_standings
    from benchmark.leaderboard.validate import validate_files
    from benchmark.methods.registry import get_method

    identity = identity or Identity()
    root = Path(root)
    try:
        cls = get_method(method_ref)
    except (KeyError, ImportError, TypeError, ValueError) as err:
        raise SubmitError(f"Cannot load method '{method_ref}': {err}") from err
    name = identity.name or cls.name
    if not name:
        raise SubmitError(f"{method_ref} has no `name`; pass --name to choose the entry's name.")
    _check_name(name)
    target = protocol.board_dir(root) / "submissions" / f"{name}.json"
    if target.exists() and not replace:
        raise SubmitError(
            f"{target} already exists. Pass --replace to overwrite it, or --name for another name."
        )
    work = Path(work_dir) if work_dir else default_work_dir(protocol, name)
    if not resume:
        shutil.rmtree(work, ignore_errors=True)
    results, cache = run_protocol([method_ref], protocol, work, jobs)
    info = method_info(
        method_ref,
        name,
        identity.version,
        identity.authors,
        identity.url,
        identity.description,
    )
    path = write_submission(method_ref, protocol, results, cache, root, info, kind, replace=True)
    report = validate_files([path], root=root, protocols_file=protocols_file)
    if not report.ok:
        raise SubmitError(f"The new submission does not validate:\n{report.text()}")
    write_standings(protocol, root, protocols_file)
    return path


def submit_baselines(
    protocol: Protocol,
    root: str | Path,
    methods: tuple[str, ...] | list[str] | None = None,
    jobs: int | None = None,
    work_dir: str | Path | None = None,
    resume: bool = False,
    protocols_file: Path | None = None,
) -> list[Path]:
    """The suite's own methods as the board's first entries (one sweep for all of them).

    Only methods on the suite's list (leaderboards/baselines.json) are baselines.
    """
    from benchmark.leaderboard.baselines import load_baselines
    from benchmark.leaderboard.standings import write_standings

    listed = load_baselines()
    methods = list(methods) if methods else list(listed)
    strays = [m for m in methods if listed.get(m) != m]
    if strays:
        raise SubmitError(
            f"{', '.join(strays)} not on the suite's baselines list (leaderboards/baselines.json); "
            "submit other methods with `leaderboard submit`"
        )
    root = Path(root)
    work = Path(work_dir) if work_dir else default_work_dir(protocol, "baselines")
    if not resume:
        shutil.rmtree(work, ignore_errors=True)
    results, cache = run_protocol(list(methods), protocol, work, jobs)
    authors = ["vlm-feedback-bench maintainers"]
    paths = [
        write_submission(
            m, protocol, results, cache, root, method_info(m, authors=authors), "baseline", True
        )
        for m in methods
    ]
    write_standings(protocol, root, protocols_file)
    return paths
