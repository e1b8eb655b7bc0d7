"""Smooth random fields over what the camera sees, for teachers whose errors are systematic.

A field maps a point (object and gripper positions, or progress when nothing else is known) to
a number in (0, 1). It is fixed by a text key (teacher seed, instruction, stream), so the same
view always gets the same value and nearby views get similar values, like a VLM at temperature
0 that misreads one region of the scene.

Construction: standard normal values at the integer nodes of a grid (drawn from a hash of the
node and the key), blended over the 2^d corners of the point's cell with smoothstep weights and
divided by the weights' L2 norm. A weighted sum of independent standard normals with unit L2
weight is itself standard normal, so at every point the value is exactly N(0, 1) over the
field's randomness; the normal CDF then makes it exactly uniform. That is what lets a teacher
threshold the field at its error rate and still be calibrated, wherever its states lie.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from functools import cache

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
#: more dimensions than this would blend 2^d corners per point; views are a few positions
MAX_DIMS = 14


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijective scramble of uint64 (wraps modulo 2^64 by design)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def key_seed(key: str) -> np.uint64:
    """64 bits of sha256 of the field's text key."""
    return np.uint64(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little"))


@cache
def _corners(d: int) -> np.ndarray:
    return np.array(list(itertools.product((0, 1), repeat=d)), dtype=np.int64)


def _node_normals(nodes: np.ndarray, seed: np.uint64) -> np.ndarray:
    """One standard normal per grid node (rows of int64 coordinates), by Box-Muller."""
    h = np.full(len(nodes), seed, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(nodes.shape[1]):
            coord = nodes[:, i].astype(np.int64).view(np.uint64)
            h = _mix(h ^ (coord + _GOLDEN * np.uint64(i + 1)))
        h2 = _mix(h + _GOLDEN)
    u1 = ((h >> np.uint64(11)).astype(np.float64) + 1.0) / 2.0**53  # in (0, 1]
    u2 = (h2 >> np.uint64(11)).astype(np.float64) / 2.0**53
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def gaussian_field(point: Sequence[float], key: str) -> float:
    """The field's N(0, 1) value at `point` (already divided by the lengthscale)."""
    x = np.asarray(point, dtype=np.float64).ravel()
    if not 1 <= x.size <= MAX_DIMS or not np.all(np.isfinite(x)):
        raise ValueError(
            f"a field point needs 1 to {MAX_DIMS} finite coordinates, got {x.size}: pass a view "
            "of a few positions (e.g. gripper and object xyz)"
        )
    base = np.floor(x)
    frac = x - base
    s = frac * frac * (3.0 - 2.0 * frac)  # smoothstep: C1 across cell faces
    corners = _corners(x.size)
    w = np.prod(np.where(corners == 1, s, 1.0 - s), axis=1)
    z = _node_normals(base.astype(np.int64) + corners, key_seed(key))
    return float(w @ z / math.sqrt(float(w @ w)))


def uniform_field(point: Sequence[float], key: str) -> float:
    """The field's value at `point`, exactly uniform on (0, 1) over the field's randomness."""
    return 0.5 * math.erfc(-gaussian_field(point, key) / math.sqrt(2.0))
