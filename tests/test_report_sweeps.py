"""One sweep, one table: each sweep's record and report live in their own directory."""

from __future__ import annotations

import json

from benchmark.analysis.report import make_report, report_targets
from benchmark.config import RunConfig
from benchmark.sweep.local import RunOutcome, plan, sweep_dir, write_sweep_summary
from tests.report_fakes import write_run


def _sweep(out, tasks, methods=("erl-vlm", "sparse"), **kw):
    base = RunConfig(task="", method="", seed=0, out_dir=str(out), **kw)
    configs = plan(tasks, list(methods), [0, 1], base)
    for c in configs:
        write_run(out, c.task, c.method, c.seed, 0.5)
    outcomes = [RunOutcome(c, ok=True) for c in configs]
    return configs, write_sweep_summary(str(out), configs, outcomes, 1.0, "python -m benchmark x")


def test_two_sweeps_into_one_results_dir_get_their_own_tables(tmp_path):
    _, first = _sweep(tmp_path, ["metaworld/drawer-open"])
    _, second = _sweep(tmp_path, ["alfred/pick-cool-then-place", "alfred/pick-heat-then-place"])
    assert first.parent != second.parent and first.parent.parent == tmp_path / "sweeps"
    table = make_report(second.parent)["table_md"].read_text()
    assert "alfred/pick-cool-then-place" in table and "drawer-open" not in table
    assert "drawer-open" in make_report(first.parent)["table_md"].read_text()
    # `python -m benchmark report results` rebuilds each sweep's report, not a mixed one
    assert report_targets(tmp_path) == sorted([first.parent, second.parent])
    record = json.loads(second.read_text())
    assert record["command"] == "python -m benchmark x" and len(record["runs"]) == 8


def test_the_same_plan_lands_in_the_same_sweep_dir_and_a_different_budget_does_not(tmp_path):
    a, _ = _sweep(tmp_path, ["metaworld/drawer-open"])
    again, _ = _sweep(tmp_path, ["metaworld/drawer-open"])
    other, _ = _sweep(tmp_path, ["metaworld/drawer-open"], budget_overrides={"total_steps": 900})
    assert sweep_dir(tmp_path, a) == sweep_dir(tmp_path, again)
    assert sweep_dir(tmp_path, a) != sweep_dir(tmp_path, other)
    assert sweep_dir(tmp_path, a).name.startswith("metaworld-smoke-")


def test_a_directory_without_sweep_records_is_reported_whole(tmp_path):
    write_run(tmp_path, "metaworld/drawer-open", "erl-vlm", 0, 0.4)
    assert report_targets(tmp_path) == [tmp_path]
    assert "drawer-open" in make_report(tmp_path)["table_md"].read_text()
