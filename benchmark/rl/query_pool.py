"""The reference code's query pool: which stored states a feedback session may ask about.

ERL-VLM's reward model keeps its own FIFO of the last 100 episodes
(tunglm2203/erlvlm `reward_model_vlm_rating.py`, `max_size=100`), leaves the unfinished current
episode out, picks distinct episodes (with replacement only when there are fewer episodes than
queries) and one time step in each, never an episode's last step. Drawing from the whole
buffer instead (this suite before) asks about stale early-exploration states all run long.
"""

from __future__ import annotations

import numpy as np


def pool_states(
    episode: np.ndarray,
    chronological: np.ndarray,
    last_finished: int,
    pool: int,
    count: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """`count` single-state segments (index arrays of length 1) from the reference's pool.

    `episode` is the episode number of every stored transition, `chronological` a key that
    sorts them in the order they were stored (the buffer may have wrapped), `last_finished` the
    newest finished episode (-1: none yet; then the unfinished one is all there is), `pool` the
    number of newest finished episodes on offer.
    """
    if len(episode) == 0 or count <= 0:
        return []
    ids = np.unique(episode[episode <= last_finished])[-pool:]
    if len(ids) == 0:
        ids = np.unique(episode)
    chosen = rng.choice(ids, size=count, replace=len(ids) < count)
    steps: dict[int, np.ndarray] = {}
    out = []
    for e in chosen.tolist():
        if e not in steps:
            pos = np.flatnonzero(episode == e)
            steps[e] = pos[np.argsort(chronological[pos], kind="stable")]
        pos = steps[e]
        # never the episode's last step (unless it has only one)
        out.append(pos[[int(rng.integers(max(1, len(pos) - 1)))]])
    return out
