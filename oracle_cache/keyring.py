"""API keys from the environment, rotated, and scrubbed from anything that could be written.

Keys live only in this object's memory: never in a cache entry, a log line, an exception
message or a result file. `redact` is applied to every provider error before it is raised.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Sequence

from oracle_cache.types import OracleError


class KeyRing:
    def __init__(self, keys: Sequence[str], env_hint: str) -> None:
        self._keys = [k.strip() for k in keys if k and k.strip()]
        self._env_hint = env_hint
        self._cycle = itertools.cycle(range(len(self._keys))) if self._keys else None
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, *names: str, explicit: str | Sequence[str] | None = None) -> KeyRing:
        """First of `names` that is set wins; each may hold several comma-separated keys."""
        hint = " or ".join(names)
        if explicit:
            keys = explicit.split(",") if isinstance(explicit, str) else list(explicit)
            return cls(keys, hint)
        for name in names:
            value = os.environ.get(name, "")
            if value.strip():
                return cls(value.split(","), hint)
        return cls([], hint)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:  # never show a key, even in a debugger or a traceback
        return f"KeyRing({len(self._keys)} key(s) from {self._env_hint})"

    def next(self) -> tuple[int, str]:
        """(index, key) round-robin, so parallel queries spread over the keys."""
        if self._cycle is None:
            raise OracleError(
                f"no API key: set {self._env_hint} (several keys may be given comma-separated), "
                "or use the scripted oracle / replay mode, which need none"
            )
        with self._lock:
            i = next(self._cycle)
        return i, self._keys[i]

    def redact(self, text: str) -> str:
        for k in self._keys:
            if k:
                text = text.replace(k, "***")
        return text
