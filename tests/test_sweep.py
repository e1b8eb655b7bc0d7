"""Sweeps: parallel local runs, finished runs skipped, one failure does not stop the others."""

from __future__ import annotations

import pytest

from benchmark.cli import main as cli_main
from benchmark.config import RunConfig
from benchmark.sweep.local import plan, run_local
from tests.test_record_replay import TINY_BUDGET, TINY_SAC

SWEEP_BUDGET = {
    **TINY_BUDGET,
    "total_steps": 200,
    "eval_every": 100,
    "max_queries": 12,
    "queries_per_session": 12,
}


def _base(tmp_path) -> RunConfig:
    return RunConfig(
        task="",
        method="",
        seed=0,
        budget="smoke",
        cache_dir=str(tmp_path / "cache"),
        out_dir=str(tmp_path / "out"),
        budget_overrides=dict(SWEEP_BUDGET),
        sac=dict(TINY_SAC),
    )


def test_plan_is_the_cross_product(tmp_path):
    configs = plan(["a", "b"], ["m1", "m2", "m3"], [0, 1], _base(tmp_path))
    assert len(configs) == 12
    assert {(c.task, c.method, c.seed) for c in configs} == {
        (t, m, s) for t in "ab" for m in ("m1", "m2", "m3") for s in (0, 1)
    }


def test_failed_run_is_reported_and_others_finish(tmp_path):
    base = _base(tmp_path)
    good = plan(["metaworld/drawer-open"], ["gt-reward"], [0], base)
    bad = plan(["metaworld/drawer-open"], ["gt-reward"], [1], base)
    bad[0].budget_overrides["no_such_field"] = 1  # raises inside the worker
    outcomes = run_local(good + bad, jobs=2)
    by_seed = {o.config.seed: o for o in outcomes}
    assert by_seed[0].ok
    assert not by_seed[1].ok and "no_such_field" in by_seed[1].error
    log = tmp_path / "out" / "metaworld__drawer-open" / "gt-reward" / "seed1" / "run.log"
    assert "no_such_field" in log.read_text()
    # a rerun skips the finished run and says so
    again = run_local(good, jobs=1)
    assert again[0].skipped


def test_cli_rejects_unknown_task_with_suggestions(tmp_path, capsys):
    code = cli_main(["sweep", "--tasks", "metaworld/drawer-opn", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Unknown task" in err and "metaworld/drawer-open" in err


def test_cli_rejects_unknown_method(tmp_path, capsys):
    code = cli_main(["sweep", "--methods", "erl-vlmm", "--out", str(tmp_path)])
    assert code == 2
    assert "erl-vlm" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("opt", "says"), [("precison=bf16", "precison"), ("precision=fp8", "'fp32' or 'bf16'")]
)
def test_cli_rejects_bad_sac_options_before_running(tmp_path, capsys, opt, says):
    code = cli_main(["sweep", "--sac-opt", opt, "--out", str(tmp_path)])
    assert code == 2
    assert says in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing was started


@pytest.mark.slow
def test_ray_executor_runs_a_small_sweep(tmp_path):
    ray = pytest.importorskip("ray")
    from benchmark.sweep.ray_executor import run_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        configs = plan(["metaworld/drawer-open"], ["gt-reward", "sparse"], [0], _base(tmp_path))
        outcomes = run_ray(configs)
        assert all(o.ok for o in outcomes), [o.error for o in outcomes]
        assert len(list((tmp_path / "out").rglob("done.json"))) == 2
    finally:
        ray.shutdown()
