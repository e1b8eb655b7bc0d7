"""The README's plug-in example runs through the real runner by reference, like a submission."""

from __future__ import annotations

import pandas as pd

from benchmark.methods.registry import get_method
from benchmark.runner import RunConfig, run
from tests.test_record_replay import TINY_BUDGET, TINY_SAC


def test_example_method_loads_by_reference_and_trains(tmp_path):
    cls = get_method("examples.my_method:RatingRegression")
    assert cls.name == "rating-regression" and cls.query_kind == "rate"
    root = run(
        RunConfig(
            task="metaworld/drawer-open",
            method="examples.my_method:RatingRegression",
            seed=0,
            cache_dir=str(tmp_path / "c"),
            out_dir=str(tmp_path / "o"),
            budget_overrides=dict(TINY_BUDGET),
            sac=dict(TINY_SAC),
        )
    )
    metrics = pd.read_csv(root / "metrics.csv")
    assert metrics["queries"].iloc[-1] == TINY_BUDGET["max_queries"]
    assert metrics["reward_loss"].notna().iloc[-1]
    assert '"name": "rating-regression"' in (root / "config.json").read_text()
