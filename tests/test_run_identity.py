"""A run directory is reused only for the run that made it (benchmark/run_identity.py).

Before the check, a second sweep into the same --out with another budget skipped the first
sweep's finished runs and reported them as its own.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from benchmark.cli import main as cli_main
from benchmark.config import RunConfig
from benchmark.loops.harness import Harness
from benchmark.results import RunPaths, write_json
from benchmark.run_identity import (
    RunDirMismatchError,
    check_run_dirs,
    recorded_settings,
    requested_settings,
)
from tests.test_record_replay import TINY_SAC
from tests.test_sweep import SWEEP_BUDGET, _base


def _cfg(tmp_path, **changes) -> RunConfig:
    base = replace(_base(tmp_path), task="metaworld/drawer-open", method="gt-reward", seed=0)
    return replace(base, **changes)


def _finished(cfg: RunConfig, marker: str = "done") -> RunPaths:
    """A run directory as a finished (or checkpointed) run of `cfg` leaves it: config.json with
    the run section and the resolved budget it ran with."""
    paths = RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed)
    paths.root.mkdir(parents=True)
    budget = requested_settings(cfg)["budget"]
    write_json(paths.config, {"run": dict(cfg.__dict__), "budget": {**budget, "notes": {}}})
    target = paths.done if marker == "done" else paths.checkpoint
    target.write_text("{}")
    return paths


def test_the_same_run_passes_and_spelled_out_defaults_are_not_differences(tmp_path):
    cfg = _cfg(tmp_path)
    _finished(cfg)
    check_run_dirs([cfg])  # the run that made it
    # precision written out (as protocols now do), another out/cache dir, another thread count
    same = replace(
        cfg, sac={**TINY_SAC, "precision": "fp32"}, threads=2, cache_dir=str(tmp_path / "c2")
    )
    check_run_dirs([same])


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            {"budget_overrides": {**SWEEP_BUDGET, "total_steps": 400}},
            "budget.total_steps: 200 -> 400",
        ),
        ({"budget": "short"}, "budget.name: 'smoke' -> 'short'"),
        ({"sac": {**TINY_SAC, "precision": "bf16"}}, "sac.precision: 'fp32' -> 'bf16'"),
        ({"oracle_options": {"accuracy": 0.9}}, "oracle_options: {} -> {'accuracy': 0.9}"),
        ({"method_options": {"lr": 0.01}}, "method_options: {} -> {'lr': 0.01}"),
    ],
)
def test_a_finished_run_with_other_settings_is_refused(tmp_path, change, says):
    cfg = _cfg(tmp_path)
    paths = _finished(cfg)
    with pytest.raises(RunDirMismatchError, match="holds a run with other settings") as err:
        check_run_dirs([replace(cfg, **change)])
    assert says in str(err.value) and str(paths.root) in str(err.value)
    assert "\n" not in str(err.value)


def test_a_checkpointed_run_is_not_resumed_under_other_settings(tmp_path):
    cfg = _cfg(tmp_path)
    _finished(cfg, marker="checkpoint")
    other = replace(cfg, budget_overrides={**SWEEP_BUDGET, "eval_every": 50})
    with pytest.raises(RunDirMismatchError, match="budget.eval_every: 100 -> 50"):
        _ = Harness(other).finished
    assert Harness(cfg).finished is False  # its own run resumes


def test_settings_are_read_from_the_run_section_not_the_parts_it_ran_with(tmp_path):
    """A loop may be handed prebuilt parts (tests, plugins) whose budget is not the RunConfig's;
    the run is still the RunConfig's run."""
    cfg = _cfg(tmp_path)
    paths = _finished(cfg)
    config = json.loads(paths.config.read_text())
    config["budget"]["total_steps"] = 12345
    write_json(paths.config, config)
    assert recorded_settings(config) == requested_settings(cfg)
    check_run_dirs([cfg])


def test_the_second_sweep_into_the_same_out_is_refused_with_one_line(tmp_path, capsys):
    """Real runs: a sweep, then the same sweep at another budget into the same --out."""
    out, cache = str(tmp_path / "out"), str(tmp_path / "cache")

    def opts(**changes):
        return [f"--budget-opt={k}={v}" for k, v in {**SWEEP_BUDGET, **changes}.items()]

    sac = [f"--sac-opt={k}={v}" for k, v in TINY_SAC.items()]
    common = ["sweep", "--out", out, "--cache-dir", cache, "--methods", "gt-reward"]
    common += ["--seeds", "0", "--jobs", "1", *sac]
    assert cli_main([*common, *opts()]) == 0
    capsys.readouterr()
    again = opts(total_steps=300)
    code = cli_main([*common, *again])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "budget.total_steps: 200 -> 300" in lines[0]


def test_a_run_from_before_the_matmul_switch_reads_as_the_kernels_it_ran(tmp_path):
    """Its resolved SAC section names no `matmul`: it ran PyTorch's own kernels, so resuming it
    under today's oneDNN default is refused, and under `matmul=aten` allowed."""
    cfg = _cfg(tmp_path)
    paths = _finished(cfg)
    config = json.loads(paths.config.read_text())
    resolved = {k: v for k, v in requested_settings(cfg)["sac"].items() if k != "matmul"}
    write_json(paths.config, {**config, "sac": resolved})
    assert recorded_settings(json.loads(paths.config.read_text()))["sac"]["matmul"] == "aten"
    with pytest.raises(RunDirMismatchError, match="sac.matmul: 'aten' -> 'onednn'"):
        check_run_dirs([cfg])
    check_run_dirs([replace(cfg, sac={**cfg.sac, "matmul": "aten"})])
