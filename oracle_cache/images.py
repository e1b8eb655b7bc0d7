"""Frames as PNG: lossless, so a PNG's pixels hash back to the frame digest they were saved as."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def to_uint8_image(frame: np.ndarray) -> np.ndarray:
    """HxW, HxWx1, HxWx3 or HxWx4 uint8; float frames in [0, 1] are scaled (VLMs see 8 bits)."""
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        a = np.clip(
            np.rint(a.astype(np.float64) * (255.0 if a.max(initial=0) <= 1.0 else 1.0)), 0, 255
        )
        a = a.astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ValueError(f"a frame must be HxW, HxWx3 or HxWx4, got shape {a.shape}")
    return np.ascontiguousarray(a)


def png_bytes(frame: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(to_uint8_image(frame)).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def png_base64(frame: np.ndarray) -> str:
    return base64.b64encode(png_bytes(frame)).decode("ascii")


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im).copy()


def is_png_exact(frame: np.ndarray) -> bool:
    """Whether saving as PNG and loading back gives the very same array (dtype and shape too)."""
    a = np.asarray(frame)
    return a.dtype == np.uint8 and (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4)))
