"""The plug-in example of docs/methods.md (examples/my_method.py), loaded by reference like a submission: against the fake buffer
and oracle of the method tests, then through the real runner."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.config import RunConfig
from benchmark.loops.online import run
from benchmark.methods.registry import get_method
from tests.test_methods import FakeBuffer, FakeFeedback, make_task, rank_corr
from tests.test_record_replay import TINY_BUDGET, TINY_SAC


def test_example_method_by_reference_against_a_fake_buffer():
    cls = get_method("examples.my_method:RatingRegression")
    method = cls(make_task(), cls.Config.from_overrides({"reward_epochs": 200}), seed=0)
    assert not method.is_ready and not method.needs_frames
    buffer = FakeBuffer()
    feedback = FakeFeedback(buffer)
    for _ in range(2):
        stats = method.query_and_update(buffer, feedback, 50)
    assert method.is_ready and stats["labels"] == 100 == len(feedback.asked)
    obs = buffer.observations(np.arange(buffer.size))
    assert rank_corr(method.reward(np.empty((buffer.size, 0)), obs), buffer.progress) > 0.8
    resumed = cls(make_task(), method.config, seed=0)
    resumed.load_state_dict(method.state_dict())
    assert np.array_equal(resumed.reward(None, obs), method.reward(None, obs))


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
