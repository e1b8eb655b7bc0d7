"""Content keys: a rating is identified by what was asked, never by when or in which order.

key = sha256 of a canonical JSON document holding the provider, its model(s) and generation
parameters, the query kind, the prompt version and rendered text, the rating levels and every
frame's digest. Privileged context (the scripted teacher's progress) is not part of it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

KEY_SCHEMA = 1


def frame_digest(frame: np.ndarray) -> str:
    """sha256 over dtype, shape and bytes, so a reshaped or recast frame never collides."""
    a = np.ascontiguousarray(frame)
    h = hashlib.sha256(f"{a.dtype.str}|{a.shape}|".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def canonical_json(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def key_document(
    identity: Mapping[str, Any],
    kind: str,
    prompt_version: str,
    prompt_text: str,
    levels: int | None,
    frame_digests: Sequence[Sequence[str]],
) -> dict[str, Any]:
    return {
        "schema": KEY_SCHEMA,
        "identity": dict(identity),
        "kind": kind,
        "prompt_version": prompt_version,
        "prompt": prompt_text,
        "levels": levels,
        "frames": [list(group) for group in frame_digests],
    }


def key_of(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()
