"""Portable bundles: the reviewable, committable form of a rating cache.

A bundle is a directory holding `entries.jsonl` (one canonical-JSON entry per line, sorted by
key, so a diff shows exactly which ratings changed) and, optionally, `frames/ab/<digest>.png`
(lossless PNGs named by frame digest, for audits). A bare `.jsonl` file is a bundle without
frames. Export, import and merge are idempotent: doing one twice changes nothing. Every entry
is checked (its document must hash to its key) on the way in and out; `verify` also quarantines.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oracle_cache.cache import (
    FRAMES,
    QUARANTINE,
    CorruptEntry,
    check_entry,
    encode_entry,
    frame_path,
    open_store,
    quarantine,
)

ENTRIES = "entries.jsonl"
BUNDLE_QUARANTINE = "quarantine.jsonl"


@dataclass
class Report:
    """What an operation did; `problems` are (key or line, reason) pairs, never silent."""

    written: int = 0
    present: int = 0
    frames: int = 0
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "present": self.present,
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


def write_entries(bundle: str | Path, entries: Iterable[dict[str, Any]]) -> int:
    """Atomically (re)write entries.jsonl sorted by key, one canonical line each."""
    path = entries_path(bundle)
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(entries, key=lambda e: e["key"])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as f:
        for e in ordered:
            f.write(encode_entry(e) + "\n")
    tmp.replace(path)
    return len(ordered)


def _merge_into(
    merged: dict[str, dict[str, Any]], entry: dict[str, Any], report: Report, source: str
) -> None:
    """First answer for a key wins; a different answer for the same key is a reported conflict."""
    old = merged.get(entry["key"])
    if old is None:
        merged[entry["key"]] = entry
    elif old["answer"] == entry["answer"]:
        report.present += 1
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


def copy_frames(src: Path | None, dst: Path | None, digests: Iterable[str], check: bool) -> int:
    """Copy the PNGs `dst` lacks (checked against their digest when `check`); returns count."""
    if src is None or dst is None or not src.is_dir():
        return 0
    n = 0
    for d in sorted(digests):
        s, t = frame_path(src, d), frame_path(dst, d)
        if t.exists() or not s.exists() or (check and not frame_ok(s, d)):
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


def export_bundle(cache_dir: str | Path, bundle: str | Path, frames: bool = True) -> Report:
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
    write_entries(bundle, merged.values())
    report.written = len(merged) - before
    if frames:
        report.frames = copy_frames(
            Path(cache_dir) / FRAMES, frames_dir_of(bundle), _digests(merged.values()), False
        )
    return report


def import_bundle(bundle: str | Path, cache_dir: str | Path) -> Report:
    """Add a bundle's entries to a cache; entries already there (same key) are left alone."""
    report = Report()
    entries = list(read_entries(bundle, report))
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    with open_store(cache_dir) as store:
        with store.transact():  # one SQLite transaction: 10k entries in well under a second
            for e in entries:
                raw = store.get(e["key"])
                if raw is None:
                    store.set(e["key"], encode_entry(e))
                    report.written += 1
                    continue
                try:
                    old = check_entry(e["key"], raw)
                except CorruptEntry:  # a bad local copy: the bundle's good one replaces it
                    quarantine(Path(cache_dir), store, e["key"], raw)
                    store.set(e["key"], encode_entry(e))
                    report.written += 1
                    continue
                if old["answer"] == e["answer"]:
                    report.present += 1
                else:
                    report.conflicts.append(
                        (e["key"], f"bundle answers {e['answer']}, cache keeps {old['answer']}")
                    )
    report.frames = copy_frames(
        frames_dir_of(bundle), Path(cache_dir) / FRAMES, _digests(entries), True
    )
    return report


def merge_bundles(inputs: Iterable[str | Path], out: str | Path, frames: bool = True) -> Report:
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
    write_entries(out, merged.values())
    report.written = len(merged) - before
    if frames:
        digests = _digests(merged.values())
        for src in inputs:
            report.frames += copy_frames(frames_dir_of(src), frames_dir_of(out), digests, True)
    return report


def verify(path: str | Path, quarantine_bad: bool = True) -> Report:
    """Recompute every entry's key (and every frame's digest); quarantine what fails.

    Cache directory: bad entries move to its `quarantine/` store, bad PNGs to
    `quarantine/frames/`. Bundle: bad lines move to `quarantine.jsonl` beside entries.jsonl.
    `report.written` counts the good entries.
    """
    report = Report()
    if is_cache_dir(path):
        root = Path(path)
        with open_store(root) as store:
            for key in list(store.iterkeys()):
                raw = store.get(key)
                try:
                    check_entry(key, raw)
                    report.written += 1
                except CorruptEntry as e:
                    report.corrupt.append((key, str(e)))
                    if quarantine_bad and raw is not None:
                        quarantine(root, store, key, raw)
        _verify_frames(root / FRAMES, root / QUARANTINE / FRAMES, report, quarantine_bad)
        return report
    if not is_bundle(path):
        raise FileNotFoundError(
            f"{path} is neither an oracle cache directory (with cache.db) nor a bundle "
            f"(a directory with {ENTRIES}, or a .jsonl file)"
        )
    good, bad = [], []
    for n, line in read_lines(path):
        try:
            good.append(parse_line(n, line)[1])
        except CorruptEntry as e:
            report.corrupt.append((f"line {n}", str(e)))
            bad.append(line if line.endswith("\n") else line + "\n")
    report.written = len(good)
    if bad and quarantine_bad:
        qpath = entries_path(path).with_name(BUNDLE_QUARANTINE)
        with qpath.open("a", encoding="utf-8") as f:
            f.writelines(bad)
        write_entries(path, good)
    fdir = frames_dir_of(path)
    if fdir is not None:
        _verify_frames(fdir, fdir.parent / QUARANTINE / FRAMES, report, quarantine_bad)
    return report


def _verify_frames(frames: Path, qdir: Path, report: Report, move: bool) -> None:
    if not frames.is_dir():
        return
    for p in sorted(frames.glob("*/*.png")):
        if frame_ok(p, p.stem):
            report.frames += 1
            continue
        report.corrupt.append((f"frames/{p.parent.name}/{p.name}", "PNG does not match its digest"))
        if move:
            qdir.mkdir(parents=True, exist_ok=True)
            p.replace(qdir / p.name)
