"""`python -m benchmark leaderboard {submit,validate,standings,baselines,protocols,schema}`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmark.inputs import InputError
from benchmark.leaderboard.protocol import DEFAULT_ROOT, UnknownProtocolError, get_protocol


def _protocol(args: argparse.Namespace):
    return get_protocol(args.protocol, args.suite, args.track, path=args.protocols)


def cmd_submit(args: argparse.Namespace) -> int:
    from benchmark.leaderboard.submit import Identity, SubmitError, submit

    proto = _protocol(args)
    authors = [a.strip() for a in args.authors.split(",") if a.strip()] if args.authors else None
    ident = Identity(args.name, args.version, authors, args.code_url, args.description)
    print(f"Submitting {args.method} on {proto.describe()}", file=sys.stderr)
    try:
        path = submit(
            args.method,
            proto,
            args.root,
            ident,
            jobs=args.jobs,
            work_dir=args.work_dir,
            resume=args.resume,
            replace=args.replace,
            protocols_file=args.protocols,
        )
    except SubmitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    board = proto.board_dir(args.root)
    print(
        f"Submission: {path}\nStandings:  {board / 'README.md'}\nWeb page:   {board / 'index.html'}"
    )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from benchmark.leaderboard.validate import validate_files

    report = validate_files(args.files, args.root, args.protocols)
    if not report.files:
        print(f"No submissions found under {args.root}.", file=sys.stderr)
        return 1
    print(report.text())
    ok = report.ok
    if args.rerun:
        ok = _rerun_files(args, [f for f in report.files if f.ok]) and ok
    return 0 if ok else 1


def _limits(args: argparse.Namespace):
    from benchmark.leaderboard.sandbox import Limits

    return Limits(
        memory_gb=args.max_memory_gb or None,
        cpu_s=args.max_cpu_s or None,
        open_files=args.max_open_files or None,
        file_size_gb=args.max_file_gb or None,
        processes=args.max_procs or None,
        wall_s=args.timeout_s or None,
    )


def _rerun_files(args: argparse.Namespace, files: list) -> bool:
    """Re-run each (already valid) file in the sandbox; record the ones that reproduce."""
    from benchmark.leaderboard.rerun import rerun_check
    from benchmark.leaderboard.sandbox import SandboxError
    from benchmark.leaderboard.verified import record_verified

    ok = True
    for f in files:
        print(f"re-running {f.path} in the sandbox ...", file=sys.stderr)
        work = args.work_dir / f.path.stem if args.work_dir else None
        try:
            problems, notes = rerun_check(
                f.path,
                args.jobs,
                work,
                args.protocols,
                _limits(args),
                args.isolation,
                tuple(args.code_path),
            )
        except (SandboxError, OSError) as err:
            problems, notes = [f"cannot run the sandbox: {err}"], []
        for n in notes:
            print(f"  note: {n}")
        print(("REPRODUCED " if not problems else "NOT REPRODUCED ") + str(f.path))
        for p in problems:
            print(f"  - {p}")
        ok = ok and not problems
        if not problems and not args.no_record:
            isolation = next((n for n in notes if n.startswith("isolation: ")), "isolation: ?")
            where = record_verified(f.path, f.submission, isolation.split(": ", 1)[1])
            print(f"  recorded in {where}; regenerate the board with `leaderboard standings`")
    return ok


def cmd_standings(args: argparse.Namespace) -> int:
    from benchmark.leaderboard.protocol import load_protocols
    from benchmark.leaderboard.standings import write_standings

    if args.protocol or args.suite:
        protos = [_protocol(args)]
    else:  # every board that has submissions
        protos = [
            p
            for p in load_protocols(args.protocols).values()
            if (p.board_dir(args.root) / "submissions").is_dir()
        ]
    rejected = 0
    for proto in protos:
        std = write_standings(proto, args.root, args.protocols)
        rejected += len(std.rejected)
        print(f"{proto.id}: {len(std.rows)} entr(ies), {len(std.rejected)} rejected -> {std.board}")
    return 1 if rejected else 0


def cmd_baselines(args: argparse.Namespace) -> int:
    from benchmark.leaderboard.baselines import load_baselines
    from benchmark.leaderboard.submit import SubmitError, submit_baselines

    proto = _protocol(args)
    listed = list(load_baselines())
    methods = [m.strip() for m in args.methods.split(",")] if args.methods else listed
    print(f"Baselines {methods} on {proto.describe()}", file=sys.stderr)
    try:
        paths = submit_baselines(
            proto, args.root, methods, args.jobs, args.work_dir, args.resume, args.protocols
        )
    except SubmitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("\n".join(str(p) for p in paths))
    return 0


def cmd_protocols(args: argparse.Namespace) -> int:
    from benchmark.leaderboard.protocol import load_protocols

    for p in load_protocols(args.protocols).values():
        print(("  " if p.official else "* ") + p.describe() + f"  -> {p.board}")
    print("(* not an official board)")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from benchmark.leaderboard.schema import json_schema, write_json_schema

    if args.write:
        print(write_json_schema(args.write))
    else:
        print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return 0


def _common(p: argparse.ArgumentParser, protocol: bool = True) -> None:
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="leaderboards directory")
    p.add_argument(
        "--protocols", type=Path, default=None, help="protocols JSON (default: official)"
    )
    if protocol:
        p.add_argument("--protocol", default=None, help="protocol id (default: SUITE x TRACK)")
        p.add_argument("--suite", default=None, help="metaworld | alfred")
        p.add_argument("--track", default=None, help="scripted | vlm")


def _rerun_options(v: argparse.ArgumentParser) -> None:
    """Flags of `validate --rerun`: the sandbox's inputs and limits (0 = no limit)."""
    from benchmark.leaderboard.sandbox import Limits

    d = Limits()
    g = v.add_argument_group("re-run sandbox (docs/leaderboard.md)")
    g.add_argument("--no-record", action="store_true", help="do not write verified.json")
    g.add_argument("--work-dir", type=Path, default=None, help="keep the re-run's scratch here")
    g.add_argument(
        "--code-path",
        type=Path,
        action="append",
        default=[],
        help="a directory with the method's code (copied read-only onto PYTHONPATH; repeatable)",
    )
    g.add_argument(
        "--isolation",
        choices=["auto", "namespace", "guard"],
        default="auto",
        help="auto: namespaces where the machine allows them, else the socket guard",
    )
    g.add_argument("--max-memory-gb", type=float, default=d.memory_gb, help="address space")
    g.add_argument("--max-cpu-s", type=int, default=0, help="CPU seconds per process")
    g.add_argument("--max-open-files", type=int, default=d.open_files)
    g.add_argument("--max-file-gb", type=float, default=d.file_size_gb, help="largest file")
    g.add_argument("--max-procs", type=int, default=d.processes, help="processes (not for root)")
    g.add_argument("--timeout-s", type=float, default=0, help="wall clock for the whole re-run")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmark leaderboard", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("submit", help="run the protocol for a method and add it to the board")
    s.add_argument("--method", required=True, help="package.module:Class or a registered name")
    _common(s)
    s.add_argument("--name", default=None, help="entry name (default: the class's `name`)")
    s.add_argument("--version", default=None)
    s.add_argument("--authors", default=None, help="comma-separated")
    s.add_argument("--code-url", default=None, help="where the method's code can be read")
    s.add_argument("--description", default=None)
    s.add_argument("--jobs", type=int, default=None, help="parallel runs (default: cores)")
    s.add_argument("--work-dir", type=Path, default=None, help="scratch results + cache")
    s.add_argument("--resume", action="store_true", help="keep finished runs in --work-dir")
    s.add_argument("--replace", action="store_true", help="overwrite an entry of the same name")
    s.set_defaults(fn=cmd_submit, suite_default="metaworld", track_default="scripted")

    v = sub.add_parser("validate", help="check submissions (default: all under --root)")
    v.add_argument("files", nargs="*", type=Path)
    _common(v, protocol=False)
    v.add_argument(
        "--rerun", action="store_true", help="re-run in the sandbox (vlm: from its bundle)"
    )
    v.add_argument("--jobs", type=int, default=None)
    _rerun_options(v)
    v.set_defaults(fn=cmd_validate)

    st = sub.add_parser("standings", help="regenerate README.md, plots and index.html")
    _common(st)
    st.set_defaults(fn=cmd_standings)

    b = sub.add_parser("baselines", help="the suite's own methods as a board's first entries")
    _common(b)
    b.add_argument("--methods", default=None, help="comma-separated (default: all baselines)")
    b.add_argument("--jobs", type=int, default=None)
    b.add_argument("--work-dir", type=Path, default=None)
    b.add_argument("--resume", action="store_true")
    b.set_defaults(fn=cmd_baselines, suite_default="metaworld", track_default="scripted")

    pr = sub.add_parser("protocols", help="list the protocols")
    _common(pr, protocol=False)
    pr.set_defaults(fn=cmd_protocols)

    sc = sub.add_parser("schema", help="print (or --write) the submission JSON Schema")
    sc.add_argument("--write", type=Path, default=None)
    sc.set_defaults(fn=cmd_schema)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "protocol", None) is None and hasattr(args, "suite"):
        args.suite = args.suite or getattr(args, "suite_default", None)
        args.track = args.track or getattr(args, "track_default", None)
    try:
        return int(args.fn(args) or 0)
    except UnknownProtocolError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except InputError as err:  # e.g. a --work-dir holding runs with other settings
        print(f"error: {err}", file=sys.stderr)
        return 2
