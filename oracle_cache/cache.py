"""The content-hashed rating cache in front of any oracle.

Modes: `record` answers from the cache or asks the provider and stores the answer *before*
returning it (a run killed at any moment loses no rating it paid for); `replay` answers from the
cache only and raises `CacheMiss` otherwise (no provider is ever called); `live` bypasses the
cache. The hot store is a `diskcache.Cache` directory (SQLite, safe across processes) that never
evicts. Entries are JSON text (no pickle: a shared cache directory cannot run code) and carry
their own key document; an entry whose document does not hash to its key is quarantined, never
served. Identical queries in flight at once are asked once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import diskcache
import numpy as np

from oracle_cache.keys import canonical_json, frame_digest, key_document, key_of
from oracle_cache.types import CacheMiss, Preference, PreferQuery, RateQuery, Rating

MODES = ("record", "replay", "live")
ENTRY_FIELDS = ("key", "kind", "answer", "analysis", "meta", "created", "frames", "document")
#: a rating store must never drop what was paid for: no size limit, no eviction
STORE_SETTINGS: dict[str, Any] = {
    "size_limit": 2**62,
    "eviction_policy": "none",
    "cull_limit": 0,
    "statistics": False,
}
QUARANTINE = "quarantine"
FRAMES = "frames"


class CorruptEntry(ValueError):
    """A stored entry that does not match its key or lacks fields."""


def open_store(directory: str | Path) -> diskcache.Cache:
    return diskcache.Cache(str(directory), **STORE_SETTINGS)


def decode_entry(raw: Any) -> Any:
    if isinstance(raw, (str, bytes)):
        try:
            return json.loads(raw)
        except ValueError:
            return None
    return raw  # entries written as dicts by an earlier version


def encode_entry(entry: Mapping[str, Any]) -> str:
    return canonical_json(entry)


def check_entry(key: str, entry: Any) -> dict[str, Any]:
    """The entry itself if its fields are there and its document hashes to `key`."""
    entry = decode_entry(entry)
    if not isinstance(entry, dict) or any(f not in entry for f in ENTRY_FIELDS):
        raise CorruptEntry(f"entry {key[:16]}… is missing fields or is not JSON")
    if entry["key"] != key or key_of(entry["document"]) != key:
        raise CorruptEntry(f"entry {key[:16]}… does not hash to its key")
    if not isinstance(entry["answer"], int) or isinstance(entry["answer"], bool):
        raise CorruptEntry(f"entry {key[:16]}… has a non-integer answer")
    return entry


def quarantine(cache_dir: Path, store: diskcache.Cache, key: str, raw: Any) -> None:
    """Move a bad entry aside (kept for inspection) so it can never be served."""
    with open_store(cache_dir / QUARANTINE) as q:
        q.set(key, raw if isinstance(raw, (str, bytes)) else json.dumps(raw, default=str))
    store.delete(key)


def frame_path(frames_dir: Path, digest: str) -> Path:
    return frames_dir / digest[:2] / f"{digest}.png"


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


class CachedOracle:
    """Wraps a provider (anything with identity/prompt/rate/prefer) with the cache."""

    def __init__(
        self,
        provider: Any,
        mode: str = "record",
        cache_dir: str | Path | None = None,
        max_in_flight: int = 1,
        keep_frames: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"cache mode must be one of {MODES}, got {mode!r}")
        if mode != "live" and cache_dir is None:
            raise ValueError(f"cache mode {mode!r} needs a cache directory")
        self.provider = provider
        self.mode = mode
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.store = open_store(self.cache_dir) if mode != "live" else None
        self.max_in_flight = max(1, int(max_in_flight))
        self.keep_frames = keep_frames and self.cache_dir is not None
        self.name = getattr(provider, "name", "oracle")
        self._identity = provider.identity()
        self._lock = threading.Lock()
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
    ) -> dict[str, Any]:
        try:
            text = self.provider.prompt(kind, instruction, levels, n_frames=len(groups[0]))
        except TypeError:  # providers written before prompts knew the number of frames
            text = self.provider.prompt(kind, instruction, levels)
        return key_document(
            self._identity,
            kind,
            self.provider.prompt_version,
            text,
            levels,
            [[frame_digest(f) for f in g] for g in groups],
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

    def _lookup(self, key: str, doc: Mapping[str, Any]) -> dict[str, Any] | None:
        if self.store is None:
            return None
        raw = self.store.get(key)
        if raw is None:
            return None
        entry = decode_entry(raw)
        # fast path: the stored document equals the one just hashed to `key`
        if (
            isinstance(entry, dict)
            and entry.get("key") == key
            and entry.get("document") == doc
            and all(f in entry for f in ENTRY_FIELDS)
            and type(entry["answer"]) is int
        ):
            return entry
        try:
            return check_entry(key, entry)
        except CorruptEntry:
            self._count("corrupt")
            assert self.cache_dir is not None
            quarantine(self.cache_dir, self.store, key, raw)
            return None

    def _miss_message(self, kind: str, key: str, doc: Mapping[str, Any], context: Any) -> str:
        task = (context or {}).get("task", "unknown task")
        n = sum(len(g) for g in doc["frames"])
        return (
            f"Replay mode: the cache at {self.cache_dir} has no {kind} answer for key {key} "
            f"(task {task}, oracle {self.name}, {n} frame(s)). The run asked about frames that "
            "were never recorded: its trajectory diverged from the recorded one, the prompt or "
            "model changed, or the cache comes from another stack. Record the missing answers "
            "with `make bench CACHE=record …` (`--cache record`), or import the bundle that "
            "holds them with `python -m oracle_cache import BUNDLE CACHE_DIR`."
        )

    def _answer(
        self,
        kind: str,
        doc: dict[str, Any],
        groups: Sequence[Sequence[np.ndarray]],
        context: Mapping[str, Any] | None,
        ask: Callable[[], Any],
    ) -> dict[str, Any]:
        key = key_of(doc)
        entry = self._lookup(key, doc)
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
            self.store.set(key, encode_entry(entry))  # durable before the answer is used
        return entry

    # --- Oracle protocol ----------------------------------------------------------------------
    def rate(
        self,
        frames: Sequence[np.ndarray],
        instruction: str,
        levels: int,
        context: Mapping[str, Any] | None = None,
    ) -> Rating:
        groups = [frames]
        doc = self._document("rate", instruction, levels, groups)
        e = self._answer(
            "rate",
            doc,
            groups,
            context,
            lambda: self.provider.rate(frames, instruction, levels, context),
        )
        return Rating(
            level=e["answer"], analysis=e["analysis"], meta={**e["meta"], "key": e["key"]}
        )

    def prefer(
        self,
        frames_a: Sequence[np.ndarray],
        frames_b: Sequence[np.ndarray],
        instruction: str,
        context: Mapping[str, Any] | None = None,
    ) -> Preference:
        groups = [frames_a, frames_b]
        doc = self._document("prefer", instruction, None, groups)
        e = self._answer(
            "prefer",
            doc,
            groups,
            context,
            lambda: self.provider.prefer(frames_a, frames_b, instruction, context),
        )
        return Preference(
            label=e["answer"], analysis=e["analysis"], meta={**e["meta"], "key": e["key"]}
        )

    def _map(self, fn: Callable[[Any], Any], items: list) -> list:
        if self.max_in_flight == 1 or len(items) <= 1:
            return [fn(q) for q in items]
        with ThreadPoolExecutor(min(self.max_in_flight, len(items))) as pool:
            return list(pool.map(fn, items))  # keeps the order of the queries

    def rate_many(self, queries: Sequence[RateQuery]) -> list[Rating]:
        """Rate a batch, up to `max_in_flight` at once; answers in the order of the queries."""
        return self._map(
            lambda q: self.rate(q.frames, q.instruction, q.levels, q.context), list(queries)
        )

    def prefer_many(self, queries: Sequence[PreferQuery]) -> list[Preference]:
        return self._map(
            lambda q: self.prefer(q.frames_a, q.frames_b, q.instruction, q.context), list(queries)
        )

    def stats(self) -> dict[str, Any]:
        """Counters for the run's results: hits, misses, provider_calls, errors, est_cost..."""
        with self._lock:
            out: dict[str, Any] = dict(self.counters)
            out["est_cost"] = round(self.est_cost, 6)
        out.update(mode=self.mode, oracle=self.name)
        return out

    def close(self) -> None:
        if self.store is not None:
            self.store.close()

    def __enter__(self) -> CachedOracle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
