"""Replay mode's stand-in provider: it knows how to compute keys, and refuses to be asked.

It takes its identity and prompts from the real provider class (providers create their network
clients lazily, so constructing one needs no SDK connection and no API key), and makes the
"never call a provider in replay" rule structural rather than a promise.
"""

from __future__ import annotations

from typing import Any

from oracle_cache.types import OracleError


class ReplayOnlyProvider:
    def __init__(self, provider: str, options: dict[str, Any] | None = None) -> None:
        from oracle_cache.factory import make_provider

        self._inner = make_provider(provider, options)
        self.name = getattr(self._inner, "name", provider)
        self.prompt_version = self._inner.prompt_version

    def identity(self) -> dict[str, Any]:
        return self._inner.identity()

    def prompt(self, kind: str, instruction: str, levels: int | None, n_frames: int = 1) -> str:
        try:
            return self._inner.prompt(kind, instruction, levels, n_frames=n_frames)
        except TypeError:
            return self._inner.prompt(kind, instruction, levels)

    def rate(self, *args: Any, **kwargs: Any) -> Any:
        raise OracleError("replay mode never calls a provider")

    prefer = rate
