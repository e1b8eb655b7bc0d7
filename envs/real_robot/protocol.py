"""The wire format between the benchmark (client) and a robot server.

One request, one reply, over a ZeroMQ REQ/REP pair. Each message is a multipart frame list:
part 0 is a msgpack map (the header), parts 1.. are raw image buffers described by the header's
`frames` list, so camera images cross the wire without a serialisation pass.

Every header carries `v` (the protocol version). A server refuses any version it does not speak
with `error="version_mismatch"` instead of guessing, because a misread action on a real arm is a
safety problem, not a parse error. Requests also carry a client `session` id and a sequence
number `seq`: a client that timed out resends the same `seq`, and the server answers it from its
last reply instead of applying the action twice.

`decode` is total: whatever bytes arrive, it returns a checked message or raises ProtocolError,
never another exception, because a server thread that dies on a bad packet is a robot without
an e-stop (issue 25). It also bounds what it accepts: a message size, a number of frames, a
dtype list, and the types of the header fields both sides read.
"""

from __future__ import annotations

import math
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
    "internal",  # a server bug: the request was not executed; the server keeps serving
)

#: room for any request header (an action of a few hundred floats is a few KiB)
HEADER_BUDGET_BYTES = 64 * 1024
#: a message carries at most this many image buffers (one per camera)
MAX_FRAMES = 32
#: image dtypes a frame may declare; anything else is refused before numpy sees it
FRAME_DTYPES: tuple[str, ...] = ("uint8", "uint16", "int16", "int32", "float32", "float64")

#: header fields either side reads, with the types they must have when present
_INT = "int"
HEADER_FIELDS: dict[str, tuple[Any, ...]] = {
    "v": (_INT,),
    "op": (str,),
    "session": (str,),
    "seq": (_INT,),
    "seed": (_INT, type(None)),
    "reason": (str,),
    "confirm": (str,),
    "action": (list,),
    "frames": (list,),
    "ok": (bool,),
    "error": (str,),
}


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


def _has_type(value: Any, kinds: tuple[Any, ...]) -> bool:
    """isinstance, except that a bool is not an int (msgpack `true` must not read as version 1)."""
    for kind in kinds:
        if kind == _INT:
            if isinstance(value, int) and not isinstance(value, bool):
                return True
        elif isinstance(value, kind):
            return True
    return False


def check_fields(header: dict[str, Any]) -> None:
    """Every known header field that is present has its type; raise ProtocolError otherwise."""
    for key, kinds in HEADER_FIELDS.items():
        if key in header and not _has_type(header[key], kinds):
            names = ", ".join(
                "integer" if k == _INT else getattr(k, "__name__", "nil") for k in kinds
            )
            raise ProtocolError(
                f"field {key!r} must be {names}, got {type(header[key]).__name__} {header[key]!r:.40}"
            )


def _frame(meta: Any, buf: memoryview) -> np.ndarray:
    """One image buffer, checked against its description before numpy touches it."""
    if not isinstance(meta, dict):
        raise ProtocolError(f"a frame description must be a map, got {type(meta).__name__}")
    dtype, shape = meta.get("dtype"), meta.get("shape")
    if not isinstance(dtype, str) or dtype not in FRAME_DTYPES:
        raise ProtocolError(f"frame dtype {dtype!r:.40} is not one of {list(FRAME_DTYPES)}")
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 4
        or not all(_has_type(d, (_INT,)) and d >= 0 for d in shape)
    ):
        raise ProtocolError(f"frame shape {shape!r:.60} is not a list of 1-4 sizes >= 0")
    if not _has_type(meta.get("t", 0.0), (_INT, float)) or not isinstance(
        meta.get("camera", ""), str
    ):
        raise ProtocolError("frame 't' must be a number and 'camera' a string")
    itemsize = np.dtype(dtype).itemsize
    expected = itemsize * math.prod(shape)
    if expected != buf.nbytes:
        raise ProtocolError(
            f"frame {shape} {dtype} needs {expected} bytes, its buffer has {buf.nbytes}"
        )
    return np.frombuffer(buf, dtype=np.dtype(dtype)).reshape(shape)


def _buffers(parts: Any, max_bytes: int | None) -> list[memoryview]:
    if not isinstance(parts, (list, tuple)) or not parts:
        raise ProtocolError("empty message (or not a list of parts)")
    if len(parts) > 1 + MAX_FRAMES:
        raise ProtocolError(f"message has {len(parts)} parts; at most {1 + MAX_FRAMES} allowed")
    bufs = []
    for part in parts:
        try:
            bufs.append(memoryview(part).cast("B"))
        except (TypeError, ValueError) as err:
            raise ProtocolError(f"message part is not bytes: {type(part).__name__}") from err
    total = sum(b.nbytes for b in bufs)
    if max_bytes is not None and total > max_bytes:
        raise ProtocolError(f"message is {total} bytes; this server accepts at most {max_bytes}")
    return bufs


def decode(
    parts: list[bytes | Any], max_bytes: int | None = None
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Inverse of `encode`; raises ProtocolError, and only ProtocolError, on any bad input.

    `max_bytes` bounds the whole message (all parts); a server passes its size limit.
    """
    bufs = _buffers(parts, max_bytes)
    try:
        header = msgpack.unpackb(bufs[0], raw=False, strict_map_key=True)
    except Exception as err:  # msgpack raises several unrelated types
        raise ProtocolError(f"header is not msgpack: {type(err).__name__}: {err}") from err
    if not isinstance(header, dict):
        raise ProtocolError(f"header must be a map, got {type(header).__name__}")
    if not all(isinstance(k, str) for k in header):
        raise ProtocolError("header keys must be strings")
    check_fields(header)
    metas = header.get("frames", [])
    if len(metas) != len(bufs) - 1:
        raise ProtocolError(f"header lists {len(metas)} frames but {len(bufs) - 1} buffers came")
    frames = [_frame(meta, buf) for meta, buf in zip(metas, bufs[1:], strict=True)]
    return header, frames


def check_version(header: dict[str, Any]) -> None:
    v = header.get("v")
    if not _has_type(v, (_INT,)) or v not in SUPPORTED_VERSIONS:  # True == 1 and 1.0 == 1
        raise VersionMismatch(
            "version_mismatch",
            f"message has protocol version {v!r}; this side speaks {list(SUPPORTED_VERSIONS)}. "
            "Run the same vlm-feedback-bench release on the robot server and the client.",
        )
