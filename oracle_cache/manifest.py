"""A bundle's manifest, `bundle.json`: its format version, entry count and content digests.

Format 2 records sha256 of `entries.jsonl` and one digest over every frame PNG (name and
bytes), so a bundle edited, cut short or missing frames after export is refused by `import`
and reported by `verify` instead of being served. Format 1 (counts only, written before
digests) is still read, as "legacy"; `verify --rehash` upgrades it. Any other format is
refused with a line that says so. The manifest holds no timestamp: the same content gives
the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from oracle_cache.errors import BundleError
from oracle_cache.store import confined

MANIFEST = "bundle.json"
FORMAT = "oracle-cache-bundle/2"
LEGACY_FORMAT = "oracle-cache-bundle/1"
READABLE = (FORMAT, LEGACY_FORMAT)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def frame_files(frames_dir: Path | None) -> list[Path]:
    """The bundle's frame PNGs, each checked to be a file inside `frames_dir` (no links out)."""
    if frames_dir is None or not frames_dir.is_dir():
        return []
    files = sorted(p for p in frames_dir.glob("*.png") if not p.name.startswith("."))
    return [confined(frames_dir, p) for p in files]


def frames_digest(files: list[Path]) -> str:
    """sha256 over one `name sha256-of-bytes` line per frame file, in name order."""
    lines = "".join(f"{p.name} {file_sha256(p)}\n" for p in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def build_manifest(entries_file: Path, frames_dir: Path | None, n_entries: int) -> dict[str, Any]:
    files = frame_files(frames_dir)
    return {
        "format": FORMAT,
        "entries": n_entries,
        "entries_sha256": file_sha256(entries_file),
        "frames": len(files),
        "frames_sha256": frames_digest(files),
    }


def read_manifest(bundle_dir: Path) -> dict[str, Any] | None:
    """The manifest of a bundle directory (None if it has none); BundleError if unreadable."""
    path = bundle_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BundleError(
            f"{path} is not a JSON manifest ({e}); rewrite it with "
            f"`python -m oracle_cache verify --rehash {bundle_dir}` once the entries check out"
        ) from None
    fmt = doc.get("format") if isinstance(doc, dict) else None
    if fmt not in READABLE:
        raise BundleError(
            f"bundle {bundle_dir} has format {fmt!r}, which this version cannot read (it reads "
            f"{', '.join(READABLE)}); update the project, or re-export the bundle with this one"
        )
    return doc


def manifest_problems(
    manifest: dict[str, Any], entries_file: Path, n_lines: int, frames_dir: Path | None
) -> list[str]:
    """How the bundle differs from its manifest (empty when it matches)."""
    files = frame_files(frames_dir)
    problems = []
    want_frames = manifest.get("frames")
    if isinstance(want_frames, int) and len(files) < want_frames:
        problems.append(
            f"frames missing: {MANIFEST} lists {want_frames} frame PNGs, frames/ holds "
            f"{len(files)} (copy the whole bundle directory again, or re-export it with "
            "`python -m oracle_cache export CACHE BUNDLE --frames`)"
        )
    if manifest.get("entries") != n_lines:
        problems.append(
            f"{MANIFEST} counts {manifest.get('entries')} entries, {entries_file.name} holds "
            f"{n_lines} lines"
        )
    if manifest["format"] == LEGACY_FORMAT:
        return problems
    if manifest.get("entries_sha256") != file_sha256(entries_file):
        problems.append(f"{entries_file.name} was changed after export (its sha256 differs)")
    if not problems and manifest.get("frames_sha256") != frames_digest(files):
        problems.append("a frame PNG was added, removed or changed after export")
    return problems
