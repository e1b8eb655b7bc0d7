"""Replay mode's stand-in provider: it knows how to compute keys, and refuses to be asked.

It takes its identity and prompts from the real provider it is given (providers create their
network clients lazily, so constructing one needs no SDK connection and no API key), and makes
the "never call a provider in replay" rule structural rather than a promise.
"""

from __future__ import annotations

from typing import Any

from oracle_cache.types import OracleError, Provider


class ReplayOnlyProvider:
    def __init__(self, inner: Provider) -> None:
        self._inner = inner
        self.name = inner.name
        self.prompt_version = inner.prompt_version

    def identity(self) -> dict[str, Any]:
        return self._inner.identity()

    def prompt(self, kind: str, instruction: str, levels: int | None, n_frames: int = 1) -> str:
        return self._inner.prompt(kind, instruction, levels, n_frames=n_frames)

    def rate(self, *args: Any, **kwargs: Any) -> Any:
        raise OracleError("replay mode never calls a provider")

    prefer = rate
