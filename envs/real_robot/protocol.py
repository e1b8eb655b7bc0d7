"""The wire format between the benchmark (client) and a robot server.

One request, one reply, over a ZeroMQ REQ/REP pair. Each message is a multipart frame list:
part 0 is a msgpack map (the header), parts 1.. are raw image buffers described by the header's
`frames` list, so camera images cross the wire without a serialisation pass.

Every header carries `v` (the protocol version). A server refuses any version it does not speak
with `error="version_mismatch"` instead of guessing, because a misread action on a real arm is a
safety problem, not a parse error. Requests also carry a client `session` id and a sequence
number `seq`: a client that timed out resends the same `seq`, and the server answers it from its
last reply instead of applying the action twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)

#: requests a server understands; `status` is read-only and never feeds the watchdog
OPS: tuple[str, ...] = ("hello", "reset", "step", "stop", "estop", "release_estop", "status")

#: error codes a reply may carry (the `reason` field says what to do about it)
ERRORS: tuple[str, ...] = (
    "version_mismatch",
    "malformed",
    "unknown_op",
    "refused",  # a safety refusal: NaN/inf, wrong shape, ...
    "estopped",  # the emergency-stop latch is set
    "halted",  # the watchdog stopped the robot; reset to continue
    "not_ready",  # step before reset
    "adapter_error",  # the user's adapter raised
)


class ProtocolError(RuntimeError):
    """The other side sent something this version of the protocol cannot accept."""


class RobotError(RuntimeError):
    """The server answered with an error; `code` is one of ERRORS."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"robot server refused the request ({code}): {reason}")
        self.code = code
        self.reason = reason


class VersionMismatch(RobotError):
    pass


@dataclass(frozen=True)
class FrameMeta:
    camera: str
    shape: tuple[int, ...]
    dtype: str
    #: seconds since the epoch when the camera image was read (server clock)
    t: float

    def to_wire(self) -> dict[str, Any]:
        return {"camera": self.camera, "shape": list(self.shape), "dtype": self.dtype, "t": self.t}


def encode(header: dict[str, Any], frames: list[np.ndarray] | None = None) -> list[Any]:
    """Header first, then each frame's bytes (C-contiguous, zero-copy where possible)."""
    parts: list[Any] = [msgpack.packb(header, use_bin_type=True)]
    for frame in frames or []:
        parts.append(memoryview(np.ascontiguousarray(frame)))
    return parts


def decode(parts: list[bytes | Any]) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Inverse of `encode`; raises ProtocolError on anything that is not a valid message."""
    if not parts:
        raise ProtocolError("empty message")
    try:
        header = msgpack.unpackb(bytes(parts[0]), raw=False, strict_map_key=False)
    except Exception as err:  # msgpack raises several unrelated types
        raise ProtocolError(f"header is not msgpack: {err}") from err
    if not isinstance(header, dict):
        raise ProtocolError(f"header must be a map, got {type(header).__name__}")
    metas = header.get("frames", [])
    if len(metas) != len(parts) - 1:
        raise ProtocolError(f"header lists {len(metas)} frames but {len(parts) - 1} buffers came")
    frames = []
    for meta, buf in zip(metas, parts[1:], strict=True):
        try:
            arr = np.frombuffer(buf, dtype=np.dtype(meta["dtype"])).reshape(meta["shape"])
        except (KeyError, TypeError, ValueError) as err:
            raise ProtocolError(f"frame {meta!r} does not match its buffer: {err}") from err
        frames.append(arr)
    return header, frames


def check_version(header: dict[str, Any]) -> None:
    v = header.get("v")
    if v not in SUPPORTED_VERSIONS:
        raise VersionMismatch(
            "version_mismatch",
            f"message has protocol version {v!r}; this side speaks {list(SUPPORTED_VERSIONS)}. "
            "Run the same vlm-feedback-bench release on the robot server and the client.",
        )
