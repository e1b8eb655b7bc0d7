"""A tiny ERL-VLM run recorded once, then replayed offline: same metrics, no provider, no socket."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from benchmark.config import RunConfig
from benchmark.loops.online import run
from oracle_cache import CacheMiss

TINY_BUDGET = {
    "total_steps": 360,
    "seed_steps": 60,
    "unsup_steps": 60,
    "feedback_every": 100,
    "queries_per_session": 12,
    "max_queries": 36,
    "eval_every": 180,
    "eval_episodes": 1,
    "max_episode_steps": 90,
    "reward_epochs": 2,
}
TINY_SAC = {"hidden_dim": 32, "batch_size": 32}
LEARNING_COLUMNS = [
    "step",
    "episodes",
    "success_rate",
    "eval_return",
    "train_success",
    "queries",
    "reward_loss",
    "reward_alignment",
]


def _config(tmp_path, mode: str, out: str, seed: int = 0) -> RunConfig:
    return RunConfig(
        task="metaworld/drawer-open",
        method="erl-vlm",
        seed=seed,
        budget="smoke",
        oracle="scripted",
        cache_mode=mode,
        cache_dir=str(tmp_path / "cache"),
        out_dir=str(tmp_path / out),
        budget_overrides=dict(TINY_BUDGET),
        sac=dict(TINY_SAC),
    )


def _disable_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    from oracle_cache import scripted

    def _refuse(*args, **kwargs):
        raise AssertionError("replay called a provider")

    monkeypatch.setattr(scripted.ScriptedTeacher, "rate", _refuse)
    monkeypatch.setattr(scripted.ScriptedTeacher, "prefer", _refuse)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("rr")
    root = run(_config(tmp_path, "record", "recorded"))
    return tmp_path, pd.read_csv(root / "metrics.csv")


def test_replay_reproduces_recorded_metrics(recorded, monkeypatch, no_sockets):
    tmp_path, rec = recorded
    assert rec["queries"].iloc[-1] == TINY_BUDGET["max_queries"]
    assert rec["oracle_calls"].iloc[-1] > 0  # recording really asked the teacher
    _disable_providers(monkeypatch)
    root = run(_config(tmp_path, "replay", "replayed"))
    rep = pd.read_csv(root / "metrics.csv")
    pd.testing.assert_frame_equal(rec[LEARNING_COLUMNS], rep[LEARNING_COLUMNS])
    assert rep["oracle_calls"].iloc[-1] == 0
    assert rep["oracle_misses"].iloc[-1] == 0


def test_replay_of_an_unrecorded_trajectory_fails_with_a_clear_miss(
    recorded, monkeypatch, no_sockets
):
    tmp_path, _ = recorded
    _disable_providers(monkeypatch)
    with pytest.raises(CacheMiss) as err:
        run(_config(tmp_path, "replay", "diverged", seed=1))  # another seed: other frames
    message = str(err.value)
    assert "metaworld/drawer-open" in message
    assert "record" in message  # says how to record the missing rating


def test_resolved_config_names_the_oracle(recorded):
    tmp_path, _ = recorded
    cfg = (tmp_path / "recorded").rglob("config.json")
    text = next(cfg).read_text()
    assert '"provider": "scripted"' in text
    assert dataclasses.asdict(_config(tmp_path, "record", "x"))["budget"] == "smoke"


def test_reward_alignment_is_logged_with_every_evaluation(recorded):
    _, rec = recorded
    alignment = rec["reward_alignment"]
    assert np.isnan(alignment.iloc[0])  # step 0: nothing labelled yet
    # a tiny run's states seldom leave the lowest level, where there is nothing to order (NaN)
    assert alignment.dropna().between(0.0, 1.0).all()
