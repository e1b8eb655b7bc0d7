"""The ablation script runs each distinct configuration once, however many groups share it."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "ablations.py"


@pytest.fixture(scope="module")
def ablations():
    spec = importlib.util.spec_from_file_location("ablations_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shared_baseline_runs_once_on_a_three_level_task(ablations):
    groups = {g: ablations.ABLATIONS[g] for g in ablations.PAPER_GROUPS}
    labels, runs = ablations.plan(groups, task_levels=3, out_root="out")
    assert len(labels) == 10
    # ERL-VLM heads loss and sampling, and "3 levels" is ERL-VLM on a 3-level task
    assert len(runs) == 8
    base = labels[("loss", "mae (ERL-VLM)")]
    assert labels[("sampling", "stratified (ERL-VLM)")] == base
    assert labels[("levels", "3 levels")] == base
    assert runs[base] == {}
    assert runs[labels[("levels", "2 levels")]] == {"levels": 2}


def test_two_level_task_shares_the_two_level_variant_instead(ablations):
    groups = {g: ablations.ABLATIONS[g] for g in ablations.PAPER_GROUPS}
    labels, runs = ablations.plan(groups, task_levels=2, out_root="out")
    assert len(runs) == 8
    assert labels[("levels", "2 levels")] == labels[("loss", "mae (ERL-VLM)")]
    assert runs[labels[("levels", "3 levels")]] == {"levels": 3}
    assert ablations.resolved_options({"levels": 2}, 2) == ()
    assert ablations.resolved_options({"levels": 3, "loss": "mae"}, 2) == (("levels", 3),)


def test_label_table_reports_each_level_count_and_skips_a_missing_cache(ablations, tmp_path):
    import numpy as np

    from oracle_cache import RateQuery, build_oracle

    assert ablations.label_table(tmp_path / "none") == []
    rng = np.random.default_rng(1)
    oracle = build_oracle("scripted", "record", tmp_path / "cache", None)
    oracle.rate_many(
        [
            RateQuery([rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)], "x", n, {"progress": p})
            for n in (2, 5)
            for p in (0.1, 0.6, 0.95)
        ]
    )
    oracle.close()
    rows = [line for line in ablations.label_table(tmp_path / "cache") if line.startswith("| ")]
    assert [r.split(" | ")[0:2] for r in rows[1:]] == [["| 2", "3"], ["| 5", "3"]]
