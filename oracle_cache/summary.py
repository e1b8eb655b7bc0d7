"""`stats` for a cache directory: what it holds, from which oracle, and how the answers spread."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from oracle_cache.entry import CorruptEntry, check_entry, is_signed
from oracle_cache.store import FRAMES, QUARANTINE, existing_store, iter_keys, open_store, read_value


def _oracle_of(entry: dict[str, Any]) -> str:
    ident = entry["document"].get("identity")
    ident = ident if isinstance(ident, dict) else {}
    models = ident.get("models") or ident.get("model") or ""
    if isinstance(models, dict):
        models = "+".join(dict.fromkeys(str(v) for v in models.values()))
    return f"{ident.get('provider', '?')}:{models}"


def _level(value: Any, levels: Any) -> int | None:
    """A recorded true level as an index into the confusion matrix, or None if it is not one."""
    try:
        level = int(value)
    except (TypeError, ValueError):
        return None
    return level if isinstance(levels, int) and 0 <= level < levels else None


def store_stats(cache_dir: str | Path) -> dict[str, Any]:
    """Counts over the entries that pass their checks; the others are counted, not read.

    An existing cache only (NotACache otherwise: stats never creates one).
    """
    cache_dir = Path(cache_dir)
    kinds: Counter[str] = Counter()
    oracles: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    truths: dict[int, np.ndarray] = {}
    prompts: Counter[str] = Counter()
    created: list[float] = []
    corrupt = unsigned = 0
    with existing_store(cache_dir) as store:
        for key in list(iter_keys(store, cache_dir)):
            try:
                e = check_entry(key, read_value(store, key))
            except CorruptEntry:
                corrupt += 1
                continue
            unsigned += not is_signed(e)
            kinds[e["kind"]] += 1
            oracles[_oracle_of(e)] += 1
            prompts[str(e["document"].get("prompt_version"))] += 1
            levels = e["document"].get("levels")
            label = f"rate/{levels} levels" if e["kind"] == "rate" else "prefer"
            answers[f"{label}: {e['answer']}"] += 1
            truth = _level((e.get("meta") or {}).get("true_level"), levels)
            if e["kind"] == "rate" and isinstance(levels, int) and truth is not None:
                m = truths.setdefault(levels, np.zeros((levels, levels), np.int64))
                m[truth, e["answer"]] += 1  # check_entry keeps the answer in 0..levels-1
            if isinstance(e["created"], (int, float)):
                created.append(float(e["created"]))
    quarantined = 0
    if (cache_dir / QUARANTINE).exists():
        with open_store(cache_dir / QUARANTINE) as q:
            quarantined = len(q)
    frames = len(list((cache_dir / FRAMES).rglob("*.png"))) if (cache_dir / FRAMES).exists() else 0
    size = sum(p.stat().st_size for p in cache_dir.rglob("*") if p.is_file())
    return {
        "cache_dir": str(cache_dir),
        "entries": sum(kinds.values()),
        "by_kind": dict(kinds),
        "by_oracle": dict(oracles),
        "by_prompt_version": dict(prompts),
        "answers": dict(sorted(answers.items())),
        "rating_confusion": {
            str(n): {**label_quality(m), "matrix": m.tolist()} for n, m in sorted(truths.items())
        },
        "corrupt_unverified": corrupt,
        "unsigned": unsigned,
        "quarantined": quarantined,
        "frames": frames,
        "bytes_on_disk": size,
        "first_recorded": min(created) if created else None,
        "last_recorded": max(created) if created else None,
    }


def label_quality(confusion: np.ndarray) -> dict[str, float | int]:
    """How trustworthy a set of ratings was, from its confusion matrix (rows: true level).

    Only an oracle that knows the truth (the scripted teacher records `true_level`) has one.
    Accuracy alone hides what a reward model suffers from: with few levels, a wrong answer about
    a level-0 state often lands on the top level, so most "top" answers can be wrong while the
    accuracy stays at the teacher's 0.7. `top_precision` is the share of top answers that were
    truly top; `true_top_share` is how many rated states were truly top.
    """
    m = np.asarray(confusion, dtype=np.int64)
    n = int(m.sum())
    top_answers = int(m[:, -1].sum())
    return {
        "ratings": n,
        "accuracy": float(np.trace(m) / n) if n else float("nan"),
        "true_top_share": float(m[-1].sum() / n) if n else float("nan"),
        "top_precision": float(m[-1, -1] / top_answers) if top_answers else float("nan"),
    }


def rating_confusion(cache_dir: str | Path) -> dict[int, np.ndarray]:
    """Per number of levels, the true-vs-answered count matrix of a cache's rating entries."""
    return {
        int(n): np.asarray(doc["matrix"], dtype=np.int64)
        for n, doc in store_stats(cache_dir)["rating_confusion"].items()
    }
