"""VLM oracles (Gemini, OpenAI-compatible, scripted teacher) and the content-hashed rating cache."""

from oracle_cache.cache import CachedOracle
from oracle_cache.factory import build_oracle
from oracle_cache.scripted import ScriptedTeacher
from oracle_cache.types import (
    NO_PREFERENCE,
    PREFER_FIRST,
    PREFER_SECOND,
    CacheMiss,
    Oracle,
    OracleError,
    Preference,
    PreferQuery,
    RateQuery,
    Rating,
)

__all__ = [
    "CachedOracle",
    "ScriptedTeacher",
    "build_oracle",
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
