"""SACConfig fields added after results were recorded, with the value those results ran with.

A run directory, a leaderboard entry or a protocol written before a field existed names no
value for it; reading it through `with_recorded_defaults` gives the value it actually ran with,
not today's default, so an old run resumed with new code, or an old entry checked against its
protocol, is compared like for like. Kept free of torch so the leaderboard tools can import it.
"""

from __future__ import annotations

from typing import Any

#: field -> what every run ran before the field existed (each was the only behaviour then)
BEFORE_FIELD = {
    "precision": "fp32",  # issue 19: bf16 autocast became a switch
    "matmul": "aten",  # issue 19: fp32 matmuls on oneDNN became the default
}

SAC_PRECISIONS = ("fp32", "bf16")
SAC_MATMULS = ("onednn", "aten")


def with_recorded_defaults(sac: dict[str, Any]) -> dict[str, Any]:
    """`sac` with every field it predates filled in as it ran (an empty dict stays empty: it
    pins nothing, e.g. a protocol of an offline task)."""
    return {**BEFORE_FIELD, **sac} if sac else sac
