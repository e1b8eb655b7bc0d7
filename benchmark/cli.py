"""Command line: `python -m benchmark {sweep,report,run,tasks,methods,audit,leaderboard}`."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from benchmark.config import BUDGETS, LOOPS
from benchmark.inputs import InputError, positive_int


def cmd_sweep(args: argparse.Namespace) -> int:
    from benchmark.analysis.report import make_report
    from benchmark.cli_checks import all_failed_line, check_sweep
    from benchmark.config import RunConfig
    from benchmark.sweep.local import plan, run_local, write_sweep_summary

    got = check_sweep(args)  # every input checked here, before any worker starts
    base = RunConfig(
        task="",
        method="",
        seed=0,
        budget=args.budget,
        oracle=args.oracle,
        cache_mode=args.cache,
        cache_dir=args.cache_dir,
        bundle=args.bundle,
        out_dir=args.out,
        method_options=got.method_options,
        oracle_options=got.oracle_options,
        budget_overrides=got.budget_overrides,
        sac=got.sac,
        iql=got.iql,
        backend=args.backend,
        log_sinks=got.log_sinks,
        loop=args.loop,
    )
    configs = plan(got.tasks, got.methods, got.seeds, base)
    t0 = time.perf_counter()
    if args.executor == "ray":
        from benchmark.sweep.ray_executor import run_ray

        outcomes = run_ray(configs, address=args.ray_address)
    else:
        outcomes = run_local(configs, jobs=args.jobs, threads=args.threads)
    wall = time.perf_counter() - t0
    # secrets in it are cut out when the record is written (write_json's redact_secrets)
    command = "python -m benchmark " + shlex.join(getattr(args, "argv", []))
    summary = write_sweep_summary(args.out, configs, outcomes, wall, command)
    failed = [o for o in outcomes if not o.ok]
    if line := all_failed_line(outcomes):
        print(f"error: {line}", file=sys.stderr)
        return 1
    try:
        out = make_report(summary.parent)  # this sweep's runs only
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print()
    print(out["table_md"].read_text())
    if args.loop == "reward-model":  # the four metrics behind the score ("success" above)
        from benchmark.analysis.reward_table import write_table

        if (reward_md := write_table(summary.parent)) is not None:
            print(reward_md.read_text())
            out["reward_table"] = reward_md
    print(f"Sweep: {len(configs)} runs ({len(failed)} failed) in {wall:.0f} s. Wrote:")
    print(f"  per-run metrics : {Path(args.out)}/<task>/<method>/seed<k>/metrics.csv")
    for name, path in out.items():
        print(f"  {name:<16}: {path}")
    print(f"  {'sweep':<16}: {summary}")
    return 1 if failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    from benchmark.analysis.report import main
    from benchmark.inputs import check_existing_dir

    check_existing_dir(args.results_dir, "report:")
    try:
        return main([args.results_dir] + (["--baseline", args.baseline] if args.baseline else []))
    except FileNotFoundError as err:  # a directory with no finished run in it
        print(f"error: {err}", file=sys.stderr)
        return 1


def cmd_run(args: argparse.Namespace) -> int:
    from benchmark.cli_checks import load_run_config
    from benchmark.config import RunConfig
    from benchmark.loops.dispatch import run_any
    from benchmark.sweep.local import run_log

    cfg = load_run_config(args.config, RunConfig)
    with run_log(cfg):
        root = run_any(cfg)
    print(root)
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from envs import list_suites, list_tasks
    from envs.metaworld.layouts import layout_for

    for name, spec in list_tasks().items():
        layout = ""
        if name.startswith("metaworld/"):
            fixed = layout_for(name.split("/", 1)[1]) is not None
            layout = "  layout=reference" if fixed else "  layout=random"
        print(f"{name:<40} levels={spec.levels}{layout}  {spec.instruction!r}")
    for suite, members in list_suites().items():
        print(f"suite {suite}: {', '.join(members)}")
    print(
        "metaworld/drawer-open, sweep-into and soccer are the reference code's fixed layouts (the "
        "paper's); metaworld/<task>@random is MetaWorld v3's randomised layout, for these and any "
        "other v3 env (metaworld/<v3-env> alone is randomised too). docs/deviations.md"
    )
    print(
        "Rendering as the reference code did (docs/deviations.md rows 4-6): append, in this order "
        "after any @random, @camera=reference (its fixed camera and top-bottom flip), @effects=on "
        "(MetaWorld's shadows, reflections, multisampling), @reward_frame_size=224."
    )
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from benchmark.methods.registry import list_methods

    for name, cls in list_methods().items():
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        print(f"{name:<14} {doc}")
    return 0


DELEGATED = {"audit": "benchmark.analysis.audit", "leaderboard": "benchmark.leaderboard.cli"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in DELEGATED:
        import importlib

        return int(importlib.import_module(DELEGATED[argv[0]]).main(argv[1:]) or 0)
    ap = argparse.ArgumentParser(prog="python -m benchmark", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    sw = sub.add_parser("sweep", help="run tasks x methods x seeds, then write the report")
    sw.add_argument(
        "--tasks", default="metaworld/drawer-open", help="tasks or suites, comma-separated"
    )
    sw.add_argument("--methods", default="erl-vlm", help="method names or pkg.module:Class")
    sw.add_argument("--seeds", default="0,1", help="'0,1,2' or '0-4'")
    sw.add_argument("--budget", default="smoke", choices=sorted(BUDGETS))
    sw.add_argument("--oracle", default="scripted", help="scripted | gemini | openai")
    sw.add_argument("--cache", default="record", help="record | replay | live")
    sw.add_argument("--cache-dir", default=".cache/oracle")
    sw.add_argument(
        "--bundle", default=None, help="replay straight from this bundle (with --cache replay)"
    )
    sw.add_argument("--out", default="results")
    sw.add_argument("--executor", default="local", choices=["local", "ray"])
    sw.add_argument(
        "--ray-address", default=None, help="ray.init address (default: $RAY_ADDRESS or local)"
    )
    sw.add_argument(
        "--jobs", type=positive_int, default=None, help="parallel runs (default: cores)"
    )
    sw.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="torch threads per run (default: cores // jobs); pin it to replay bit for bit",
    )
    sw.add_argument("--backend", default=None, help="task backend, e.g. thor for ALFRED")
    sw.add_argument(
        "--log",
        default="tensorboard",
        help="metric mirrors besides metrics.csv: tensorboard, wandb (comma-separated)",
    )
    sw.add_argument(
        "--loop",
        default="auto",
        choices=list(LOOPS),
        help="auto: online SAC (offline IQL for ALFRED); reward-model: train and score the "
        "reward on logged data, no RL (docs/reward-track.md)",
    )
    sw.add_argument("--method-opt", action="append", default=[], metavar="K=V")
    sw.add_argument("--oracle-opt", action="append", default=[], metavar="K=V")
    sw.add_argument("--budget-opt", action="append", default=[], metavar="K=V")
    sw.add_argument(
        "--sac-opt",
        action="append",
        default=[],
        metavar="K=V",
        help="SACConfig fields, e.g. precision=bf16 (MetaWorld and robot tasks)",
    )
    sw.add_argument(
        "--iql-opt",
        action="append",
        default=[],
        metavar="K=V",
        help="IQLConfig fields, e.g. expectile=0.8 (offline tasks: ALFRED)",
    )
    sw.set_defaults(fn=cmd_sweep)

    rp = sub.add_parser("report", help="tables, plots and report.html for a results directory")
    rp.add_argument("results_dir")
    rp.add_argument("--baseline", default=None)
    rp.set_defaults(fn=cmd_report)

    rn = sub.add_parser("run", help="one run from a RunConfig JSON file (what sweeps execute)")
    rn.add_argument("--config", required=True)
    rn.set_defaults(fn=cmd_run)

    sub.add_parser("tasks", help="list tasks and suites").set_defaults(fn=cmd_tasks)
    sub.add_parser("methods", help="list reward methods").set_defaults(fn=cmd_methods)

    # these have CLIs of their own; main() hands them their arguments untouched
    sub.add_parser("audit", help="rate expert and random trajectories: confusion matrix, gallery")
    sub.add_parser("leaderboard", help="submit, validate and publish leaderboard entries")

    args = ap.parse_args(argv)
    args.argv = argv  # the sweep records the command that made it
    try:
        return int(args.fn(args) or 0)
    except InputError as err:  # a user's mistake: one line that says what to do, no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
