"""What makes two runs the same experiment, so that a finished (or checkpointed) run directory is
reused only for the run that made it.

Sweeps skip finished runs and resume killed ones by their directory, which is named by task,
method and seed alone. Without this check a second sweep into the same `--out` with another
budget, SAC setting or teacher took the first sweep's results as its own and put them in its
table. The settings compared are the ones that change what a run computes; where results are
written (out_dir, cache_dir, bundle, cache_mode), the thread count and the metric mirrors are
not among them.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from benchmark.config import RunConfig, get_budget
from benchmark.inputs import InputError
from benchmark.rl.sac_history import BEFORE_FIELD

#: RunConfig fields compared as given (budget, sac and iql are compared resolved)
_PLAIN = ("task", "method", "seed", "oracle", "method_options", "oracle_options", "backend", "loop")


def _with_defaults(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    defaults = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
    return {**defaults, **given}


def _budget(name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    budget = get_budget(name).with_overrides(**overrides).to_dict()
    budget.pop("notes", None)
    return budget


def requested_settings(cfg: RunConfig) -> dict[str, Any]:
    """The settings a RunConfig asks for, resolved (budget overrides applied, SAC and IQL defaults
    filled in) so that spelling a default out does not count as a difference."""
    from benchmark.rl.iql import IQLConfig
    from benchmark.rl.sac import SACConfig

    out = {k: getattr(cfg, k) for k in _PLAIN}
    out["budget"] = _budget(cfg.budget, cfg.budget_overrides)
    out["sac"] = _with_defaults(SACConfig, cfg.sac)
    out["iql"] = _with_defaults(IQLConfig, cfg.iql)
    return out


def recorded_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The same settings from a run's config.json, read from its `run` section (the RunConfig
    that made it) and resolved the same way, so both sides are compared as this code reads
    them. (Its resolved `budget` section is not used: a test or plugin may hand a loop prebuilt
    parts whose budget is not the RunConfig's.)"""
    run = config["run"]
    defaults = RunConfig(task="", method="", seed=0)
    given = {k: run.get(k, getattr(defaults, k)) for k in (*_PLAIN, "budget")}
    given |= {k: run.get(k) or {} for k in ("budget_overrides", "sac", "iql")}
    if config.get("sac"):  # a run from before a SAC field existed ran what sac_history says
        missing = {k: v for k, v in BEFORE_FIELD.items() if k not in config["sac"]}
        given["sac"] = {**missing, **given["sac"]}
    return requested_settings(RunConfig(**given))


def differences(recorded: dict[str, Any], requested: dict[str, Any]) -> list[str]:
    """'key: recorded -> requested' for every setting that differs, budget, SAC and IQL field by
    field."""
    diffs = []
    for key, want in requested.items():
        have = recorded.get(key)
        if isinstance(want, dict) and isinstance(have, dict) and key in ("budget", "sac", "iql"):
            for sub in sorted(set(want) & set(have)):
                if have[sub] != want[sub]:
                    diffs.append(f"{key}.{sub}: {have[sub]!r} -> {want[sub]!r}")
        elif have != want:
            diffs.append(f"{key}: {have!r} -> {want!r}")
    return diffs


def run_dir_mismatch(config_path: Path, cfg: RunConfig) -> list[str]:
    """Why the run directory holding `config_path` is not `cfg`'s run (empty when it is, or when
    it has no config.json yet)."""
    if not config_path.exists():
        return []
    try:
        recorded = recorded_settings(json.loads(config_path.read_text()))
    except (ValueError, KeyError, TypeError) as err:
        return [f"its config.json cannot be read ({type(err).__name__}: {err})"]
    return differences(recorded, requested_settings(cfg))


class RunDirMismatchError(InputError):
    """A sweep asked for a run whose directory holds a different experiment (a user's mistake:
    the CLIs print it without a traceback)."""


def mismatch_message(root: Path, diffs: list[str]) -> str:
    return (
        f"{root} holds a run with other settings ({'; '.join(diffs[:6])}"
        + (f"; and {len(diffs) - 6} more" if len(diffs) > 6 else "")
        + "): its results would be taken for this one's. Give this sweep its own --out "
        "directory, or delete that run directory to rerun it."
    )


def check_run_dirs(configs: list[RunConfig]) -> None:
    """Refuse, before anything runs, a sweep whose finished or checkpointed run directories hold
    other settings than it asks for: one line naming the first and how many more."""
    from benchmark.results import RunPaths

    problems = []
    for cfg in configs:
        paths = RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed)
        if paths.done.exists() or paths.checkpoint.exists():
            diffs = run_dir_mismatch(paths.config, cfg)
            if diffs:
                problems.append(mismatch_message(paths.root, diffs))
    if problems:
        more = len(problems) - 1
        raise RunDirMismatchError(
            problems[0]
            + (f" ({more} more run directories of this sweep differ too.)" if more else "")
        )
