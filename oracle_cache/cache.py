"""The content-hashed rating cache in front of any oracle.

Modes: `record` answers from the cache or asks the provider and stores the answer *before*
returning it (a run killed at any moment loses no rating it paid for); `replay` answers from the
cache only and raises `CacheMiss` otherwise (no provider is ever called); `live` bypasses the
cache. The hot store is a `diskcache.Cache` directory (SQLite, safe across processes). Entries
carry their own key; an entry whose key does not match is quarantined, never served.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import diskcache
import numpy as np

from oracle_cache.keys import frame_digest, key_document, key_of
from oracle_cache.types import CacheMiss, Preference, PreferQuery, RateQuery, Rating

MODES = ("record", "replay", "live")
ENTRY_FIELDS = ("key", "kind", "answer", "analysis", "meta", "created", "frames", "document")


class CorruptEntry(ValueError):
    """A stored entry that does not match its key or lacks fields."""


def check_entry(key: str, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or any(f not in entry for f in ENTRY_FIELDS):
        raise CorruptEntry(f"entry {key[:16]}… is missing fields")
    if entry["key"] != key or key_of(entry["document"]) != key:
        raise CorruptEntry(f"entry {key[:16]}… does not hash to its key")
    return entry


class CachedOracle:
    """Wraps a provider (anything with identity/prompt/rate/prefer) with the cache."""

    def __init__(
        self,
        provider: Any,
        mode: str = "record",
        cache_dir: str | Path | None = None,
        max_in_flight: int = 1,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"cache mode must be one of {MODES}, got {mode!r}")
        if mode != "live" and cache_dir is None:
            raise ValueError(f"cache mode {mode!r} needs a cache directory")
        self.provider = provider
        self.mode = mode
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.store = diskcache.Cache(str(self.cache_dir)) if mode != "live" else None
        self.max_in_flight = max(1, int(max_in_flight))
        self.name = getattr(provider, "name", "oracle")
        self._lock = threading.Lock()
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
        return key_document(
            self.provider.identity(),
            kind,
            self.provider.prompt_version,
            self.provider.prompt(kind, instruction, levels),
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

    def _lookup(self, key: str) -> dict[str, Any] | None:
        if self.store is None:
            return None
        entry = self.store.get(key)
        if entry is None:
            return None
        try:
            return check_entry(key, entry)
        except CorruptEntry:
            self._count("corrupt")
            quarantine = diskcache.Cache(str(self.cache_dir / "quarantine"))
            quarantine.set(key, entry)
            quarantine.close()
            self.store.delete(key)
            return None

    def _answer(
        self, kind: str, doc: dict[str, Any], context: Mapping[str, Any] | None, ask
    ) -> dict[str, Any]:
        key = key_of(doc)
        entry = self._lookup(key)
        if entry is not None:
            self._count("hits")
            return entry
        self._count("misses")
        if self.mode == "replay":
            task = (context or {}).get("task", "unknown task")
            raise CacheMiss(
                f"Replay mode: the cache at {self.cache_dir} has no {kind} answer for key {key} "
                f"(task {task}, provider {self.name}, {sum(len(g) for g in doc['frames'])} frame(s)). "
                "The run asked about frames that were never recorded: its trajectory diverged from "
                "the recorded one, or the cache comes from another stack. Record the missing answers "
                "with `make bench CACHE=record …` (`--cache record`), or import the bundle that holds "
                "them with `python -m oracle_cache import BUNDLE`."
            )
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
            self.store.set(key, entry)  # durable before the answer is used
        return entry

    # --- Oracle protocol ----------------------------------------------------------------------
    def rate(
        self,
        frames: Sequence[np.ndarray],
        instruction: str,
        levels: int,
        context: Mapping[str, Any] | None = None,
    ) -> Rating:
        doc = self._document("rate", instruction, levels, [frames])
        e = self._answer(
            "rate", doc, context, lambda: self.provider.rate(frames, instruction, levels, context)
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
        doc = self._document("prefer", instruction, None, [frames_a, frames_b])
        e = self._answer(
            "prefer",
            doc,
            context,
            lambda: self.provider.prefer(frames_a, frames_b, instruction, context),
        )
        return Preference(
            label=e["answer"], analysis=e["analysis"], meta={**e["meta"], "key": e["key"]}
        )

    def _map(self, fn, items: list) -> list:
        if self.max_in_flight == 1 or len(items) <= 1:
            return [fn(q) for q in items]
        with ThreadPoolExecutor(self.max_in_flight) as pool:
            return list(pool.map(fn, items))  # keeps the order of the queries

    def rate_many(self, queries: Sequence[RateQuery]) -> list[Rating]:
        return self._map(
            lambda q: self.rate(q.frames, q.instruction, q.levels, q.context), list(queries)
        )

    def prefer_many(self, queries: Sequence[PreferQuery]) -> list[Preference]:
        return self._map(
            lambda q: self.prefer(q.frames_a, q.frames_b, q.instruction, q.context), list(queries)
        )

    def stats(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = dict(self.counters)
            out["est_cost"] = round(self.est_cost, 6)
        out.update(mode=self.mode, oracle=self.name)
        return out

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
