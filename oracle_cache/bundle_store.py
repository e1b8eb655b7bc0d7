"""Replay straight from a bundle: a read-only index of its entries, with no import step.

CI and leaderboard re-runs replay a committed bundle as it is. Importing it first would write
a hot store beside it and add a step that can be forgotten; this reads `entries.jsonl` once
into memory and never writes anything, so the bundle's bytes are the same after a replay.

The checks are the cache's own. The bundle must match its manifest (`bundle.json`, format 2:
sha256 of the entries and of the frames), or it is refused as a whole before any run starts.
Every entry is indexed by its key as stored text and is checked (key, document, answer range,
digest) when a run asks for it, exactly as a cache entry is; one that fails is never served
(replay stops with `TamperedEntry`). Lines that carry no readable key, or one key twice with
different answers, refuse the bundle: there is no telling which answer was recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

from oracle_cache.bundle import ENTRIES, entries_path, manifest_status, read_lines
from oracle_cache.entry import is_hex_digest
from oracle_cache.errors import BundleError


def _key_of_line(n: int, line: str, bundle: Path) -> str:
    """The line's `key`; BundleError naming the line when it has none."""
    try:
        doc = json.loads(line)
    except ValueError:
        doc = None
    key = doc.get("key") if isinstance(doc, dict) else None
    if not is_hex_digest(key):
        raise BundleError(
            f"bundle {bundle}: line {n} of {ENTRIES} is not an entry with a key; run "
            f"`python -m oracle_cache verify {bundle}` to quarantine it, then replay again"
        )
    return key


class BundleStore:
    """`get(key) -> stored text | None` over a bundle directory (or bare .jsonl), read-only."""

    def __init__(self, bundle: str | Path) -> None:
        self.path = Path(bundle)
        if not entries_path(self.path).is_file():
            raise BundleError(
                f"no bundle at {self.path}: expected {entries_path(self.path)} (a directory "
                f"with {ENTRIES}, or a .jsonl file); write one with "
                "`python -m oracle_cache export CACHE_DIR BUNDLE`"
            )
        lines = read_lines(self.path)  # BundleError when not UTF-8
        self.manifest, problems = manifest_status(self.path, len(lines))
        if problems:
            raise BundleError(
                f"bundle {self.path} does not match its bundle.json: {'; '.join(problems)}. "
                f"Run `python -m oracle_cache verify {self.path}` to see what is wrong"
            )
        self._text: dict[str, str] = {}
        first_line: dict[str, int] = {}
        for n, line in lines:
            key = _key_of_line(n, line, self.path)
            if key in self._text and self._text[key] != line:
                raise BundleError(
                    f"bundle {self.path} holds key {key} twice with different entries (lines "
                    f"{first_line[key]} and {n}); keep one, e.g. with `python -m oracle_cache "
                    "merge OUT BUNDLE`, then replay again"
                )
            self._text[key] = line
            first_line.setdefault(key, n)

    def get(self, key: str) -> str | None:
        return self._text.get(key)

    def __len__(self) -> int:
        return len(self._text)

    def __contains__(self, key: object) -> bool:
        return key in self._text
