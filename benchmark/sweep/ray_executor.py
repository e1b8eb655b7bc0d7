"""Run a sweep on a Ray cluster: one Ray task per run, results gathered in the same layout.

Point it at a cluster with `--ray-address ray://head:10001` (or `RAY_ADDRESS`); without one it
starts a local Ray instance. Workers write into `--out` and read/write the rating cache in
`--cache-dir`, so both must be on a filesystem every node sees (NFS, a bind-mounted volume), or
the cache can travel as a bundle: export it with `python -m oracle_cache export`, import it on
the workers, and merge the bundles back afterwards.
"""

from __future__ import annotations

import os
from dataclasses import replace

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmark.config import RunConfig
from benchmark.results import RunPaths
from benchmark.run_identity import check_run_dirs
from benchmark.sweep.local import RunOutcome, _run_one

console = Console(stderr=True)


def run_ray(
    configs: list[RunConfig], address: str | None = None, num_cpus_per_run: int = 1
) -> list[RunOutcome]:
    try:
        import ray
    except ImportError as err:
        raise SystemExit(
            "The Ray executor needs the `ray` extra: `.venv/bin/pip install -e '.[ray]'`"
        ) from err

    address = address or os.environ.get("RAY_ADDRESS")
    if not ray.is_initialized():
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            ignore_reinit_error=True,
            runtime_env={"env_vars": {"MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}},
        )

    check_run_dirs(configs)
    outcomes: list[RunOutcome] = []
    todo = []
    for cfg in configs:
        if RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed).done.exists():
            outcomes.append(RunOutcome(cfg, ok=True, skipped=True))
        else:
            # absolute paths: Ray workers do not share the driver's working directory
            todo.append(
                replace(
                    cfg,
                    threads=num_cpus_per_run,
                    out_dir=os.path.abspath(cfg.out_dir),
                    cache_dir=os.path.abspath(cfg.cache_dir),
                    bundle=os.path.abspath(cfg.bundle) if cfg.bundle else None,
                )
            )
    if not todo:
        console.print(f"[green]All {len(configs)} runs are already finished; nothing to do.[/]")
        return outcomes

    remote = ray.remote(num_cpus=num_cpus_per_run, max_retries=0)(_run_one)
    refs = {remote.remote(cfg, None): cfg for cfg in todo}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        overall = bar.add_task(f"ray sweep @ {address or 'local'}", total=len(refs))
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    outcome = ray.get(ref)
                except Exception as err:  # the worker died
                    outcome = RunOutcome(refs[ref], ok=False, error=f"ray task failed: {err}")
                outcomes.append(outcome)
                bar.update(overall, advance=1)
    return outcomes
