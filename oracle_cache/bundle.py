"""Portable bundles: the reviewable, committable form of a rating cache.

A bundle is a directory holding `entries.jsonl` (one canonical-JSON entry per line, sorted by
key, so a diff shows exactly which ratings changed) and, optionally, `frames/ab/<digest>.png`
(lossless PNGs named by frame digest, for audits). A bare `.jsonl` file is a bundle without
frames. Export, import and merge are idempotent: doing one twice changes nothing. Every entry
is checked (its document must hash to its key) on the way in and out; `oracle_cache.verify` also quarantines what fails.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oracle_cache.cache import (
    FRAMES,
    CorruptEntry,
    check_entry,
    encode_entry,
    frame_path,
    open_store,
    quarantine,
)

ENTRIES = "entries.jsonl"
BUNDLE_QUARANTINE = "quarantine.jsonl"
MANIFEST = "bundle.json"
BUNDLE_FORMAT = "oracle-cache-bundle/1"


@dataclass
class Report:
    """What an operation did; conflicts and corrupt entries are (key or line, reason) pairs."""

    added: int = 0  # entries new to the destination
    unchanged: int = 0  # entries the destination already held with the same answer
    entries: int = 0  # entries in the destination (bundle or cache) afterwards
    frames: int = 0  # frame PNGs copied
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "unchanged": self.unchanged,
            "entries": self.entries,
            "frames": self.frames,
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
def read_lines(bundle: str | Path) -> Iterator[tuple[int, str]]:
    path = entries_path(bundle)
    if not path.is_file():
        raise FileNotFoundError(
            f"no bundle at {bundle}: expected {path} (a directory with {ENTRIES}, or a .jsonl "
            "file); create one with `python -m oracle_cache export CACHE_DIR BUNDLE`"
        )
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                yield n, line


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


def read_entries(bundle: str | Path, report: Report | None = None) -> Iterator[dict[str, Any]]:
    """Checked entries of a bundle; corrupt lines go to `report.corrupt` (or raise)."""
    for n, line in read_lines(bundle):
        try:
            yield parse_line(n, line)[1]
        except CorruptEntry as e:
            if report is None:
                raise
            report.corrupt.append((f"line {n}", str(e)))


def write_entries(
    bundle: str | Path,
    entries: Mapping[str, dict[str, Any]] | Iterable[dict[str, Any]],
    frames: int | None = None,
) -> int:
    """Atomically (re)write entries.jsonl sorted by key, one canonical line each.

    A bundle directory also gets `bundle.json` (format, entry and frame counts), which holds
    no timestamp so that rewriting the same entries gives the same bytes.
    """
    path = entries_path(bundle)
    path.parent.mkdir(parents=True, exist_ok=True)
    values = entries.values() if isinstance(entries, Mapping) else entries
    ordered = sorted(values, key=lambda e: e["key"])
    _atomic_write(path, "".join(encode_entry(e) + "\n" for e in ordered))
    fdir = frames_dir_of(bundle)
    if fdir is not None:
        if frames is None:
            frames = len(list(fdir.glob("*.png"))) if fdir.is_dir() else 0
        manifest = {"format": BUNDLE_FORMAT, "entries": len(ordered), "frames": frames}
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
    """A frame PNG in either layout: flat (bundles) or sharded `ab/<digest>.png` (caches)."""
    for p in (frames_dir / f"{digest}.png", frame_path(frames_dir, digest)):
        if p.exists():
            return p
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
        t = frame_path(dst, d) if sharded else dst / f"{d}.png"
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
    with open_store(cache_dir) as store:
        for key in store.iterkeys():
            try:
                out[key] = check_entry(key, store.get(key))
            except CorruptEntry as e:
                report.corrupt.append((key, str(e)))
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


def import_bundle(bundle: str | Path, cache_dir: str | Path) -> Report:
    """Add a bundle's entries to a cache; entries already there (same key) are left alone."""
    report = Report()
    entries = list(read_entries(bundle, report))
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    # one SQLite transaction: 10k entries in well under a second
    with open_store(cache_dir) as store, store.transact():
        for e in entries:
            raw = store.get(e["key"])
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
