"""sha256 digests that tie a submission to its files and to itself.

They are integrity checks, not signatures: anyone can recompute them, but an entry edited by
hand (or a metrics file swapped) no longer matches and the validator says which one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def canonical_json(doc: Any) -> str:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(root: str | Path) -> tuple[str, int]:
    """(digest, file count) of a directory: sha256 over sorted 'relative/path sha256' lines."""
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    lines = "".join(f"{p.relative_to(root).as_posix()} {sha256_file(p)}\n" for p in files)
    return sha256_bytes(lines.encode()), len(files)


def content_digest(doc: dict[str, Any]) -> str:
    """Digest of a submission document without its own `content_sha256` field."""
    body = {k: v for k, v in doc.items() if k != "content_sha256"}
    return sha256_bytes(canonical_json(body).encode())
