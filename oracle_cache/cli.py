"""`python -m oracle_cache {stats,export,import,merge,verify,audit}`: look after a rating cache.

Every command prints JSON (for scripts and CI) and exits non-zero when something needs a human:
corrupt entries found by verify, conflicts or corrupt lines met by import/merge (1); a path or
file it cannot use at all, said in one `error:` line (2).
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


def _warn_unsigned(n: int, path: str) -> None:
    """Legacy entries (no digest) are served, but an edit to one would go unseen."""
    if n:
        print(
            f"{n} entries carry no digest (recorded before digests existed), so an edit to them "
            f"cannot be detected; sign them with `python -m oracle_cache verify --rehash {path}`",
            file=sys.stderr,
        )


def _cmd_stats(a: argparse.Namespace) -> int:
    from oracle_cache.summary import store_stats

    _print(store_stats(a.cache_dir))
    return 0


def _cmd_export(a: argparse.Namespace) -> int:
    from oracle_cache.bundle import export_bundle

    rep = export_bundle(a.cache_dir, a.out, frames=a.frames)
    _print({"bundle": a.out, **rep.as_dict()})
    _warn_unsigned(rep.unsigned, a.out)
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
    _warn_unsigned(rep.unsigned, a.cache_dir)
    if rep.corrupt:
        print(
            f"{len(rep.corrupt)} bundle lines failed their checks and were not imported (first: "
            f"{rep.corrupt[0][1]}); run `python -m oracle_cache verify {a.bundle}` to quarantine",
            file=sys.stderr,
        )
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

    if a.rehash and a.no_quarantine:
        print("error: --rehash also quarantines; drop --no-quarantine", file=sys.stderr)
        return 2
    rep = verify(a.path, fix=not a.no_quarantine, rehash=a.rehash)
    _print({"path": a.path, **rep.as_dict()})
    if rep.corrupt or rep.frames_corrupt:
        where = "kept for inspection" if rep.quarantined else "NOT moved (--no-quarantine)"
        print(
            f"{len(rep.corrupt)} corrupt entries and {len(rep.frames_corrupt)} corrupt frames, "
            f"{where}; they will be re-asked in record mode and are never served",
            file=sys.stderr,
        )
    if rep.manifest_problems:
        print(
            f"the bundle does not match its manifest: {'; '.join(rep.manifest_problems)}. If "
            f"the change is wanted, accept it with `python -m oracle_cache verify --rehash "
            f"{a.path}` (the old manifest is kept in quarantine/)",
            file=sys.stderr,
        )
    if not a.rehash:
        _warn_unsigned(rep.unsigned, a.path)
    if rep.manifest in ("legacy", "none") and not a.rehash and not a.path.endswith(".jsonl"):
        print(
            f"the bundle has {'a format-1' if rep.manifest == 'legacy' else 'no'} manifest "
            f"(no content digests); write one with `python -m oracle_cache verify --rehash "
            f"{a.path}`",
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

    s = sub.add_parser(
        "verify", help="check every key, digest, answer and frame; quarantine what fails"
    )
    s.add_argument("path", nargs="?", default=DEFAULT_CACHE, help="cache directory or bundle")
    s.add_argument("--no-quarantine", action="store_true", help="report only, move nothing")
    s.add_argument(
        "--rehash",
        action="store_true",
        help="sign entries that have no digest (legacy) and rewrite a bundle's manifest",
    )
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
    from oracle_cache.errors import CacheInputError

    args = parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except (FileNotFoundError, CacheInputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
