"""`verify`: every entry's key must recompute from its own document; frames must hash to their
names. Bad entries are reported and moved to quarantine (a store's `quarantine/` sub-store, a
bundle's `quarantine.jsonl`), so they can be inspected but never served.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oracle_cache.bundle import ENTRIES, entries_path, write_entries
from oracle_cache.cache import (
    FRAMES,
    QUARANTINE,
    CorruptEntry,
    check_entry,
    decode_entry,
    encode_entry,
    open_store,
    quarantine,
)
from oracle_cache.images import decode_png
from oracle_cache.keys import frame_digest


@dataclass
class VerifyReport:
    checked: int = 0
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    frames_checked: int = 0
    frames_corrupt: list[str] = field(default_factory=list)
    quarantined: bool = False

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.frames_corrupt

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "corrupt": [list(c) for c in self.corrupt],
            "frames_checked": self.frames_checked,
            "frames_corrupt": self.frames_corrupt,
            "quarantined": self.quarantined,
        }


def _verify_frames(frames_dir: Path, report: VerifyReport, move_to: Path | None) -> None:
    if not frames_dir.exists():
        return
    for png in sorted(frames_dir.rglob("*.png")):
        report.frames_checked += 1
        try:
            good = frame_digest(decode_png(png.read_bytes())) == png.stem
        except Exception:
            good = False
        if not good:
            report.frames_corrupt.append(png.stem)
            if move_to is not None:
                move_to.mkdir(parents=True, exist_ok=True)
                png.replace(move_to / png.name)


def verify_store(cache_dir: str | Path, fix: bool = True) -> VerifyReport:
    cache_dir = Path(cache_dir)
    if not cache_dir.exists():
        raise FileNotFoundError(f"no cache at {cache_dir}")
    report = VerifyReport(quarantined=fix)
    with open_store(cache_dir) as store:
        for key in list(store.iterkeys()):
            report.checked += 1
            raw = store.get(key)
            try:
                check_entry(key, raw)
            except CorruptEntry as e:
                report.corrupt.append((key, str(e)))
                if fix:
                    quarantine(cache_dir, store, key, raw)
    _verify_frames(cache_dir / FRAMES, report, cache_dir / QUARANTINE / FRAMES if fix else None)
    return report


def _check_line(line: str) -> tuple[str, dict[str, Any] | None, str]:
    raw = decode_entry(line)
    key = raw.get("key") if isinstance(raw, dict) else None
    key = key if isinstance(key, str) else "?"
    try:
        return key, check_entry(key, raw), ""
    except CorruptEntry as e:
        return key, None, str(e)


def verify_bundle(bundle: str | Path, fix: bool = True) -> VerifyReport:
    """Check every line; with `fix`, bad lines move to quarantine.jsonl beside the entries."""
    path = entries_path(bundle)
    if not path.exists():
        raise FileNotFoundError(f"no bundle entries at {path}")
    report = VerifyReport(quarantined=fix)
    good: list[dict[str, Any]] = []
    bad: list[str] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        report.checked += 1
        key, entry, reason = _check_line(line)
        if entry is None:
            report.corrupt.append((key if key != "?" else f"line {n}", reason))
            bad.append(line)
        else:
            good.append(entry)
    if bad and fix:
        with (path.parent / "quarantine.jsonl").open("a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in bad))
        if path.name == ENTRIES:  # a bundle directory: entries and manifest together
            frames = len(list((path.parent / FRAMES).glob("*.png")))
            write_entries(path.parent, {e["key"]: e for e in good}, frames)
        else:
            text = "".join(encode_entry(e) + "\n" for e in sorted(good, key=lambda e: e["key"]))
            path.write_text(text, encoding="utf-8")
    _verify_frames(path.parent / FRAMES, report, path.parent / QUARANTINE if fix else None)
    return report


def verify(path: str | Path, fix: bool = True) -> VerifyReport:
    """A bundle (a directory with entries.jsonl, or a .jsonl file) or a cache directory."""
    p = Path(path)
    if p.suffix == ".jsonl" or (p / ENTRIES).exists():
        return verify_bundle(p, fix)
    return verify_store(p, fix)
