"""The content-hashed rating cache in front of any oracle.

Modes: `record` answers from the cache or asks the provider and stores the answer *before*
returning it (a run killed at any moment loses no rating it paid for); `replay` answers from the
cache only and raises `CacheMiss` otherwise (no provider is ever called); `live` bypasses the
cache. The hot store is a `diskcache.Cache` directory (SQLite, safe across processes) that never
evicts. Entries are JSON text (no pickle: a shared cache directory cannot run code), carry
their own key document and a digest over the answer (`oracle_cache.entry`); an entry that fails
either check, or answers out of range, is quarantined and never served (replay refuses it with
`TamperedEntry`, record asks again). Identical queries in flight at once are asked once.
Replay can also read a bundle directly (`bundle=`, `oracle_cache.bundle_store`): nothing is
imported or written, and a bad entry is refused the same way but left where it is.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import diskcache
import numpy as np

from oracle_cache.bundle_store import BundleStore
from oracle_cache.entry import (  # noqa: F401  (ENTRY_FIELDS, decode_entry: re-exported)
    ENTRY_FIELDS,
    CorruptEntry,
    check_entry,
    decode_entry,
    encode_entry,
    sign_entry,
)
from oracle_cache.errors import TamperedEntry
from oracle_cache.keys import frame_digest, key_document, key_of
from oracle_cache.store import (  # noqa: F401  (re-exported: the cache's public helpers)
    DAMAGE,
    FRAMES,
    QUARANTINE,
    STORE_SETTINGS,
    existing_store,
    frame_path,
    is_corruption,
    open_store,
    quarantine,
    read_value,
    save_frame_png,
    unreadable,
)
from oracle_cache.types import CacheMiss, Preference, PreferQuery, Provider, RateQuery, Rating

MODES = ("record", "replay", "live")
#: queries per frame-hashing task when a sequential batch hashes its frames ahead (`_batch`)
DIGEST_CHUNK = 32
#: "not read from the store yet" (None is a stored miss)
_UNREAD: Any = object()


def digest_groups(groups: Sequence[Sequence[np.ndarray]]) -> list[list[str]]:
    return [[frame_digest(f) for f in g] for g in groups]


def hash_workers() -> int:
    """Threads that hash frames ahead of a sequential batch: the usable cores, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


class CachedOracle:
    """Wraps a provider (`types.Provider`: identity, prompt, rate, prefer) with the cache."""

    def __init__(
        self,
        provider: Provider,
        mode: str = "record",
        cache_dir: str | Path | None = None,
        max_in_flight: int = 1,
        keep_frames: bool = False,
        bundle: str | Path | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"cache mode must be one of {MODES}, got {mode!r}")
        if bundle is not None and mode != "replay":
            raise ValueError(
                f"a bundle is only replayed (read-only), not used in {mode!r} mode; import it "
                "into a cache with `python -m oracle_cache import BUNDLE CACHE_DIR` to record on"
            )
        if mode != "live" and cache_dir is None and bundle is None:
            raise ValueError(f"cache mode {mode!r} needs a cache directory")
        self.provider = provider
        self.mode = mode
        #: replay straight from this bundle (read-only); then no cache directory is opened
        self.bundle = BundleStore(bundle) if bundle is not None else None
        self.cache_dir = Path(cache_dir) if cache_dir is not None and bundle is None else None
        self.store = open_store(self.cache_dir) if mode != "live" and bundle is None else None
        #: the command that would record a missing answer (set by the harness that knows the run)
        self.record_hint: str | None = None
        self.max_in_flight = max(1, int(max_in_flight))
        self.keep_frames = keep_frames and self.cache_dir is not None
        self.name = getattr(provider, "name", "oracle")
        self._identity = provider.identity()
        self._lock = threading.Lock()
        self._readers = threading.local()
        self._inflight: dict[str, Future] = {}
        self.counters = {"hits": 0, "misses": 0, "provider_calls": 0, "corrupt": 0, "errors": 0}
        self.est_cost = 0.0

    # --- keys ---------------------------------------------------------------------------------
    def _document(
        self,
        kind: str,
        instruction: str,
        levels: int | None,
        groups: Sequence[Sequence[np.ndarray]],
        digests: list[list[str]] | None = None,
    ) -> dict[str, Any]:
        text = self.provider.prompt(kind, instruction, levels, n_frames=len(groups[0]))
        return key_document(
            self._identity,
            kind,
            self.provider.prompt_version,
            text,
            levels,
            digests if digests is not None else digest_groups(groups),
        )

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    def _add_cost(self, meta: Mapping[str, Any]) -> None:
        """Provider-reported cost (meta["cost_usd"]) or its flat `cost_per_query` estimate."""
        cost = meta.get("cost_usd")
        if cost is None:
            cost = getattr(self.provider, "cost_per_query", 0.0)
        with self._lock:
            self.est_cost += float(cost or 0.0)

    def _read_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """The stored values of `keys` that are present, in one SQLite query.

        `diskcache` has no multi-get; one `get` per key costs ~10 us of Python per query, as
        much as the rest of a replayed rating. This reads the same columns `Cache.get` reads
        (string keys are stored raw; no expiry or eviction is ever set on a rating store) and
        decodes them with the store's own `Disk`, through a read-only connection of its own
        (diskcache's query method is private). If the store is not the diskcache it was written
        for, it falls back to one `get` per key.
        """
        if self.bundle is not None:
            return {k: v for k in keys if (v := self.bundle.get(k)) is not None}
        if self.store is None or not keys:
            return {}
        select = (
            "SELECT key, mode, filename, value FROM Cache WHERE raw = 1 AND key IN "
            f"({','.join('?' * len(keys))}) AND (expire_time IS NULL OR expire_time > ?)"
        )
        try:
            rows = self._reader().execute(select, (*keys, time.time())).fetchall()
            disk = self.store.disk
            return {k: disk.fetch(mode, name, value, False) for k, mode, name, value in rows}
        except (AttributeError, TypeError, OSError, sqlite3.Error):
            found = {k: read_value(self.store, k) for k in keys}
            return {k: v for k, v in found.items() if v is not None}

    def _reader(self) -> sqlite3.Connection:
        """This thread's read-only connection to the store's database (opened once)."""
        con = getattr(self._readers, "con", None)
        if con is None:
            db = (Path(self.store.directory) / diskcache.core.DBNAME).resolve()  # a URI is absolute
            con = self._readers.con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
        return con

    def _lookup(
        self, key: str, doc: Mapping[str, Any], raw: Any = _UNREAD
    ) -> dict[str, Any] | None:
        if self.bundle is not None:
            return self._lookup_bundle(key, doc, raw)
        if self.store is None:
            return None
        if raw is _UNREAD:
            try:
                raw = read_value(self.store, key)
            except DAMAGE as e:
                if is_corruption(e):
                    raise unreadable(self.cache_dir, e) from None
                raise
        if raw is None:
            return None
        try:  # the stored document equal to `doc` (just hashed to `key`) is not re-hashed
            return check_entry(key, raw, doc)
        except CorruptEntry as e:
            self._count("corrupt")
            assert self.cache_dir is not None
            quarantine(self.cache_dir, self.store, key, raw)
            if self.mode == "replay":
                raise TamperedEntry(self._tampered_message(key, e)) from None
            return None  # record mode asks again

    def _lookup_bundle(
        self, key: str, doc: Mapping[str, Any], raw: Any = _UNREAD
    ) -> dict[str, Any] | None:
        """As `_lookup`, from the bundle: a bad entry is refused, never moved (read-only)."""
        assert self.bundle is not None
        if raw is _UNREAD:
            raw = self.bundle.get(key)
        if raw is None:
            return None
        try:
            return check_entry(key, raw, doc)
        except CorruptEntry as e:
            self._count("corrupt")
            raise TamperedEntry(
                f"Replay mode: refused the entry for key {key} in the bundle {self.bundle.path}: "
                f"{e}. Run `python -m oracle_cache verify {self.bundle.path}` to list (and "
                "quarantine) every bad entry, then restore the bundle from version control or "
                "record it again."
            ) from None

    def _tampered_message(self, key: str, err: CorruptEntry) -> str:
        return (
            f"Replay mode: refused the stored answer for key {key} in {self.cache_dir}: {err}. "
            f"It was moved to {self.cache_dir}/{QUARANTINE}. Run `python -m oracle_cache verify "
            f"{self.cache_dir}` to list any others, then re-import the bundle the cache came "
            f"from (`python -m oracle_cache import BUNDLE {self.cache_dir}`) or record it again."
        )

    def _miss_message(self, kind: str, key: str, doc: Mapping[str, Any], context: Any) -> str:
        task = (context or {}).get("task", "unknown task")
        n = sum(len(g) for g in doc["frames"])
        where = (
            f"the bundle {self.bundle.path}" if self.bundle else f"the cache at {self.cache_dir}"
        )
        head = (
            f"Replay mode: {where} has no {kind} answer for key {key} (task {task}, oracle "
            f"{self.name}, {n} frame(s)). The run asked about frames that were never recorded: "
            "its trajectory diverged from the recorded one, the prompt or model changed, or the "
            "answers come from another stack. "
        )
        if self.bundle is not None:
            record = self.record_hint or (
                "`make bench CACHE=record …` (`--cache record`), then add them to the bundle "
                f"with `python -m oracle_cache export CACHE_DIR {self.bundle.path}`"
            )
            return f"{head}Record them with: {record}."
        record = self.record_hint or "`make bench CACHE=record …` (`--cache record`)"
        return (
            f"{head}Record them with: {record}; or import the bundle that holds them with "
            f"`python -m oracle_cache import BUNDLE {self.cache_dir}`."
        )

    def _answer(
        self,
        kind: str,
        doc: dict[str, Any],
        groups: Sequence[Sequence[np.ndarray]],
        context: Mapping[str, Any] | None,
        ask: Callable[[], Any],
        key: str | None = None,
        raw: Any = _UNREAD,
    ) -> dict[str, Any]:
        """`key` and the `raw` stored value may come from a batch that read them ahead."""
        key = key if key is not None else key_of(doc)
        entry = self._lookup(key, doc, raw)
        if entry is not None:
            self._count("hits")
            return entry
        if self.mode == "replay":
            self._count("misses")
            raise CacheMiss(self._miss_message(kind, key, doc, context))
        with self._lock:
            pending = self._inflight.get(key)
            if pending is None:
                pending = self._inflight[key] = Future()
                owner = True
            else:
                owner = False
        if not owner:  # the same query is being asked by another thread: share its answer
            entry = pending.result()
            self._count("hits")
            return entry
        try:
            entry = self._lookup(key, doc)  # another process may have stored it meanwhile
            if entry is not None:
                self._count("hits")
            else:
                self._count("misses")
                entry = self._ask_and_store(kind, key, doc, groups, ask)
            pending.set_result(entry)
            return entry
        except BaseException as e:
            pending.set_exception(e)
            raise
        finally:
            with self._lock:
                self._inflight.pop(key, None)

    def _ask_and_store(
        self,
        kind: str,
        key: str,
        doc: dict[str, Any],
        groups: Sequence[Sequence[np.ndarray]],
        ask: Callable[[], Any],
    ) -> dict[str, Any]:
        self._count("provider_calls")
        try:
            result = ask()
        except Exception:
            self._count("errors")
            raise
        self._add_cost(result.meta)
        entry = {
            "key": key,
            "kind": kind,
            "answer": int(result.level if kind == "rate" else result.label),
            "analysis": result.analysis,
            "meta": dict(result.meta),
            "created": time.time(),
            "frames": doc["frames"],
            "document": doc,
        }
        if self.store is not None:
            if self.keep_frames:
                assert self.cache_dir is not None
                for g, digests in zip(groups, doc["frames"], strict=True):
                    for f, d in zip(g, digests, strict=True):
                        save_frame_png(self.cache_dir / FRAMES, d, f)
            stored = sign_entry(entry)
            entry["digest"] = stored["digest"]
            self.store.set(key, encode_entry(stored))  # durable before the answer is used
        return entry

    # --- Oracle protocol ----------------------------------------------------------------------
    def rate(
        self,
        frames: Sequence[np.ndarray],
        instruction: str,
        levels: int,
        context: Mapping[str, Any] | None = None,
    ) -> Rating:
        return self._rate(frames, instruction, levels, context, None)

    def prefer(
        self,
        frames_a: Sequence[np.ndarray],
        frames_b: Sequence[np.ndarray],
        instruction: str,
        context: Mapping[str, Any] | None = None,
    ) -> Preference:
        return self._prefer(frames_a, frames_b, instruction, context, None)

    def _rate(
        self,
        frames: Sequence[np.ndarray],
        instruction: str,
        levels: int,
        context: Mapping[str, Any] | None,
        ahead: tuple[dict[str, Any], str, Any] | None,
    ) -> Rating:
        """`ahead`: (document, key, stored value) when a batch prepared them (see `_batch`)."""
        groups = [frames]
        doc, key, raw = ahead or (
            self._document("rate", instruction, levels, groups),
            None,
            _UNREAD,
        )
        e = self._answer(
            "rate",
            doc,
            groups,
            context,
            lambda: self.provider.rate(frames, instruction, levels, context),
            key,
            raw,
        )
        return Rating(
            level=e["answer"], analysis=e["analysis"], meta={**e["meta"], "key": e["key"]}
        )

    def _prefer(
        self,
        frames_a: Sequence[np.ndarray],
        frames_b: Sequence[np.ndarray],
        instruction: str,
        context: Mapping[str, Any] | None,
        ahead: tuple[dict[str, Any], str, Any] | None,
    ) -> Preference:
        groups = [frames_a, frames_b]
        doc, key, raw = ahead or (
            self._document("prefer", instruction, None, groups),
            None,
            _UNREAD,
        )
        e = self._answer(
            "prefer",
            doc,
            groups,
            context,
            lambda: self.provider.prefer(frames_a, frames_b, instruction, context),
            key,
            raw,
        )
        return Preference(
            label=e["answer"], analysis=e["analysis"], meta={**e["meta"], "key": e["key"]}
        )

    def _map(self, fn: Callable[[Any], Any], items: list) -> list:
        if self.max_in_flight == 1 or len(items) <= 1:
            return [fn(q) for q in items]
        with ThreadPoolExecutor(min(self.max_in_flight, len(items))) as pool:
            return list(pool.map(fn, items))  # keeps the order of the queries

    def _batch(
        self,
        items: list,
        groups_of: Callable[[Any], Sequence[Sequence[np.ndarray]]],
        document_of: Callable[[Any, list[list[str]]], dict[str, Any]],
        answer: Callable[[Any, tuple[dict[str, Any], str, Any] | None], Any],
    ) -> list:
        """Answers in the order of `items`.

        Hashing every pixel of every frame is most of a replay's time (a 224-px frame is 150 KB,
        ~80 us of sha256). hashlib releases the GIL while it hashes, so frames are hashed in
        threads: by the `max_in_flight` workers that ask at once, or, for a sequential batch,
        by `hash_workers()` threads that run ahead in chunks of `DIGEST_CHUNK` queries while
        this thread reads each chunk's stored answers in one query and answers in order (a
        replay miss still stops the batch at the first query that misses).
        """
        if self.max_in_flight > 1 and len(items) > 1:
            return self._map(lambda q: answer(q, None), items)
        if len(items) < 2 * DIGEST_CHUNK:
            return [answer(q, None) for q in items]
        chunks = [items[i : i + DIGEST_CHUNK] for i in range(0, len(items), DIGEST_CHUNK)]
        pool = ThreadPoolExecutor(hash_workers(), thread_name_prefix="frame-digest")
        try:
            hashed = pool.map(lambda c: [digest_groups(groups_of(q)) for q in c], chunks)
            out = []
            for chunk, digests in zip(chunks, hashed, strict=True):
                docs = [document_of(q, d) for q, d in zip(chunk, digests, strict=True)]
                keys = [key_of(doc) for doc in docs]
                stored = self._read_many(keys)
                out += [
                    answer(q, (doc, key, stored.get(key)))
                    for q, doc, key in zip(chunk, docs, keys, strict=True)
                ]
            return out
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def rate_many(self, queries: Sequence[RateQuery]) -> list[Rating]:
        """Rate a batch, up to `max_in_flight` at once; answers in the order of the queries."""
        return self._batch(
            list(queries),
            lambda q: [q.frames],
            lambda q, d: self._document("rate", q.instruction, q.levels, [q.frames], d),
            lambda q, ahead: self._rate(q.frames, q.instruction, q.levels, q.context, ahead),
        )

    def prefer_many(self, queries: Sequence[PreferQuery]) -> list[Preference]:
        return self._batch(
            list(queries),
            lambda q: [q.frames_a, q.frames_b],
            lambda q, d: self._document("prefer", q.instruction, None, [q.frames_a, q.frames_b], d),
            lambda q, ahead: self._prefer(q.frames_a, q.frames_b, q.instruction, q.context, ahead),
        )

    def stats(self) -> dict[str, Any]:
        """Counters for the run's results: hits, misses, provider_calls, errors, est_cost..."""
        with self._lock:
            out: dict[str, Any] = dict(self.counters)
            out["est_cost"] = round(self.est_cost, 6)
        out.update(mode=self.mode, oracle=self.name)
        if self.bundle is not None:
            out["bundle"] = str(self.bundle.path)
        return out

    def close(self) -> None:
        reader = getattr(self._readers, "con", None)
        if reader is not None:
            reader.close()
            self._readers.con = None
        if self.store is not None:
            self.store.close()

    def __enter__(self) -> CachedOracle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
