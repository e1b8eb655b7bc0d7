"""Checks of whole CLI commands (`sweep`, `run --config`), built from `benchmark.inputs`.

Kept apart from `inputs` because these need the configuration, the agents and the results
layout, which themselves use `inputs` (option checks, secret redaction): one module for both
would be an import cycle.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from benchmark.inputs import (
    InputError,
    check_log_sinks,
    check_options,
    check_oracle,
    check_writable_dir,
    drop_redacted,
    first_line,
    parse_list,
    parse_options,
    parse_seeds,
    read_json_file,
)


# --- whole commands --------------------------------------------------------------------------
@dataclasses.dataclass
class SweepInputs:
    """A sweep's command line, parsed and checked: what cmd_sweep builds its RunConfigs from."""

    tasks: list[str]
    methods: list[str]
    seeds: list[int]
    method_options: dict[str, Any]
    oracle_options: dict[str, Any]
    budget_overrides: dict[str, Any]
    sac: dict[str, Any]
    iql: dict[str, Any]
    log_sinks: list[str]


def check_sweep(args: Any) -> SweepInputs:
    """Every check of `python -m benchmark sweep`, in the order the flags are usually read."""
    from envs import UnknownTaskError, expand_tasks

    try:
        tasks = expand_tasks(parse_list(args.tasks, "--tasks"))
    except UnknownTaskError as err:
        raise InputError(first_line(err)) from None
    methods = parse_list(args.methods, "--methods")
    seeds = parse_seeds(args.seeds)
    if args.cache not in ("record", "replay", "live"):
        raise InputError(f"--cache {args.cache!r}: choose record, replay or live")
    got = SweepInputs(
        tasks,
        methods,
        seeds,
        method_options=parse_options(args.method_opt, "--method-opt"),
        oracle_options=parse_options(args.oracle_opt, "--oracle-opt"),
        budget_overrides=parse_options(args.budget_opt, "--budget-opt"),
        sac=parse_options(args.sac_opt, "--sac-opt"),
        iql=parse_options(getattr(args, "iql_opt", []), "--iql-opt"),
        log_sinks=check_log_sinks([x.strip() for x in args.log.split(",") if x.strip()]),
    )
    check_loop(getattr(args, "loop", "auto"), tasks)
    check_budget(args.budget, got.budget_overrides)
    check_sac(got.sac)
    check_iql(got.iql)
    for method in methods:
        check_method(method, got.method_options)
    check_oracle(args.oracle, got.oracle_options)
    check_writable_dir(args.out, "--out")
    if getattr(args, "bundle", None):
        check_bundle(args.bundle, args.cache)
    else:
        check_writable_dir(args.cache_dir, "--cache-dir", write=args.cache != "replay")
    return got


def check_bundle(bundle: str, cache: str) -> None:
    """`--bundle` is replayed read-only: it needs `--cache replay` and must open cleanly (its
    manifest checked) here, once, rather than in every worker."""
    from oracle_cache.bundle_store import BundleStore
    from oracle_cache.errors import CacheInputError

    if cache != "replay":
        raise InputError(
            f"--bundle {bundle} is replayed read-only, so it needs --cache replay (CACHE=replay); "
            f"to record on top of it, import it first: python -m oracle_cache import {bundle}"
        )
    try:
        BundleStore(bundle)
    except CacheInputError as err:
        raise InputError(f"--bundle: {first_line(err)}") from None


def check_loop(loop: str, tasks: list[str]) -> None:
    """The reward-model track logs data with a scripted expert: continuous tasks only."""
    if loop != "reward-model":
        return
    from benchmark.loops.logged_episodes import check_task
    from envs import get_task

    for name in tasks:
        try:
            check_task(get_task(name))
        except ValueError as err:
            raise InputError(f"--loop reward-model: {first_line(err)}") from None


def check_budget(name: str, overrides: dict[str, Any]) -> None:
    from benchmark.config import Budget, get_budget

    check_options(Budget, overrides, "--budget-opt")
    get_budget(name).with_overrides(**overrides)


def check_sac(options: dict[str, Any]) -> None:
    """Types and ranges, then the agent itself on a 1-d toy problem (precision, sizes)."""
    from benchmark.rl.sac import SAC, SACConfig

    check_options(SACConfig, options, "--sac-opt")
    try:
        SAC(1, 1, SACConfig(**options), 0)
    except (TypeError, ValueError) as err:
        raise InputError(f"--sac-opt: {first_line(err)}") from None


def check_iql(options: dict[str, Any]) -> None:
    """As `check_sac`, for the offline agent (ALFRED): fail here, not in a worker."""
    from benchmark.rl.iql import IQL, IQLConfig

    check_options(IQLConfig, options, "--iql-opt")
    try:
        IQL(2, 2, IQLConfig(**options), 0)
    except (TypeError, ValueError) as err:
        raise InputError(f"--iql-opt: {first_line(err)}") from None


def check_method(method: str, options: dict[str, Any]) -> None:
    """The method exists and takes these options (each method of a sweep gets all of them)."""
    from benchmark.methods.registry import get_method

    try:
        cls = get_method(method)
    except (KeyError, ImportError, TypeError, ValueError) as err:
        raise InputError(first_line(err).strip("\"'")) from None
    check_options(cls.Config, options, f"--method-opt (method {method})")
    try:
        cls.Config.from_overrides(options)
    except (TypeError, ValueError) as err:
        raise InputError(f"--method-opt (method {method}): {first_line(err)}") from None


def load_run_config(path: str, cls: type) -> Any:
    """`run --config`: a JSON object of RunConfig fields; redacted secrets are left out so the
    provider reads its key from the environment instead of using the placeholder."""
    from benchmark.config import LOOPS

    doc = read_json_file(path, "--config")
    doc["oracle_options"] = drop_redacted(dict(doc.get("oracle_options") or {}))
    if doc.get("loop", "auto") not in LOOPS:
        raise InputError(
            f"--config {path!r}: loop {doc['loop']!r}; choose one of {', '.join(LOOPS)}"
        )
    try:
        return cls(**doc)
    except TypeError as err:
        raise InputError(f"--config {path!r}: {first_line(err)}") from None


def all_failed_line(outcomes: list[Any]) -> str | None:
    """After a sweep in which no run finished: one line pointing at the logs (the report would
    only say there is nothing to report). None when something finished."""
    if not outcomes or any(o.ok for o in outcomes):
        return None
    from benchmark.results import RunPaths

    c = outcomes[0].config
    log = RunPaths.for_run(c.out_dir, c.task, c.method, c.seed).log
    return (
        f"all {len(outcomes)} runs failed; the FAILED lines above give each error, "
        f"and each run's log says more (e.g. {log})"
    )
