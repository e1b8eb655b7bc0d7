"""`verify`: every entry must hash to its key, match its digest and answer in range; frames
must hash to their names; a bundle must match its manifest. Bad entries are reported and moved
to quarantine (a store's `quarantine/` sub-store, a bundle's `quarantine.jsonl`), so they can
be inspected but never served. Unsigned (legacy) entries are reported; `rehash` signs them and
rewrites a bundle's manifest, which is also how a bundle edited on purpose is accepted again.
Nothing is ever created: a path that is neither a cache nor a bundle is an error.
"""

from __future__ import annotations

import hashlib
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oracle_cache.bundle import (
    BUNDLE_QUARANTINE,
    ENTRIES,
    entries_path,
    manifest_status,
    read_lines,
    write_entries,
)
from oracle_cache.entry import (
    CorruptEntry,
    check_entry,
    decode_entry,
    encode_entry,
    is_signed,
    sign_entry,
)
from oracle_cache.images import decode_png
from oracle_cache.keys import frame_digest
from oracle_cache.manifest import MANIFEST
from oracle_cache.store import FRAMES, QUARANTINE, existing_store, iter_keys, quarantine, read_value

#: how many unsigned keys a report names (a legacy cache may hold 100k)
SHOW_UNSIGNED = 20


@dataclass
class VerifyReport:
    checked: int = 0
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    unsigned: int = 0  # entries without a digest (legacy): served, but edits to them go unseen
    unsigned_keys: list[str] = field(default_factory=list)
    resigned: int = 0  # unsigned entries signed by `rehash`
    manifest: str = "n/a"  # bundles: "ok", "legacy" (format 1), "none", "mismatch", "rewritten"
    manifest_problems: list[str] = field(default_factory=list)
    manifest_replaced: list[str] = field(default_factory=list)  # what `rehash` accepted
    frames_checked: int = 0
    frames_corrupt: list[str] = field(default_factory=list)
    quarantined: bool = False

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.frames_corrupt and not self.manifest_problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "corrupt": [list(c) for c in self.corrupt],
            "unsigned": self.unsigned,
            "unsigned_keys": self.unsigned_keys,
            "resigned": self.resigned,
            "manifest": self.manifest,
            "manifest_problems": self.manifest_problems,
            "manifest_replaced": self.manifest_replaced,
            "frames_checked": self.frames_checked,
            "frames_corrupt": self.frames_corrupt,
            "quarantined": self.quarantined,
        }

    def _unsigned(self, key: str) -> None:
        self.unsigned += 1
        if len(self.unsigned_keys) < SHOW_UNSIGNED:
            self.unsigned_keys.append(key)


def _frame_good(png: Path) -> bool:
    """A plain file (no link) whose pixels hash back to its name."""
    if png.is_symlink() or not png.is_file():
        return False
    try:
        return frame_digest(decode_png(png.read_bytes())) == png.stem
    except Exception:
        return False


def _verify_frames(files: list[Path], report: VerifyReport, move_to: Path | None) -> bool:
    """Check frame PNGs; with `move_to`, bad ones are moved there. True if any was moved."""
    moved = False
    for png in sorted(files):
        report.frames_checked += 1
        if not _frame_good(png):
            report.frames_corrupt.append(png.stem)
            if move_to is not None:
                move_to.mkdir(parents=True, exist_ok=True)
                png.replace(move_to / png.name)
                moved = True
    return moved


def verify_store(cache_dir: str | Path, fix: bool = True, rehash: bool = False) -> VerifyReport:
    """Check every entry of an existing cache (NotACache / CacheUnreadable otherwise)."""
    cache_dir = Path(cache_dir)
    report = VerifyReport(quarantined=fix)
    with existing_store(cache_dir) as store, store.transact() if rehash else nullcontext():
        for key in list(iter_keys(store, cache_dir)):
            report.checked += 1
            raw = read_value(store, key)
            try:
                entry = check_entry(key, raw)
            except CorruptEntry as e:
                report.corrupt.append((key, str(e)))
                if fix:
                    quarantine(cache_dir, store, key, raw)
                continue
            if not is_signed(entry):
                report._unsigned(key)
                if rehash:
                    store.set(key, encode_entry(sign_entry(entry)))
                    report.resigned += 1
    frames = cache_dir / FRAMES
    files = [p for p in frames.rglob("*.png")] if frames.is_dir() else []
    _verify_frames(files, report, cache_dir / QUARANTINE / FRAMES if fix else None)
    return report


def _keep_old_manifest(bundle_dir: Path) -> None:
    """Move a manifest that no longer matches into quarantine/, named by its digest."""
    old = bundle_dir / MANIFEST
    if old.is_file():
        tag = hashlib.sha256(old.read_bytes()).hexdigest()[:12]
        (bundle_dir / QUARANTINE).mkdir(parents=True, exist_ok=True)
        old.replace(bundle_dir / QUARANTINE / f"{MANIFEST}.{tag}")


def verify_bundle(bundle: str | Path, fix: bool = True, rehash: bool = False) -> VerifyReport:
    """Check the manifest, every line and every frame.

    With `fix`, bad lines move to quarantine.jsonl and bad frames to quarantine/; the manifest
    is rewritten to match only if it matched before (a bundle changed by hand stays reported
    until `rehash` accepts it, keeping the old manifest in quarantine/).
    """
    path = entries_path(bundle)
    lines = read_lines(bundle)
    report = VerifyReport(quarantined=fix)
    report.manifest, report.manifest_problems = manifest_status(bundle, len(lines))
    if report.manifest_problems:
        report.manifest = "mismatch"
    good: list[dict[str, Any]] = []
    bad: list[str] = []
    for n, line in lines:
        report.checked += 1
        raw = decode_entry(line)
        key = raw.get("key") if isinstance(raw, dict) else None
        try:
            if not isinstance(key, str):
                raise CorruptEntry("not a JSON entry with a key")
            entry = check_entry(key, raw)
        except CorruptEntry as e:
            report.corrupt.append((key if isinstance(key, str) else f"line {n}", str(e)))
            bad.append(line)
            continue
        if not is_signed(entry):
            report._unsigned(key)
            if rehash:
                entry = sign_entry(entry)
                report.resigned += 1
        good.append(entry)
    is_dir = Path(bundle).suffix != ".jsonl"
    frames = path.parent / FRAMES if is_dir else None
    files = sorted(frames.glob("*.png")) if frames is not None and frames.is_dir() else []
    moved = _verify_frames(files, report, path.parent / QUARANTINE if fix else None)
    if fix and bad:
        with (path.parent / BUNDLE_QUARANTINE).open("a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in bad))
    if rehash or (fix and (bad or moved)):
        if is_dir and report.manifest_problems and not rehash:
            _rewrite_entries_only(path, good)
        else:
            if is_dir and report.manifest_problems:
                _keep_old_manifest(path.parent)
            write_entries(path.parent if is_dir else path, {e["key"]: e for e in good})
            if is_dir and rehash:
                report.manifest = "rewritten"
                report.manifest_replaced, report.manifest_problems = report.manifest_problems, []
    return report


def _rewrite_entries_only(path: Path, good: list[dict[str, Any]]) -> None:
    """The entries file without its bad lines, leaving a manifest that did not match alone."""
    text = "".join(encode_entry(e) + "\n" for e in sorted(good, key=lambda e: e["key"]))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def verify(path: str | Path, fix: bool = True, rehash: bool = False) -> VerifyReport:
    """A bundle (a directory with entries.jsonl, or a .jsonl file) or an existing cache.

    `rehash` signs unsigned entries (and rewrites a bundle's manifest); it also quarantines,
    since a re-signed store or bundle must not keep entries that fail their checks.
    """
    p = Path(path)
    fix = fix or rehash
    if p.suffix == ".jsonl" or (p / ENTRIES).exists():
        return verify_bundle(p, fix, rehash)
    return verify_store(p, fix, rehash)
