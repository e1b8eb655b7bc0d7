"""Export the oracle cache a submission used as a portable bundle (the vlm track ships it).

The bundle is `oracle_cache.bundle`'s format: one JSON line per cache entry, sorted by key, so
it is deterministic and its digest stable. The source may also be a bundle (runs replayed
from one): its entries are written out the same way, checked on the way.
"""

from __future__ import annotations

from pathlib import Path

from oracle_cache.bundle import export_bundle, is_bundle, merge_bundles


def export_cache_bundle(cache_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the bundle of every entry in `cache_dir` (a cache, or a bundle) to `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if is_bundle(cache_dir):
        merge_bundles(out_dir, [cache_dir], frames=False)
    else:
        export_bundle(cache_dir, out_dir)
    return out_dir
