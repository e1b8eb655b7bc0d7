"""Export the oracle cache a submission used as a portable bundle (the vlm track ships it).

Uses `oracle_cache.bundle`'s export when that module provides one; otherwise writes the same
kind of thing itself: one JSON line per cache entry, sorted by key, so the bundle is
deterministic and its digest stable.
"""

from __future__ import annotations

import json
from pathlib import Path


def export_cache_bundle(cache_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the bundle of every entry in `cache_dir` to `out_dir` (created); returns out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        from oracle_cache import bundle as oracle_bundle  # type: ignore[attr-defined]
    except ImportError:
        oracle_bundle = None
    export = getattr(oracle_bundle, "export_bundle", None) if oracle_bundle else None
    if export is not None:
        export(cache_dir, out_dir)
        return out_dir
    import diskcache

    with diskcache.Cache(str(cache_dir)) as store:
        entries = [store[k] for k in sorted(store.iterkeys())]
    lines = [json.dumps(e, sort_keys=True, default=str) for e in entries if isinstance(e, dict)]
    (out_dir / "entries.jsonl").write_text("".join(line + "\n" for line in lines))
    (out_dir / "bundle.json").write_text(
        json.dumps({"format": "jsonl entries, sorted by key", "entries": len(lines)}, indent=2)
        + "\n"
    )
    return out_dir
