"""Sweeps: the cross product tasks x methods x seeds, run in parallel processes.

Each run is a separate process (spawned, so MuJoCo/EGL state is never forked) with its share
of the cores as torch threads. Finished runs (done.json) are skipped, killed runs resume from
their checkpoint, and a failed run is reported with its log without stopping the others.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import multiprocessing as mp
import os
import queue
import signal
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from benchmark.config import RunConfig, get_budget
from benchmark.results import RunPaths, write_json
from benchmark.run_identity import check_run_dirs

console = Console(stderr=True)


@dataclass
class RunOutcome:
    config: RunConfig
    ok: bool
    error: str = ""
    skipped: bool = False


def plan(
    tasks: list[str], methods: list[str], seeds: list[int], base: RunConfig
) -> list[RunConfig]:
    """One config per (task, method, seed); each gets its own copies of the option dicts."""
    return [
        replace(copy.deepcopy(base), task=t, method=m, seed=s)
        for t in tasks
        for m in methods
        for s in seeds
    ]


_PROGRESS_QUEUE = None  # set in each worker process by _init_worker


@contextmanager
def run_log(cfg: RunConfig) -> Iterator[None]:
    """Send log records (a resume, warnings, a crash's traceback) to the run's run.log while the
    block runs: every way of starting a run (a sweep's worker, `benchmark run --config`) keeps
    the same record beside the results."""
    paths = RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed)
    paths.root.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(paths.log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    except BaseException:
        logging.getLogger(__name__).error("run failed:\n%s", traceback.format_exc())
        raise
    finally:
        root.removeHandler(handler)
        handler.close()


def _run_one(cfg: RunConfig, progress_q=None) -> RunOutcome:
    """Worker entry point: run one config with logging to its run.log."""
    progress_q = progress_q if progress_q is not None else _PROGRESS_QUEUE
    run_id = f"{cfg.task} {cfg.method} s{cfg.seed}"
    try:
        from benchmark.loops.dispatch import run_any

        def report(**kw) -> None:
            if progress_q is not None:
                progress_q.put((run_id, kw))

        with run_log(cfg):
            run_any(cfg, progress=report)
        return RunOutcome(cfg, ok=True)
    except BaseException as err:  # noqa: BLE001 - a failed run must not take the sweep down
        return RunOutcome(cfg, ok=False, error=f"{type(err).__name__}: {err}")


def _total_steps(cfg: RunConfig) -> int:
    """For the progress bar only; a bad budget is reported by the run itself, with its log."""
    try:
        return get_budget(cfg.budget).with_overrides(**cfg.budget_overrides).total_steps
    except ValueError:
        return 1


def _die_with_parent() -> None:
    """Linux: a worker gets SIGTERM when the sweep process dies, so a killed sweep never leaves
    orphans running (and writing into results) behind it."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: Ctrl-C still reaches the whole process group


def _init_worker(threads: int, progress_q=None) -> None:
    global _PROGRESS_QUEUE
    _PROGRESS_QUEUE = progress_q
    _die_with_parent()
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)


def run_local(
    configs: list[RunConfig], jobs: int | None = None, threads: int | None = None
) -> list[RunOutcome]:
    """Run configs in up to `jobs` processes (default: one per core) with one progress display.

    Each run gets `threads` torch threads (default: its share of the cores). Float results can
    depend on the thread count, so protocols that must reproduce exactly fix it.
    """
    check_run_dirs(configs)
    todo, outcomes = [], []
    for cfg in configs:
        if RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed).done.exists():
            outcomes.append(RunOutcome(cfg, ok=True, skipped=True))
        else:
            todo.append(cfg)
    if not todo:
        console.print(f"[green]All {len(configs)} runs are already finished; nothing to do.[/]")
        return outcomes
    if outcomes:
        console.print(f"{len(outcomes)} finished run(s) skipped; {len(todo)} to run.")
    cores = os.cpu_count() or 1
    jobs = max(1, min(jobs or cores, len(todo)))
    threads = threads or max(1, cores // jobs)
    todo = [replace(c, threads=threads) for c in todo]
    total_steps = {id(c): _total_steps(c) for c in todo}

    ctx = mp.get_context("spawn")
    progress_q = ctx.Queue()  # handed to workers at start-up: no manager process to outlive us
    with (
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar,
        ProcessPoolExecutor(
            jobs, mp_context=ctx, initializer=_init_worker, initargs=(threads, progress_q)
        ) as pool,
    ):
        overall = bar.add_task(
            f"sweep ({jobs} processes x {threads} threads)", total=len(todo), info=""
        )
        rows = {}
        futures = {}
        for cfg in todo:
            rid = f"{cfg.task} {cfg.method} s{cfg.seed}"
            rows[rid] = bar.add_task(f"  {rid}", total=total_steps[id(cfg)], info="queued")
            futures[pool.submit(_run_one, cfg)] = cfg
        pending = set(futures)
        failed = 0
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            while True:
                try:
                    rid, kw = progress_q.get_nowait()
                except queue.Empty:
                    break
                bar.update(
                    rows[rid],
                    completed=kw.get("step", 0),
                    info=f"success {kw.get('success', 0):.2f}  queries {kw.get('queries', 0)}",
                )
            for fut in done:
                cfg = futures[fut]
                rid = f"{cfg.task} {cfg.method} s{cfg.seed}"
                try:
                    outcome = fut.result()
                except Exception as err:  # the worker process itself died
                    outcome = RunOutcome(cfg, ok=False, error=f"worker died: {err}")
                outcomes.append(outcome)
                failed += not outcome.ok
                bar.update(
                    rows[rid],
                    completed=total_steps[id(cfg)],
                    info="[green]done[/]" if outcome.ok else "[red]FAILED[/]",
                )
                bar.update(overall, advance=1, info=f"failed {failed}" if failed else "")
    progress_q.close()
    for o in outcomes:
        if not o.ok:
            log = RunPaths.for_run(
                o.config.out_dir, o.config.task, o.config.method, o.config.seed
            ).log
            console.print(
                f"[red]FAILED[/] {o.config.task} {o.config.method} seed {o.config.seed}: "
                f"{o.error}\n  log: {log}"
            )
    return outcomes


def sweep_id(configs: list[RunConfig]) -> str:
    """A name for a sweep that is the same whenever the same plan runs again (a resumed or
    repeated `make bench` lands in the same directory), e.g. `metaworld-smoke-3f9a1c2e`."""
    suites = sorted({c.task.split("/")[0].split("@")[0] for c in configs}) or ["empty"]
    budgets = sorted({c.budget for c in configs}) or ["none"]
    plan_text = json.dumps(
        sorted(
            [
                c.task,
                c.method,
                c.seed,
                c.budget,
                c.oracle,
                c.budget_overrides,
                c.method_options,
                c.oracle_options,
                c.sac,
                c.iql,
                c.backend,
            ]
            for c in configs
        ),
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(plan_text.encode()).hexdigest()[:8]
    return f"{'+'.join(suites)}-{'+'.join(budgets)}-{digest}"


def sweep_dir(out_dir: str | Path, configs: list[RunConfig]) -> Path:
    """Where a sweep's record and report go: `<out>/sweeps/<id>/`, one directory per sweep, so
    a second sweep into the same results directory never mixes into the first one's table."""
    return Path(out_dir) / "sweeps" / sweep_id(configs)


def write_sweep_summary(
    out_dir: str,
    configs: list[RunConfig],
    outcomes: list[RunOutcome],
    wall_s: float,
    command: str = "",
) -> Path:
    """The sweep's record, `<sweep dir>/sweep.json`: its runs (the report reads exactly these),
    their outcomes, the command that made it and its wall time."""
    path = sweep_dir(out_dir, configs) / "sweep.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(
        path,
        {
            "id": path.parent.name,
            "command": command,
            "runs": [
                {**asdict(o.config), "ok": o.ok, "skipped": o.skipped, "error": o.error}
                for o in outcomes
            ],
            "n_runs": len(configs),
            "wall_s": round(wall_s, 2),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        },
    )
    return path
