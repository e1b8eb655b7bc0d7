"""Metric mirrors: TensorBoard scalars by default, W&B only when asked and only if installed."""

from __future__ import annotations

import sys
import types

from benchmark.loops.sinks import MetricSinks


def test_tensorboard_scalars_are_written(tmp_path):
    sinks = MetricSinks(tmp_path, ["tensorboard"], {}, "run")
    sinks.log({"step": 10, "success_rate": 0.5, "reward_loss": float("nan"), "oracle": "x"})
    sinks.close()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    assert acc.Tags()["scalars"] == ["success_rate"]  # NaN and text are skipped
    assert acc.Scalars("success_rate")[0].step == 10


def test_wandb_is_opt_in_and_optional(tmp_path, monkeypatch, caplog):
    calls = []
    fake = types.SimpleNamespace(
        init=lambda **kw: types.SimpleNamespace(
            log=lambda d, step: calls.append((step, d)), finish=lambda: calls.append("finish")
        )
    )
    monkeypatch.setitem(sys.modules, "wandb", fake)
    MetricSinks(tmp_path, [], {}, "off").log({"step": 1, "success_rate": 1.0})
    assert calls == []  # not asked for: nothing sent
    sinks = MetricSinks(tmp_path, ["wandb"], {"a": 1}, "on")
    sinks.log({"step": 2, "success_rate": 1.0})
    sinks.close()
    assert calls == [(2, {"success_rate": 1.0}), "finish"]
    monkeypatch.setitem(sys.modules, "wandb", None)  # not installed: a warning, no failure
    MetricSinks(tmp_path, ["wandb"], {}, "missing").log({"step": 3, "success_rate": 0.0})
    assert "not installed" in caplog.text
