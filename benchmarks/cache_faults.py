"""Fault campaign for the oracle cache: flip random bytes in a bundle and in cache.db, then
import, verify and replay, and count what happened. Nothing may end in a traceback or in a
served answer that differs from the recorded one.

    .venv/bin/python benchmarks/cache_faults.py [--flips 200] [--entries 70] [--seed 25]

Prints one JSON document: per target, how the faults were met (refused whole, entries left
out or refused, no effect, unreadable cache) plus `wrong_answers_served` and `tracebacks`
(both must be 0) and `entries_lost`: after each cache.db fault, the documented repair is
followed (`verify`, then `import` of the bundle; a cache that is not readable is moved aside
and rebuilt from the bundle) and every recorded answer must replay again (must be 0).
tests/test_abuse_cache.py runs a smaller campaign.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from oracle_cache import CacheMiss, RateQuery, build_oracle  # noqa: E402
from oracle_cache.cli import main  # noqa: E402
from oracle_cache.errors import CacheInputError  # noqa: E402


def _queries(n: int) -> list[RateQuery]:
    rng = np.random.default_rng(0)
    return [
        RateQuery(
            [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)],
            "open the drawer",
            3,
            {"task": "metaworld/drawer-open", "progress": float(rng.random())},
        )
        for _ in range(n)
    ]


#: the first tracebacks met, as `type: message` (there should be none)
TRACEBACKS: list[str] = []


def _traceback(e: BaseException) -> None:
    if len(TRACEBACKS) < 5:
        tb = traceback.extract_tb(e.__traceback__)[-1]
        where = f"{Path(tb.filename).name}:{tb.lineno}"
        TRACEBACKS.append(f"{type(e).__name__} at {where}: {str(e)[:200]}")


def _cli(*argv: object) -> tuple[int, str]:
    """Exit code and stderr of one CLI call; a traceback counts as exit code -1."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            rc = main([str(a) for a in argv])
    except Exception as e:  # noqa: BLE001  (what this campaign counts)
        _traceback(e)
        return -1, err.getvalue()
    return rc, err.getvalue()


def _flip(path: Path, rng: np.random.Generator) -> None:
    data = bytearray(path.read_bytes())
    data[int(rng.integers(len(data)))] ^= int(rng.integers(1, 256))
    path.write_bytes(bytes(data))


def _replay(cache: Path, qs: list[RateQuery], want: list) -> tuple[str, int]:
    """('served' | 'refused some' | 'unreadable' | 'traceback', wrong answers served)."""
    try:
        oracle = build_oracle("scripted", "replay", cache)
        wrong, refused = 0, 0
        for q, w in zip(qs, want, strict=True):
            try:
                got = oracle.rate(q.frames, q.instruction, q.levels, q.context)
                wrong += got != w
            except CacheMiss:
                refused += 1
        oracle.close()
    except CacheInputError:
        return "unreadable", 0
    except Exception as e:  # noqa: BLE001
        _traceback(e)
        return "traceback", 0
    return ("refused some" if refused else "served"), wrong


def bundle_campaign(work: Path, flips: int, rng: np.random.Generator) -> dict:
    outcomes: Counter[str] = Counter()
    for i in range(flips):
        w = work / f"b{i}"
        shutil.copytree(work / "bundle", w / "b")
        _flip(w / "b/entries.jsonl", rng)
        rc, _ = _cli("import", w / "b", w / "fresh")
        outcomes["bundle dir: " + {2: "refused whole", -1: "traceback"}.get(rc, f"rc {rc}")] += 1
        rc, _ = _cli("import", w / "b/entries.jsonl", w / "bare")
        label = {0: "all imported", 1: "bad lines left out", 2: "refused whole", -1: "traceback"}
        outcomes["bare .jsonl: " + label.get(rc, f"rc {rc}")] += 1
        shutil.rmtree(w)
    return dict(sorted(outcomes.items()))


def db_campaign(work: Path, flips: int, rng: np.random.Generator, qs: list, want: list) -> dict:
    outcomes: Counter[str] = Counter()
    wrong = lost = 0
    for i in range(flips):
        w = work / f"c{i}"
        shutil.copytree(work / "cache", w)
        _flip(w / "cache.db", rng)
        rc, _ = _cli("verify", "--no-quarantine", w)
        verdict = {0: "verify ok", 1: "verify: bad entries", 2: "unreadable", -1: "traceback"}
        outcomes[verdict.get(rc, f"rc {rc}")] += 1
        how, bad = _replay(w, qs, want)
        outcomes[f"replay: {how}"] += 1
        wrong += bad
        lost += _repair_and_count_lost(w, work / "bundle", qs, want)
        shutil.rmtree(w)
        shutil.rmtree(w.with_name(w.name + ".broken"), ignore_errors=True)
    return {"outcomes": dict(sorted(outcomes.items())), "wrong_answers_served": wrong, "lost": lost}


def _repair_and_count_lost(cache: Path, bundle: Path, qs: list, want: list) -> int:
    """Follow the documented repair, then count recorded answers that do not replay."""
    if _cli("verify", cache)[0] == 2:
        cache.rename(cache.with_name(cache.name + ".broken"))
    _cli("import", bundle, cache)
    return sum(r is None for r in _restored(cache, qs, want))


def main_(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flips", type=int, default=200)
    ap.add_argument("--entries", type=int, default=70)
    ap.add_argument("--seed", type=int, default=25)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    qs = _queries(a.entries)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        oracle = build_oracle("scripted", "record", work / "cache")
        want = oracle.rate_many(qs)
        oracle.close()
        assert _cli("export", work / "cache", work / "bundle")[0] == 0
        bundle = bundle_campaign(work, a.flips, rng)
        db = db_campaign(work, a.flips, rng, qs, want)
        lost = db["lost"]
    tracebacks = sum(n for k, n in {**bundle, **db["outcomes"]}.items() if "traceback" in k)
    print(
        json.dumps(
            {
                "flips_per_target": a.flips,
                "entries": a.entries,
                "bundle_entries_jsonl": bundle,
                "cache_db": db["outcomes"],
                "wrong_answers_served": db["wrong_answers_served"],
                "tracebacks": tracebacks,
                "entries_lost": lost,
                "first_tracebacks": TRACEBACKS,
            },
            indent=2,
        )
    )
    return 0 if tracebacks == 0 and db["wrong_answers_served"] == 0 and lost == 0 else 1


def _restored(cache: Path, qs: list, want: list) -> list:
    """Each recorded answer as replayed from a cache rebuilt from the bundle (None if lost)."""
    try:
        oracle = build_oracle("scripted", "replay", cache)
    except CacheInputError:
        return [None] * len(want)
    out = []
    for q, w in zip(qs, want, strict=True):
        try:
            got = oracle.rate(q.frames, q.instruction, q.levels, q.context)
        except CacheMiss:
            got = None
        out.append(got if got == w else None)
    return out


if __name__ == "__main__":
    raise SystemExit(main_())
