"""Rate queries with random frames, shared by the cache and bundle tests (one copy, not three)."""

from __future__ import annotations

import numpy as np

from oracle_cache import RateQuery


def rate_queries(n: int, seed: int = 0) -> list[RateQuery]:
    """`n` drawer-open rate queries with random 8x8 frames; the same `seed` gives the same keys."""
    rng = np.random.default_rng(seed)
    return [
        RateQuery(
            [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)],
            "open the drawer",
            3,
            {"task": "metaworld/drawer-open", "progress": float(rng.random())},
        )
        for _ in range(n)
    ]
