"""benchmarks/robustness.py: the grid it builds, that it resumes (finished cells skipped, a
failed or killed one run again), and the table, effects and plot it writes from a tiny fake set
of results (no training: each fake run writes the files a reward-track run leaves)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmark.config import RunConfig
from benchmark.results import RunPaths

_spec = importlib.util.spec_from_file_location(
    "robustness", Path(__file__).resolve().parents[1] / "benchmarks" / "robustness.py"
)
rb = importlib.util.module_from_spec(_spec)
sys.modules["robustness"] = rb  # dataclasses look their module up while it executes
_spec.loader.exec_module(rb)


def test_the_grid_is_every_variant_profile_rate_and_seed_seed_major(tmp_path) -> None:
    variants, profiles, rates, seeds = (
        ["erl-vlm", "rbrl", "ce"],
        ["ordinal", "skip"],
        [0.1, 0.5],
        [0, 1, 2],
    )
    cells = rb.grid(variants, profiles, rates, seeds, tmp_path)
    assert len(cells) == 3 * 2 * 2 * 3
    keys = {(c.variant, c.profile, c.rate, c.seed) for c in cells}
    assert len(keys) == len(cells)
    # seed-major: all of seed 0 before any seed 1, so a stopped sweep holds whole seeds
    assert [c.seed for c in cells] == sorted(c.seed for c in cells)
    for c in cells:
        cfg = c.cfg
        assert cfg.loop == "reward-model" and cfg.oracle == "scripted" and cfg.budget == "smoke"
        assert cfg.seed == c.seed and cfg.task == "metaworld/drawer-open"
        # the teacher's profile, rate and seed (= the run's seed) are the oracle's options
        assert cfg.oracle_options["profile"] == c.profile
        assert cfg.oracle_options["rate"] == c.rate and cfg.oracle_options["seed"] == c.seed
        assert (cfg.oracle_options.get("base") == "vlm-like") == (c.profile == "skip")
        assert cfg.cache_dir == str(tmp_path / "cache" / "oracle")  # one cache for the grid
    by = {(c.variant, c.profile, c.rate, c.seed): c.cfg for c in cells}
    assert by[("rbrl", "ordinal", 0.1, 0)].method == "rbrl"
    assert by[("ce", "ordinal", 0.1, 0)].method == "erl-vlm"
    assert by[("ce", "ordinal", 0.1, 0)].method_options == {"loss": "ce"}
    assert by[("erl-vlm", "ordinal", 0.1, 0)].method_options == {}
    # every (variant, profile, rate) has its own results directory; seeds share it
    assert len({c.paths.root for c in cells}) == len(cells)
    assert len({c.cfg.out_dir for c in cells}) == 3 * 2 * 2


def test_lists_parse_by_key_and_no_key_holds_a_comma() -> None:
    assert all("," not in k for k in (*rb.VARIANTS, *rb.PROFILES))
    # the labels do hold commas: they never go through a list
    assert any("," in v.label for v in rb.VARIANTS.values())
    assert rb.parse_list("erl-vlm, label-smoothing", list(rb.VARIANTS), "variant") == [
        "erl-vlm",
        "label-smoothing",
    ]
    with pytest.raises(SystemExit, match="unknown variant"):
        rb.parse_list("erl-vlm,CE, stratified", list(rb.VARIANTS), "variant")


def _fake_score(cfg: RunConfig) -> float:
    """Made-up scores with a known structure: MAE +0.2 over CE under every profile; uniform
    sampling equal to stratified up to seed noise of both signs; rbrl 0.3 lower."""
    base = {"erl-vlm": 0.7, "ce": 0.5, "uniform": 0.7, "rbrl": 0.4, "label-smoothing": 0.6}
    variant = Path(cfg.out_dir).name
    noise = {0: -0.02, 1: 0.0, 2: 0.02, 3: 0.01}[cfg.seed]
    sign = -1 if variant == "uniform" else 1
    return base[variant] - 0.1 * cfg.oracle_options["rate"] + sign * noise


def _fake_run(calls: list, fail: set | None = None):
    def run(cfg: RunConfig) -> None:
        calls.append(cfg)
        paths = RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed)
        paths.root.mkdir(parents=True, exist_ok=True)
        s = _fake_score(cfg)
        paths.metrics.write_text(
            "step,queries,score,epic_distance,voc,success_auc,reward_alignment\n"
            f"50,50,0.1,0.6,0.1,0.6,0.6\n100,100,{s},{(1 - s) / np.sqrt(2)},0.5,0.9,0.8\n"
        )
        paths.config.write_text(json.dumps({"oracle": {"provider": "scripted"}}))
        if fail and (Path(cfg.out_dir).name, cfg.seed) in fail:
            raise RuntimeError("killed before done.json")  # a run that died part-way
        paths.done.write_text("{}")

    return run


def test_the_runner_skips_finished_cells_and_reruns_unfinished_ones(tmp_path) -> None:
    cells = rb.grid(["erl-vlm", "ce"], ["ordinal"], [0.1], [0, 1], tmp_path)
    calls: list = []
    counts = rb.run_grid(cells, _fake_run(calls, fail={("ce", 1)}), log=tmp_path / "t.csv")
    assert counts == {"skipped": 0, "ran": 3, "failed": 1} and len(calls) == 4
    again: list = []
    counts = rb.run_grid(cells, _fake_run(again), log=tmp_path / "t.csv")
    assert counts == {"skipped": 3, "ran": 1, "failed": 0}
    assert [(Path(c.out_dir).name, c.seed) for c in again] == [("ce", 1)]
    log = (tmp_path / "t.csv").read_text().splitlines()
    assert len(log) == 1 + 5 and sum("failed: RuntimeError" in line for line in log) == 1
    assert rb.run_grid(cells, _fake_run([]))["skipped"] == 4


def test_table_effects_and_plot_from_fake_results(tmp_path) -> None:
    variants = ["erl-vlm", "ce", "uniform", "rbrl"]
    out = tmp_path / "sweep"
    cells = rb.grid(variants, ["ordinal", "vlm-like"], [0.1, 0.5], [0, 1, 2], out)
    rb.run_grid(cells, _fake_run([]))
    doc = tmp_path / "doc"
    rb.main(["--out", str(out), "--doc-dir", str(doc), "--report-only",
             "--variants", ",".join(variants), "--profiles", "ordinal,vlm-like",
             "--rates", "0.1,0.5", "--seeds", "0,1,2"])  # fmt: skip
    md = (doc / "robustness.md").read_text()
    assert (doc / "robustness.png").stat().st_size > 10_000
    assert "scripted teacher" in md and "not a VLM" in md
    # every cell: 2 profiles x 2 rates x 4 variants, three seeds each
    cell_rows = [
        line
        for line in md.splitlines()
        if line.startswith(("| ordinal | 0.", "| vlm-like | 0.")) and " ± " in line
    ]
    assert len(cell_rows) == 16 and all(line.endswith("| 100 | 3 |") for line in cell_rows)
    # erl-vlm at rate 0.1 scores 0.69 ± 0.02 over seeds (-0.02, 0, +0.02)
    assert "| ordinal | 0.1 | ERL-VLM (MAE, stratified) | 0.69 ± 0.02 |" in md
    # the paired effects: MAE helps by 0.2 everywhere, uniform sampling makes no clear
    # difference (its seed noise has the other sign), ERL-VLM beats RbRL by 0.3
    assert "| ordinal | MAE vs CE (stratified) | +0.200 | [+0.200, +0.200] | 6 | helps |" in md
    assert "| vlm-like | stratified vs uniform (MAE) | +0.000 |" in md
    stratified = [line for line in md.splitlines() if "stratified vs uniform" in line]
    assert all(line.endswith("| no clear difference |") for line in stratified)
    assert "| vlm-like | ERL-VLM vs RbRL | +0.300 |" in md
    # and per rate, over the three seeds
    assert (
        "| ordinal | 0.5 | MAE vs CE (stratified) | +0.200 | [+0.200, +0.200] | 3 | helps |" in md
    )
    runs = (doc / "robustness_runs.csv").read_text().splitlines()
    assert len(runs) == 1 + len(cells) and all(",scripted," in line for line in runs[1:])


def test_a_comparison_that_hurts_is_called_so(tmp_path) -> None:
    import pandas as pd

    final = pd.DataFrame(
        [
            {"variant": v, "profile": "skip", "rate": r, "seed": s, "score": sc + 0.01 * s}
            for r in (0.1, 0.5)
            for s in (0, 1, 2)
            for v, sc in (("erl-vlm", 0.3), ("ce", 0.6))
        ]
    )
    eff = rb.effects(final)
    row = eff[eff["effect"] == "MAE vs CE (stratified)"].iloc[0]
    assert row["verdict"] == "hurts" and row["mean"] == pytest.approx(-0.3)


def test_label_stats_count_what_the_teacher_answered(tmp_path) -> None:
    from oracle_cache.cache import CachedOracle
    from oracle_cache.scripted import ScriptedTeacher
    from oracle_cache.types import RateQuery

    rng = np.random.default_rng(0)
    queries = [
        RateQuery(
            [rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)],
            "open the drawer",
            3,
            {"task": "metaworld/drawer-open", "progress": float(p), "success": False},
        )
        for p in rng.uniform(0, 0.99, 400)
    ]
    cache = tmp_path / "cache" / "oracle"
    teachers = {
        ("symmetric", 0.5): ScriptedTeacher(profile="symmetric", rate=0.5, seed=1),
        ("ordinal", 0.2): ScriptedTeacher(accuracy=0.8, seed=1),
        ("skip", 0.5): ScriptedTeacher(profile="skip", rate=0.5, base="oracle", seed=1),
    }
    for teacher in teachers.values():
        CachedOracle(teacher, "record", cache).rate_many(queries)
    labels = rb.label_stats(cache).set_index(["profile", "rate"])
    assert set(labels.index) == set(teachers) and (labels["asked"] == 400).all()
    sd = np.sqrt(0.25 / 400)  # binomial sampling error at 400 ratings
    assert abs(labels.loc[("symmetric", 0.5), "error_rate"] - 0.5) < 4 * sd
    assert abs(labels.loc[("ordinal", 0.2), "error_rate"] - 0.2) < 4 * sd
    assert labels.loc[("ordinal", 0.2), "unanswered"] == 0
    # skip over the oracle: half unanswered, no answered one wrong
    assert abs(labels.loc[("skip", 0.5), "unanswered"] - 0.5) < 4 * sd
    assert labels.loc[("skip", 0.5), "error_rate"] == 0
    # symmetric's errors from the middle level never jump; from the ends half of them do
    assert 0.2 < labels.loc[("symmetric", 0.5), "jumps"] < 0.5
