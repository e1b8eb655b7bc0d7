"""Camera frames kept on disk so the oracle can be asked about any state, long after the step.

A simulator redraws a stored state from its snapshot; a real robot cannot, so the client keeps
every frame that entered the replay buffer. Holding 224-px frames for a 50k-step run in memory
would take 7.5 GB, so frames are zlib-compressed (lossless: the oracle's cache keys hash the
exact pixels) and appended to one file per store. The snapshot the buffer keeps is three exact
float64 integers: the store's random 96-bit id as two halves, and the frame's index. A resumed
run reopens the store that an old snapshot names, so a checkpointed buffer stays rateable.
"""

from __future__ import annotations

import os
import secrets
import struct
import threading
import zlib
from pathlib import Path

import numpy as np

_RECORD = struct.Struct("<QIIII")  # frame index, height, width, channels, compressed length
_HALF = 1 << 48  # each id half fits a float64 mantissa exactly


def default_root() -> Path:
    env = os.environ.get("VLMBENCH_FRAME_DIR")
    if env:
        return Path(env)
    return (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "vlm-feedback-bench"
        / ("robot-frames")
    )


class FrameStore:
    """Append-only, lossless, on-disk frames addressed by (store id, index)."""

    def __init__(self, root: str | Path | None = None, store_id: tuple[int, int] | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.id = store_id or (secrets.randbelow(_HALF), secrets.randbelow(_HALF))
        self.path = self.root / f"{self.id[0]:012x}{self.id[1]:012x}.frames"
        self._offsets: list[tuple[int, int, tuple[int, int, int]]] = []
        self._lock = threading.Lock()
        self._fh = None
        self._others: dict[tuple[int, int], FrameStore] = {}
        if self.path.exists():
            self._scan()

    def _scan(self) -> None:
        """Rebuild the index of an existing store; a torn last record (a killed run) is cut."""
        with open(self.path, "rb") as fh:
            data_end = 0
            while True:
                head = fh.read(_RECORD.size)
                if len(head) < _RECORD.size:
                    break
                idx, h, w, c, n = _RECORD.unpack(head)
                start = fh.tell()
                fh.seek(n, os.SEEK_CUR)
                if fh.tell() > os.path.getsize(self.path) or idx != len(self._offsets):
                    break
                self._offsets.append((start, n, (h, w, c)))
                data_end = start + n
        if data_end < os.path.getsize(self.path):
            with open(self.path, "r+b") as fh:
                fh.truncate(data_end)

    def __len__(self) -> int:
        return len(self._offsets)

    def put(self, frame: np.ndarray) -> np.ndarray:
        """Store a frame; return its snapshot vector [id_hi, id_lo, index] (float64)."""
        frame = np.ascontiguousarray(frame, np.uint8)
        if frame.ndim != 3:
            raise ValueError(f"frames are HxWxC arrays, got shape {frame.shape}")
        blob = zlib.compress(frame.tobytes(), 1)
        with self._lock:
            if self._fh is None:
                self.root.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "ab")  # noqa: SIM115 - kept open across puts
            idx = len(self._offsets)
            self._fh.write(_RECORD.pack(idx, *frame.shape, len(blob)))
            start = self._fh.tell()
            self._fh.write(blob)
            self._fh.flush()
            self._offsets.append((start, len(blob), frame.shape))
        return np.array([self.id[0], self.id[1], idx], np.float64)

    def get(self, snapshot: np.ndarray) -> np.ndarray:
        """The frame a snapshot names, from this store or the older one it came from."""
        snap = np.asarray(snapshot, np.float64).ravel()
        if snap.shape != (3,):
            raise ValueError(f"a robot snapshot has 3 entries, got {snap.shape}")
        sid, idx = (int(snap[0]), int(snap[1])), int(snap[2])
        if sid != self.id:
            other = self._others.get(sid)
            if other is None:
                other = FrameStore(self.root, sid)
                if not len(other):
                    raise KeyError(
                        f"snapshot names frame store {other.path}, which is missing or empty; "
                        "frames of a resumed run live in $VLMBENCH_FRAME_DIR (keep that folder)"
                    )
                self._others[sid] = other
            return other.get(snapshot)
        with self._lock:
            if not 0 <= idx < len(self._offsets):
                raise KeyError(f"frame {idx} is not in store {self.path} ({len(self)} frames)")
            start, n, shape = self._offsets[idx]
            if self._fh is not None:
                self._fh.flush()
        with open(self.path, "rb") as fh:
            fh.seek(start)
            blob = fh.read(n)
        return np.frombuffer(zlib.decompress(blob), np.uint8).reshape(shape)

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
        for other in self._others.values():
            other.close()

    def delete(self, snapshots: np.ndarray | None = None) -> list[Path]:
        """Remove this store and every store the snapshots name; returns the files removed.

        For a finished run: its frames were only kept so the oracle could rate them and a
        resumed run could find them (10-40 KB a step, so GBs per long run). A resumed run's
        buffer names the stores of its earlier processes too, hence the snapshots.
        """
        self.close()
        ids = {self.id, *self._others}
        if snapshots is not None and len(snapshots):
            snap = np.asarray(snapshots, np.float64).reshape(-1, 3)
            ids |= {(int(a), int(b)) for a, b in np.unique(snap[:, :2], axis=0)}
        removed = []
        for sid in ids:
            path = self.root / f"{sid[0]:012x}{sid[1]:012x}.frames"
            if path.exists():
                path.unlink()
                removed.append(path)
        return removed
