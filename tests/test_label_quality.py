"""Label quality from a cache: the confusion of the scripted teacher's ratings, and its summary."""

from __future__ import annotations

import math

import numpy as np

from oracle_cache import RateQuery, build_oracle
from oracle_cache.summary import label_quality, rating_confusion


def test_label_quality_on_a_hand_computed_matrix():
    # rows: true level; columns: answered level
    m = np.array([[6, 3, 1], [1, 4, 0], [0, 1, 4]])
    q = label_quality(m)
    assert q["ratings"] == 20
    assert q["accuracy"] == 14 / 20
    assert q["true_top_share"] == 5 / 20
    assert q["top_precision"] == 4 / 5  # 5 top answers, 4 of them truly top


def test_label_quality_with_no_top_answers_is_nan_not_an_error():
    q = label_quality(np.array([[3, 0], [2, 0]]))
    assert math.isnan(q["top_precision"]) and q["accuracy"] == 3 / 5


def test_rating_confusion_counts_every_scripted_rating_by_its_true_level(tmp_path):
    rng = np.random.default_rng(0)
    progress = [0.05, 0.1, 0.2, 0.5, 0.55, 0.9, 0.95, 0.99]
    queries = [
        RateQuery(
            [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)],
            "close the drawer",
            levels,
            {"task": "metaworld/drawer-close", "progress": p},
        )
        for levels in (2, 3)
        for p in progress
    ]
    oracle = build_oracle("scripted", "record", tmp_path / "c", {"accuracy": 0.5})
    ratings = oracle.rate_many(queries)
    oracle.close()

    confusion = rating_confusion(tmp_path / "c")
    assert sorted(confusion) == [2, 3]
    for levels in (2, 3):
        m = confusion[levels]
        assert m.shape == (levels, levels) and m.sum() == len(progress)
        expected = np.zeros((levels, levels), np.int64)
        for q, r in zip(queries, ratings, strict=True):
            if q.levels == levels:
                expected[min(int(q.context["progress"] * levels), levels - 1), r.level] += 1
        np.testing.assert_array_equal(m, expected)
    # at accuracy 0.5 some answers are wrong, so the diagonal cannot hold every rating
    assert sum(np.trace(m) for m in confusion.values()) < 2 * len(progress)
