"""`python -m oracle_cache {stats,export,import,merge,verify,audit}`: look after a rating cache.

Every command prints JSON (for scripts and CI) and exits non-zero when something needs a human:
corrupt entries found by verify, conflicts or corrupt lines met by import/merge.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

DEFAULT_CACHE = ".cache/oracle"


def _print(doc: Any) -> None:
    print(json.dumps(doc, indent=2, default=str))


def _cmd_stats(a: argparse.Namespace) -> int:
    from oracle_cache.summary import store_stats

    _print(store_stats(a.cache_dir))
    return 0


def _cmd_export(a: argparse.Namespace) -> int:
    from oracle_cache.bundle import export_bundle

    rep = export_bundle(a.cache_dir, a.out, frames=a.frames)
    _print({"bundle": a.out, **rep.as_dict()})
    if rep.corrupt:
        print(
            f"{len(rep.corrupt)} corrupt entries were left out; run `python -m oracle_cache "
            f"verify {a.cache_dir}` to quarantine them",
            file=sys.stderr,
        )
    return 0


def _cmd_import(a: argparse.Namespace) -> int:
    from oracle_cache.bundle import import_bundle

    rep = import_bundle(a.bundle, a.cache_dir)
    _print({"cache_dir": a.cache_dir, **rep.as_dict()})
    if rep.conflicts:
        print(
            f"{len(rep.conflicts)} keys answered differently in the bundle: the store's answers "
            "were kept (delete those keys from the store first to take the bundle's)",
            file=sys.stderr,
        )
    return 1 if rep.corrupt or rep.conflicts else 0


def _cmd_merge(a: argparse.Namespace) -> int:
    from oracle_cache.bundle import merge_bundles

    rep = merge_bundles(a.out, a.bundles)
    _print({"bundle": a.out, **rep.as_dict()})
    return 1 if rep.corrupt or rep.conflicts else 0


def _cmd_verify(a: argparse.Namespace) -> int:
    from oracle_cache.verify import verify

    rep = verify(a.path, fix=not a.no_quarantine)
    _print({"path": a.path, **rep.as_dict()})
    if not rep.ok:
        where = "kept for inspection" if rep.quarantined else "NOT moved (--no-quarantine)"
        print(
            f"{len(rep.corrupt)} corrupt entries and {len(rep.frames_corrupt)} corrupt frames, "
            f"{where}; they will be re-asked in record mode and are never served",
            file=sys.stderr,
        )
    return 0 if rep.ok else 1


def _cmd_audit(a: argparse.Namespace) -> int:
    from oracle_cache.audit import audit, load_records

    records = load_records(a.records, a.frames_dir)
    rep = audit(records, a.out, task=a.task, oracle=a.oracle, max_gallery=a.max_gallery)
    _print(
        {
            "confusion_png": rep.confusion_png,
            "trajectory_png": rep.trajectory_png,
            "html": rep.html,
            **rep.summary,
        }
    )
    return 0


def _cmd_teachers(a: argparse.Namespace) -> int:
    from oracle_cache.teachers import PROFILES, listing

    if a.json:
        _print(
            [
                {"name": p.name, "summary": p.summary, "options": p.options}
                for p in PROFILES.values()
            ]
        )
    else:
        print(listing())
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m oracle_cache", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("stats", help="what a cache directory holds")
    s.add_argument("cache_dir", nargs="?", default=DEFAULT_CACHE)
    s.set_defaults(fn=_cmd_stats)

    s = sub.add_parser("export", help="write the cache as a portable bundle (deterministic)")
    s.add_argument("cache_dir")
    s.add_argument("out", help="bundle directory to write")
    s.add_argument("--frames", action="store_true", help="include frame PNGs (keep_frames)")
    s.set_defaults(fn=_cmd_export)

    s = sub.add_parser("import", help="add a bundle's entries to a cache (idempotent)")
    s.add_argument("bundle", help="bundle directory or entries .jsonl file")
    s.add_argument("cache_dir", nargs="?", default=DEFAULT_CACHE)
    s.set_defaults(fn=_cmd_import)

    s = sub.add_parser("merge", help="union of bundles; the first answer per key wins")
    s.add_argument("out")
    s.add_argument("bundles", nargs="+")
    s.set_defaults(fn=_cmd_merge)

    s = sub.add_parser("verify", help="recompute every key; quarantine what does not match")
    s.add_argument("path", nargs="?", default=DEFAULT_CACHE, help="cache directory or bundle")
    s.add_argument("--no-quarantine", action="store_true", help="report only, move nothing")
    s.set_defaults(fn=_cmd_verify)

    s = sub.add_parser("audit", help="confusion matrix, ratings along trajectories, HTML gallery")
    s.add_argument("records", help="records JSONL written by oracle_cache.audit.save_records")
    s.add_argument("--out", required=True, help="directory for the PNGs, gallery.html, audit.json")
    s.add_argument("--frames-dir", default=None, help="where frame PNGs are (default: beside)")
    s.add_argument("--task", default="")
    s.add_argument("--oracle", default="")
    s.add_argument("--max-gallery", type=int, default=120)
    s.set_defaults(fn=_cmd_audit)

    s = sub.add_parser("teachers", help="the scripted teacher's profiles and their error models")
    s.add_argument("--json", action="store_true", help="print JSON instead of text")
    s.set_defaults(fn=_cmd_teachers)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
