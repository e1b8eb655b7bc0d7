"""Portable bundles: the reviewable, committable form of a rating cache.

A bundle is a directory holding `entries.jsonl` (one canonical-JSON entry per line, sorted by
key, so a diff shows exactly which ratings changed), `bundle.json` (its manifest: format and
content digests, see `oracle_cache.manifest`) and, optionally, `frames/<digest>.png` (lossless
PNGs named by frame digest, for audits). A bare `.jsonl` file is a bundle without frames or
manifest. Export, import and merge are idempotent: doing one twice changes nothing. Every
entry is checked (its document must hash to its key, its digest must match its answer) on the
way in and out, and a bundle that does not match its manifest is refused as a whole;
`oracle_cache.verify` reports and quarantines what fails.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import diskcache

from oracle_cache.entry import CorruptEntry, check_entry, encode_entry, is_signed
from oracle_cache.errors import BundleError, NotACache
from oracle_cache.manifest import FORMAT as BUNDLE_FORMAT  # noqa: F401  (re-exported)
from oracle_cache.manifest import (
    LEGACY_FORMAT,
    MANIFEST,
    build_manifest,
    frame_files,
    manifest_problems,
    read_manifest,
)
from oracle_cache.store import (
    FRAMES,
    confined,
    existing_store,
    frame_name,
    frame_path,
    iter_keys,
    open_store,
    quarantine,
    read_value,
)

ENTRIES = "entries.jsonl"
BUNDLE_QUARANTINE = "quarantine.jsonl"


@dataclass
class Report:
    """What an operation did; conflicts and corrupt entries are (key or line, reason) pairs."""

    added: int = 0  # entries new to the destination
    unchanged: int = 0  # entries the destination already held with the same answer
    entries: int = 0  # entries in the destination (bundle or cache) afterwards
    frames: int = 0  # frame PNGs copied
    unsigned: int = 0  # entries read without a digest (legacy: `verify --rehash` signs them)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "unchanged": self.unchanged,
            "entries": self.entries,
            "frames": self.frames,
            "unsigned": self.unsigned,
            "conflicts": [list(c) for c in self.conflicts],
            "corrupt": [list(c) for c in self.corrupt],
        }


# --- paths ------------------------------------------------------------------------------------
def entries_path(bundle: str | Path) -> Path:
    p = Path(bundle)
    return p if p.suffix == ".jsonl" else p / ENTRIES


def frames_dir_of(bundle: str | Path) -> Path | None:
    p = Path(bundle)
    return None if p.suffix == ".jsonl" else p / FRAMES


def is_bundle(path: str | Path) -> bool:
    return entries_path(path).is_file()


def is_cache_dir(path: str | Path) -> bool:
    return (Path(path) / "cache.db").is_file()


# --- reading and writing entries --------------------------------------------------------------
def read_text(bundle: str | Path) -> str:
    """The entries file as text; BundleError (naming the line) if it is not UTF-8."""
    path = entries_path(bundle)
    if not path.is_file():
        raise FileNotFoundError(
            f"no bundle at {bundle}: expected {path} (a directory with {ENTRIES}, or a .jsonl "
            "file); create one with `python -m oracle_cache export CACHE_DIR BUNDLE`"
        )
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise BundleError(
            f"{path} is not UTF-8 text (byte {e.start}, line {line}): a bundle holds JSON lines "
            "as export writes them; re-export it, or remove that line"
        ) from None


def read_lines(bundle: str | Path) -> list[tuple[int, str]]:
    """(line number, line) for every non-blank line; lines end at "\n" only, as written."""
    return [(n, ln) for n, ln in enumerate(read_text(bundle).split("\n"), 1) if ln.strip()]


def parse_line(n: int, line: str) -> tuple[str, dict[str, Any]]:
    """(key, checked entry) or CorruptEntry naming the line."""
    try:
        raw = json.loads(line)
    except ValueError:
        raise CorruptEntry(f"line {n} is not JSON") from None
    key = raw.get("key") if isinstance(raw, dict) else None
    if not isinstance(key, str):
        raise CorruptEntry(f"line {n} has no key")
    return key, check_entry(key, raw)


def manifest_status(bundle: str | Path, n_lines: int) -> tuple[str, list[str]]:
    """("ok" | "legacy" | "none", problems): how the bundle stands against its manifest."""
    path = entries_path(bundle)
    if Path(bundle).suffix == ".jsonl":
        return "none", []  # a bare .jsonl file carries no manifest
    manifest = read_manifest(path.parent)
    frame_files(frames_dir_of(bundle))  # UnsafePath up front for a frame that links outside
    if manifest is None:
        return "none", []
    problems = manifest_problems(manifest, path, n_lines, frames_dir_of(bundle))
    return ("legacy" if manifest["format"] == LEGACY_FORMAT else "ok"), problems


def read_entries(bundle: str | Path, report: Report | None = None) -> list[dict[str, Any]]:
    """Checked entries of a bundle that matches its manifest (BundleError otherwise, naming
    the entries that fail their own checks); corrupt lines go to `report.corrupt` (or raise)."""
    lines = read_lines(bundle)
    good: list[dict[str, Any]] = []
    bad: list[str] = []
    for n, line in lines:
        try:
            good.append(parse_line(n, line)[1])
        except CorruptEntry as e:
            bad.append(f"line {n}: {e}")
            if report is not None:
                report.corrupt.append((f"line {n}", str(e)))
    _, problems = manifest_status(bundle, len(lines))
    if problems:
        named = f"; failing their own checks: {'; '.join(bad[:3])}" if bad else ""
        raise BundleError(
            f"bundle {bundle} does not match its {MANIFEST}: {'; '.join(problems)}{named}. "
            f"Run `python -m oracle_cache verify {bundle}` to see and quarantine what is wrong"
        )
    if bad and report is None:
        raise CorruptEntry(bad[0])
    if report is not None:
        report.unsigned += sum(not is_signed(e) for e in good)
    return good


def write_entries(
    bundle: str | Path, entries: Mapping[str, dict[str, Any]] | Iterable[dict[str, Any]]
) -> int:
    """Atomically (re)write entries.jsonl sorted by key, one canonical line each.

    A bundle directory also gets its manifest (`bundle.json`, see `oracle_cache.manifest`),
    computed from the files as written, so write the frames first.
    """
    path = entries_path(bundle)
    path.parent.mkdir(parents=True, exist_ok=True)
    values = entries.values() if isinstance(entries, Mapping) else entries
    ordered = sorted(values, key=lambda e: e["key"])
    _atomic_write(path, "".join(encode_entry(e) + "\n" for e in ordered))
    fdir = frames_dir_of(bundle)
    if fdir is not None:
        manifest = build_manifest(path, fdir, len(ordered))
        _atomic_write(path.with_name(MANIFEST), json.dumps(manifest, sort_keys=True) + "\n")
    return len(ordered)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    tmp.replace(path)


def _merge_into(
    merged: dict[str, dict[str, Any]], entry: dict[str, Any], report: Report, source: str
) -> None:
    """First answer for a key wins; a different answer for the same key is a reported conflict."""
    old = merged.get(entry["key"])
    if old is None:
        merged[entry["key"]] = entry
    elif old["answer"] == entry["answer"]:
        report.unchanged += 1
    else:
        report.conflicts.append(
            (entry["key"], f"{source} answers {entry['answer']}, kept {old['answer']}")
        )


# --- frames -----------------------------------------------------------------------------------
def _digests(entries: Iterable[dict[str, Any]]) -> set[str]:
    return {d for e in entries for group in e["frames"] for d in group}


def frame_ok(path: Path, digest: str) -> bool:
    """A PNG is good if its pixels hash back to the digest it is named by."""
    from oracle_cache.images import decode_png
    from oracle_cache.keys import frame_digest

    try:
        return frame_digest(decode_png(path.read_bytes())) == digest
    except Exception:
        return False


def find_frame(frames_dir: Path, digest: str) -> Path | None:
    """A frame PNG in either layout: flat (bundles) or sharded `ab/<digest>.png` (caches).

    The digest must be sha256 hex and the file must resolve inside `frames_dir` (UnsafePath
    otherwise), so no entry can make a copy read or write outside its directory.
    """
    for p in (frames_dir / frame_name(digest), frame_path(frames_dir, digest)):
        if p.exists():
            return confined(frames_dir, p)
    return None


def copy_frames(
    src: Path | None, dst: Path | None, digests: Iterable[str], check: bool, sharded: bool
) -> int:
    """Copy the PNGs `dst` lacks (checked against their digest when `check`); returns count.

    `sharded` picks the destination layout: a cache's `ab/<digest>.png`, or a bundle's flat
    `<digest>.png` (easy to browse and diff).
    """
    if src is None or dst is None or not src.is_dir():
        return 0
    n = 0
    for d in sorted(digests):
        s = find_frame(src, d)
        t = frame_path(dst, d) if sharded else confined(dst, dst / frame_name(d))
        if s is None or find_frame(dst, d) is not None or (check and not frame_ok(s, d)):
            continue
        t.parent.mkdir(parents=True, exist_ok=True)
        tmp = t.with_name(f".{t.name}.{os.getpid()}.tmp")
        shutil.copyfile(s, tmp)
        tmp.replace(t)
        n += 1
    return n


# --- the operations ---------------------------------------------------------------------------
def cache_entries(cache_dir: str | Path, report: Report) -> dict[str, dict[str, Any]]:
    """Every good entry of a cache directory by key (corrupt ones reported, left in place)."""
    out: dict[str, dict[str, Any]] = {}
    with existing_store(cache_dir) as store:
        for key in iter_keys(store, cache_dir):
            try:
                out[key] = check_entry(key, read_value(store, key))
            except CorruptEntry as e:
                report.corrupt.append((key, str(e)))
    report.unsigned += sum(not is_signed(e) for e in out.values())
    return out


def export_bundle(cache_dir: str | Path, bundle: str | Path, frames: bool = False) -> Report:
    """Add a cache's entries (and frames) to a bundle; existing bundle entries are kept."""
    if not is_cache_dir(cache_dir):
        raise FileNotFoundError(f"no oracle cache at {cache_dir} (expected {cache_dir}/cache.db)")
    report = Report()
    merged: dict[str, dict[str, Any]] = {}
    if is_bundle(bundle):
        for e in read_entries(bundle, report):
            merged[e["key"]] = e
    before = len(merged)
    for e in cache_entries(cache_dir, report).values():
        _merge_into(merged, e, report, str(cache_dir))
    if frames:
        report.frames = copy_frames(
            Path(cache_dir) / FRAMES, frames_dir_of(bundle), _digests(merged.values()), False, False
        )
    write_entries(bundle, merged)
    report.added = len(merged) - before
    report.entries = len(merged)
    return report


def _store_to_fill(cache_dir: Path) -> diskcache.Cache:
    """An existing cache (checked whole first) or a new one; never a file or a broken one."""
    if cache_dir.exists() and not cache_dir.is_dir():
        raise NotACache(f"{cache_dir} is a file, not a cache directory; give a directory")
    if is_bundle(cache_dir):
        raise NotACache(
            f"{cache_dir} is a bundle, not a cache; import into a cache directory, or combine "
            "bundles with `python -m oracle_cache merge OUT BUNDLE...`"
        )
    if is_cache_dir(cache_dir):
        with existing_store(cache_dir):
            pass  # the structural check; the store itself is opened below
    cache_dir.mkdir(parents=True, exist_ok=True)
    return open_store(cache_dir)


def import_bundle(bundle: str | Path, cache_dir: str | Path) -> Report:
    """Add a bundle's entries to a cache; entries already there (same key) are left alone."""
    report = Report()
    entries = read_entries(bundle, report)
    # one SQLite transaction: 10k entries in well under a second
    with _store_to_fill(Path(cache_dir)) as store, store.transact():
        for e in entries:
            raw = read_value(store, e["key"])
            if raw is None:
                store.set(e["key"], encode_entry(e))
                report.added += 1
                continue
            try:
                old = check_entry(e["key"], raw)
            except CorruptEntry:  # a bad local copy: the bundle's good one replaces it
                quarantine(Path(cache_dir), store, e["key"], raw)
                store.set(e["key"], encode_entry(e))
                report.added += 1
                continue
            if old["answer"] == e["answer"]:
                report.unchanged += 1
            else:
                report.conflicts.append(
                    (e["key"], f"bundle answers {e['answer']}, cache keeps {old['answer']}")
                )
        report.entries = len(store)
    report.frames = copy_frames(
        frames_dir_of(bundle), Path(cache_dir) / FRAMES, _digests(entries), True, True
    )
    return report


def merge_bundles(out: str | Path, inputs: Iterable[str | Path], frames: bool = True) -> Report:
    """Union of bundles into `out` (which may be one of them); first answer per key wins."""
    report = Report()
    merged: dict[str, dict[str, Any]] = {}
    if is_bundle(out):
        for e in read_entries(out, report):
            merged[e["key"]] = e
    before = len(merged)
    inputs = [Path(p) for p in inputs]
    for src in inputs:
        if src.resolve() == Path(out).resolve():
            continue
        for e in read_entries(src, report):
            _merge_into(merged, e, report, str(src))
    if frames:
        digests = _digests(merged.values())
        for src in inputs:
            report.frames += copy_frames(
                frames_dir_of(src), frames_dir_of(out), digests, True, False
            )
    write_entries(out, merged)
    report.added = len(merged) - before
    report.entries = len(merged)
    return report
