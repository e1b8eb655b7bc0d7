"""The on-disk store under a cache directory: opening it safely, quarantine, frame files.

A cache directory holds `cache.db` (diskcache over SQLite), `quarantine/` (entries that failed
their checks, kept for inspection) and, with `keep_frames`, `frames/ab/<digest>.png`. Tools
that inspect or copy a cache (`stats`, `verify`, `export`) open it with `existing_store`, which
never creates one and turns an unreadable SQLite file into one line that says what to do.

A cache.db is input like any other: a row may name a value file outside the directory or hold
a pickle. `SafeDisk` reads and deletes value files only inside the cache directory and loads
pickles as plain data only, so a crafted cache.db can neither run code nor touch other files.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import diskcache
import numpy as np

from oracle_cache.entry import is_hex_digest
from oracle_cache.errors import CacheUnreadable, NotACache, UnsafePath

#: a rating store must never drop what was paid for: no size limit, no eviction
STORE_SETTINGS: dict[str, Any] = {
    "size_limit": 2**62,
    "eviction_policy": "none",
    "cull_limit": 0,
    "statistics": False,
}
CACHE_DB = "cache.db"
QUARANTINE = "quarantine"
FRAMES = "frames"
#: what SQLite raises on a damaged file (`is_corruption` tells damage from a busy database)
DAMAGE = (sqlite3.DatabaseError, UnicodeDecodeError)
#: what diskcache raises on a damaged row besides (a flipped `raw` flag has it unpickle a key)
ROW_DAMAGE = (TypeError, AttributeError, ValueError, EOFError, pickle.UnpicklingError)


class _DataOnly(pickle.Unpickler):
    """Loads dicts, lists, strings and numbers; refuses every class or function."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused {module}.{name}: a rating cache holds data only")


class RefusedValue(OSError):
    """A stored value diskcache would read outside the cache or unpickle as code."""


class SafeDisk(diskcache.Disk):
    """diskcache's Disk, confined to its directory and to plain data.

    A refused value raises RefusedValue, an OSError as `Disk.fetch` documents, which diskcache
    treats as a value gone: the entry reads as missing (re-asked in record mode, a miss in
    replay) and `verify` reports it. Pickled dict entries of early versions still load.
    """

    def _inside(self, filename: Any) -> str:
        root = os.path.realpath(self._directory)
        full = os.path.realpath(os.path.join(self._directory, str(filename)))
        if os.path.commonpath([root, full]) != root or full == root:
            raise RefusedValue(f"value file {filename!r} is outside the cache {root}")
        return full

    def get(self, key: Any, raw: bool) -> Any:
        if raw:
            return super().get(key, raw)
        return _DataOnly(io.BytesIO(key)).load()

    def fetch(self, mode: int, filename: Any, value: Any, read: bool) -> Any:
        if filename is not None:
            self._inside(filename)
        if mode != diskcache.core.MODE_PICKLE:
            return super().fetch(mode, filename, value, read)
        try:
            if value is None:
                with open(self._inside(filename), "rb") as f:
                    return _DataOnly(f).load()
            return _DataOnly(io.BytesIO(value)).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
            raise RefusedValue(str(e)) from None

    def remove(self, file_path: Any) -> None:
        try:
            self._inside(file_path)
        except RefusedValue:
            return  # never delete outside the cache; the row itself still goes
        super().remove(file_path)


def unreadable(cache_dir: str | Path, err: object) -> CacheUnreadable:
    """The one-line error for a cache.db that SQLite cannot read."""
    why = " ".join(str(err).split())  # SQLite's integrity report spans lines
    return CacheUnreadable(
        f"cache at {cache_dir} is not a readable cache: {why}; move it aside "
        f"(mv {cache_dir} {cache_dir}.broken) and rebuild it from a bundle with "
        f"`python -m oracle_cache import BUNDLE {cache_dir}`, or record again"
    )


def is_corruption(err: BaseException) -> bool:
    """SQLite said the file is damaged, or gave text that is not UTF-8 (e.g. a flipped byte in
    the schema); a locked or unopenable file is another matter."""
    if isinstance(err, sqlite3.OperationalError):
        return _undecodable(err)
    return isinstance(err, (sqlite3.DatabaseError, UnicodeDecodeError))


def _undecodable(err: BaseException) -> bool:
    """A stored text that is no longer UTF-8 (a flipped byte): damage, not a busy database."""
    return isinstance(err, sqlite3.OperationalError) and "decode" in str(err)


def read_value(store: diskcache.Cache, key: str) -> Any:
    """`store.get(key)`, except that a value SQLite cannot decode as text comes back as its
    raw bytes, which then fail the entry checks like any other damaged entry (and can be
    quarantined) instead of stopping the whole walk or run."""
    try:
        return store.get(key)
    except sqlite3.OperationalError as e:
        if not _undecodable(e):
            raise
    except (*ROW_DAMAGE, UnicodeDecodeError):  # e.g. a value file that is not UTF-8
        return b""
    db = (Path(store.directory) / CACHE_DB).resolve()
    con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        con.text_factory = bytes
        row = con.execute("SELECT value FROM Cache WHERE key = ? AND raw = 1", (key,)).fetchone()
    finally:
        con.close()
    return row[0] if row else b""


def open_store(directory: str | Path) -> diskcache.Cache:
    """Open (or create) the store; a damaged cache.db raises CacheUnreadable."""
    try:
        return diskcache.Cache(str(directory), disk=SafeDisk, **STORE_SETTINGS)
    except (*DAMAGE, *ROW_DAMAGE) as e:  # ROW_DAMAGE: e.g. a Settings row with no key
        if isinstance(e, sqlite3.DatabaseError) and not is_corruption(e):
            raise
        raise unreadable(directory, e) from None


def iter_keys(store: diskcache.Cache, cache_dir: str | Path) -> Iterator[Any]:
    """Every key of the store, or CacheUnreadable when a key row is damaged."""
    keys = store.iterkeys()
    while True:
        try:
            key = next(keys)
        except StopIteration:
            return
        except (*DAMAGE, *ROW_DAMAGE) as e:
            if isinstance(e, sqlite3.DatabaseError) and not is_corruption(e):
                raise
            raise unreadable(cache_dir, f"a damaged key row ({type(e).__name__}: {e})") from None
        yield key


def _quick_check(db: Path, cache_dir: Path) -> None:
    """SQLite's own structural check, read-only, before a tool walks the whole store."""
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = con.execute("PRAGMA quick_check").fetchall()
        finally:
            con.close()
    except DAMAGE as e:
        if is_corruption(e):
            raise unreadable(cache_dir, e) from None
        raise
    if rows != [("ok",)]:
        raise unreadable(cache_dir, "; ".join(str(r[0]) for r in rows[:3]))


@contextmanager
def existing_store(cache_dir: str | Path) -> Iterator[diskcache.Cache]:
    """An existing cache, structurally checked first; never creates one.

    NotACache when there is no cache.db; CacheUnreadable when SQLite cannot read it, checked
    up front and again for anything that fails while the store is in use.
    """
    cache_dir = Path(cache_dir)
    db = cache_dir / CACHE_DB
    if not db.is_file():
        raise NotACache(
            f"{cache_dir} is not an oracle cache (no {CACHE_DB} in it); give the cache "
            "directory a run recorded into (default .cache/oracle), or a bundle"
        )
    _quick_check(db, cache_dir)
    try:
        with open_store(cache_dir) as store:
            yield store
    except DAMAGE as e:
        if is_corruption(e):
            raise unreadable(cache_dir, e) from None
        raise


def quarantine(cache_dir: Path, store: diskcache.Cache, key: str, raw: Any) -> None:
    """Move a bad entry aside (kept for inspection) so it can never be served."""
    with open_store(cache_dir / QUARANTINE) as q:
        q.set(key, raw if isinstance(raw, (str, bytes)) else json.dumps(raw, default=str))
    store.delete(key)


def confined(base: Path, path: Path) -> Path:
    """`path` if it resolves (links followed) inside `base`; UnsafePath otherwise."""
    root = base.resolve()
    real = path.resolve()
    if real != root and root not in real.parents:
        raise UnsafePath(
            f"{path} leads outside {base} (to {real}); frame files must be plain files inside "
            "their frames directory: remove the link or re-export the bundle"
        )
    return path


def frame_name(digest: str) -> str:
    """`<digest>.png` for a sha256 hex digest; UnsafePath for anything else (e.g. '../x')."""
    if not is_hex_digest(digest):
        raise UnsafePath(
            f"frame digest {digest[:80]!r} is not a sha256 hex string; the entry naming it "
            "is corrupt: run `python -m oracle_cache verify` on its cache or bundle"
        )
    return f"{digest}.png"


def frame_path(frames_dir: Path, digest: str) -> Path:
    """Where a cache keeps a frame: `ab/<digest>.png`, checked to stay inside `frames_dir`."""
    return confined(frames_dir, frames_dir / digest[:2] / frame_name(digest))


def save_frame_png(frames_dir: Path, digest: str, frame: np.ndarray) -> None:
    """Atomic write of a lossless PNG named by digest (idempotent; skips non-8-bit frames)."""
    from oracle_cache.images import is_png_exact, png_bytes

    path = frame_path(frames_dir, digest)
    if path.exists() or not is_png_exact(frame):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
    tmp.write_bytes(png_bytes(frame))
    tmp.replace(path)
