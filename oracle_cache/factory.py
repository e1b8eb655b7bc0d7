"""Build an oracle by provider name, wrapped in the cache."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from oracle_cache.cache import CachedOracle
from oracle_cache.replay import ReplayOnlyProvider
from oracle_cache.types import Provider

PROVIDERS = ("scripted", "gemini", "openai")


def _provider_class(provider: str) -> type:
    if provider == "scripted":
        from oracle_cache.scripted import ScriptedTeacher

        return ScriptedTeacher
    if provider == "gemini":
        from oracle_cache.gemini import GeminiProvider

        return GeminiProvider
    if provider == "openai":
        from oracle_cache.openai_compat import OpenAICompatProvider

        return OpenAICompatProvider
    raise ValueError(
        f"Unknown oracle provider {provider!r}; choose one of {', '.join(PROVIDERS)} "
        "(e.g. ORACLE=scripted, or --oracle gemini with GEMINI_API_KEY set)"
    )


def _accepted(cls: type) -> list[str]:
    names: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names += [p.name for p in params if p.name != "self" and p.kind != p.VAR_KEYWORD]
    return sorted(set(names))


def make_provider(provider: str, options: dict[str, Any] | None = None) -> Provider:
    cls = _provider_class(provider)
    options = dict(options or {})
    unknown = sorted(set(options) - set(_accepted(cls)))
    if unknown:
        raise ValueError(
            f"oracle {provider!r} has no option(s) {unknown}; it accepts "
            f"{_accepted(cls) + ['keep_frames', 'max_in_flight']}"
        )
    return cls(**options)


def build_oracle(
    provider: str,
    mode: str = "record",
    cache_dir: str | Path | None = ".cache/oracle",
    options: dict[str, Any] | None = None,
    bundle: str | Path | None = None,
) -> CachedOracle:
    """An oracle by provider name (scripted | gemini | openai), wrapped in the cache.

    `options` go to the provider, except `max_in_flight` (queries asked at once by
    rate_many/prefer_many; default 1 for scripted, 8 otherwise) and `keep_frames` (also store
    each queried frame as a PNG by digest, for audits and bundles), which configure the cache.
    `bundle`: replay straight from this bundle, read-only (mode must be "replay").
    """
    options = dict(options or {})
    max_in_flight = int(options.pop("max_in_flight", 1 if provider == "scripted" else 8))
    keep_frames = bool(options.pop("keep_frames", False))
    prov: Provider = make_provider(provider, options)
    if mode == "replay":
        # replay never calls a provider, so it must not need one (no SDK, no API key)
        prov = ReplayOnlyProvider(prov)
    return CachedOracle(
        prov, mode, cache_dir, max_in_flight=max_in_flight, keep_frames=keep_frames, bundle=bundle
    )
