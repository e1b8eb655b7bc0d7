"""VLM oracles (Gemini, OpenAI-compatible, scripted teacher) and the content-hashed rating cache."""

from oracle_cache.types import (
    NO_PREFERENCE,
    PREFER_FIRST,
    PREFER_SECOND,
    CacheMiss,
    Oracle,
    OracleError,
    Preference,
    PreferQuery,
    Rating,
    RateQuery,
)

__all__ = [
    "NO_PREFERENCE",
    "PREFER_FIRST",
    "PREFER_SECOND",
    "CacheMiss",
    "Oracle",
    "OracleError",
    "Preference",
    "PreferQuery",
    "RateQuery",
    "Rating",
]
