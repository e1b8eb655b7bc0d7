"""Errors for bad cache and bundle input, each one line that says what to do about it.

The CLI prints them as `error: …` and exits 2 instead of showing a traceback; library callers
can catch `CacheInputError` (a ValueError) for all of them.
"""

from __future__ import annotations

from oracle_cache.types import CacheMiss


class CacheInputError(ValueError):
    """A cache directory or bundle that cannot be used as it is; the message says why and how."""


class NotACache(CacheInputError):
    """A path that holds no cache (no cache.db), so nothing is read and nothing is created."""


class CacheUnreadable(CacheInputError):
    """A cache.db that SQLite cannot read (truncated, overwritten, not a database)."""


class BundleError(CacheInputError):
    """A bundle that is not UTF-8, has an unknown format, misses frames or fails its manifest."""


class UnsafePath(BundleError):
    """A frame name or file that would lead outside its own directory."""


class TamperedEntry(CacheMiss):
    """Replay met a stored entry that fails its checks; it was quarantined, not served."""
