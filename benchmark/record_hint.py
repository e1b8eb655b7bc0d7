"""The command that would record a run's oracle answers, quoted by a replay miss.

A miss in CI is only useful if it says what to run to fill the gap: the same task, method,
seed, budget and options with `--cache record`, then (when the run replayed a bundle) an
export that adds the new answers to that bundle. Secret options (API keys) are left out; the
provider reads them from the environment.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from benchmark.config import RunConfig
from benchmark.inputs import drop_redacted, redact_secrets

RECORD_CACHE = ".cache/oracle"


def _opt(flag: str, options: dict[str, Any]) -> list[str]:
    return [
        f"{flag} {shlex.quote(f'{k}={v if isinstance(v, str) else json.dumps(v)}')}"
        for k, v in options.items()
    ]


def record_command(cfg: RunConfig) -> str:
    """`python -m benchmark sweep … --cache record` for this run (+ the export to its bundle)."""
    cache = RECORD_CACHE if cfg.bundle else cfg.cache_dir
    parts = [
        "python -m benchmark sweep",
        f"--tasks {shlex.quote(cfg.task)} --methods {shlex.quote(cfg.method)}",
        f"--seeds {cfg.seed} --budget {cfg.budget} --oracle {cfg.oracle}",
        f"--cache record --cache-dir {shlex.quote(cache)}",
        *_opt("--method-opt", cfg.method_options),
        *_opt("--oracle-opt", drop_redacted(redact_secrets(dict(cfg.oracle_options)))),
        *_opt("--budget-opt", cfg.budget_overrides),
        *_opt("--sac-opt", cfg.sac),
        *_opt("--iql-opt", cfg.iql),
        *([f"--backend {cfg.backend}"] if cfg.backend else []),
    ]
    sweep = f"`{' '.join(parts)}`"
    if not cfg.bundle:
        return sweep
    return f"{sweep}, then `python -m oracle_cache export {cache} {shlex.quote(cfg.bundle)}`"
