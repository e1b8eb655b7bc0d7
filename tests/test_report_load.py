"""`load_runs` reads finished runs only, and its summaries come from the curve as written."""

import json

import numpy as np
import pytest

from benchmark.analysis.report import load_runs


def _run(root, seed, success, alignment, done=True):
    d = root / "metaworld__drawer-close" / "erl-vlm" / f"seed{seed}"
    d.mkdir(parents=True)
    cfg = {
        "task": {"name": "metaworld/drawer-close"},
        "method": {"name": "erl-vlm"},
        "run": {"seed": seed},
        "budget": {"name": "short"},
        "oracle": {"name": "scripted"},
        "sac": {"precision": "bf16"},
    }
    (d / "config.json").write_text(json.dumps(cfg))
    lines = ["step,success_rate,eval_return,queries,reward_alignment,wall_s"]
    for i, (s, a) in enumerate(zip(success, alignment, strict=True)):
        lines.append(f"{i * 5000},{s},{100 * i},{50 * i},{a},{i}")
    (d / "metrics.csv").write_text("\n".join(lines) + "\n")
    if done:
        (d / "done.json").write_text("{}")


def test_summaries_per_run(tmp_path):
    _run(tmp_path, 0, [0.6, 0.0, 0.4, 1.0], ["nan", 0.8, 0.9, 0.95])
    _run(tmp_path, 1, [0.2, 0.2, 0.2, 0.2], ["nan", 0.7, 0.7, 0.6])
    _run(tmp_path, 2, [0.0, 1.0], ["nan", 0.9], done=False)  # unfinished: left out
    runs, curves = load_runs(tmp_path)
    runs = runs.set_index("seed")
    assert list(runs.index) == [0, 1]
    assert runs.loc[0, "final_success"] == 1.0
    # step 0 (the untrained policy, 0.6) is left out of the mean: (0 + 0.4 + 1) / 3
    assert runs.loc[0, "mean_success"] == pytest.approx(1.4 / 3)
    assert runs.loc[1, "mean_success"] == pytest.approx(0.2)
    assert runs.loc[0, "final_alignment"] == pytest.approx(0.95)
    assert runs.loc[1, "final_return"] == 300
    assert runs.loc[0, "sac_precision"] == "bf16"
    assert len(curves) == 8 and np.isnan(curves["reward_alignment"].iloc[0])
