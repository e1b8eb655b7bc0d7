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


# --- the online slice (--track online): no real online run, a fake writes what one leaves ----


def _protocol():
    from benchmark.leaderboard.protocol import get_protocol

    return get_protocol(rb.ONLINE_PROTOCOL)


def test_online_cells_carry_the_protocols_settings_and_the_profiles_options(tmp_path) -> None:
    from benchmark.config import get_budget

    p = _protocol()
    variants, profiles, rates, seeds = (
        ["erl-vlm", "ce", "rbrl"],
        ["vlm-like", "skip"],
        [0.35, 0.5],
        [0, 1],
    )
    cells = rb.online_grid(variants, profiles, rates, seeds, tmp_path)
    assert len(cells) == 3 * 2 * 2 * 2
    assert [c.seed for c in cells] == sorted(c.seed for c in cells)  # seed-major
    for c in cells:
        cfg = c.cfg
        # the protocol's own settings, exactly, and the online loop
        assert cfg.task == p.tasks[0] and cfg.budget == p.budget
        assert cfg.budget_overrides == p.budget_overrides and cfg.sac == p.sac
        assert cfg.threads == p.threads and cfg.oracle == p.oracle.provider
        assert cfg.loop == p.loop != "reward-model"
        resolved = get_budget(cfg.budget).with_overrides(**cfg.budget_overrides).to_dict()
        resolved.pop("notes")
        assert resolved == p.resolved_budget()
        # the teacher: the profile's options, its rate, teacher seed = run seed
        assert cfg.oracle_options == {
            **p.oracle.options,
            "profile": c.profile,
            "rate": c.rate,
            "seed": c.seed,
            **rb.PROFILES[c.profile],
        }
        assert (cfg.oracle_options.get("base") == "vlm-like") == (c.profile == "skip")
        assert cfg.method == rb.VARIANTS[c.variant].method
        assert cfg.method_options == rb.VARIANTS[c.variant].options
        assert cfg.cache_dir == str(tmp_path / "cache" / "oracle")
    # one run directory per cell
    assert len({c.paths.root for c in cells}) == len(cells)
    # a cell's settings are its own: changing one leaves the others and the protocol alone
    cells[0].cfg.budget_overrides["total_steps"] = 1
    cells[0].cfg.sac["actor_lr"] = 1.0
    assert cells[1].cfg.budget_overrides == p.budget_overrides == _protocol().budget_overrides
    assert cells[1].cfg.sac == p.sac


def test_online_cells_take_whatever_the_protocol_says(tmp_path, monkeypatch) -> None:
    """Nothing is copied: a protocol with other settings gives cells with those settings."""
    import benchmark.leaderboard.protocol as protocol

    other = _protocol().model_copy(
        update={
            "tasks": ["metaworld/sweep-into"],
            "budget": "smoke",
            "budget_overrides": {"total_steps": 1234, "query_pool": 7},
            "sac": {"actor_lr": 0.001, "init": "uniform"},
            "threads": 3,
            "oracle": protocol.OracleSpec(provider="scripted", options={"levels": 2}),
        }
    )
    monkeypatch.setattr(protocol, "get_protocol", lambda pid, **kw: other)
    cfg = rb.online_grid(["rbrl"], ["symmetric"], [0.1], [4], tmp_path)[0].cfg
    assert (cfg.task, cfg.budget, cfg.threads) == ("metaworld/sweep-into", "smoke", 3)
    assert cfg.budget_overrides == {"total_steps": 1234, "query_pool": 7}
    assert cfg.sac == {"actor_lr": 0.001, "init": "uniform"}
    assert cfg.oracle_options == {"levels": 2, "profile": "symmetric", "rate": 0.1, "seed": 4}
    two = other.model_copy(update={"tasks": ["metaworld/drawer-open", "metaworld/soccer"]})
    monkeypatch.setattr(protocol, "get_protocol", lambda pid, **kw: two)
    with pytest.raises(SystemExit, match="one-task online"):
        rb.online_grid(["rbrl"], ["symmetric"], [0.1], [4], tmp_path)


def test_steps_is_a_smoke_override_that_never_shares_the_real_sweeps_runs(tmp_path) -> None:
    from benchmark.config import get_budget

    p = _protocol()
    full = get_budget(p.budget).with_overrides(**p.budget_overrides)
    out = rb.smoke_out(tmp_path, 600, 300)
    assert out != tmp_path and out.parent == tmp_path
    cells = rb.online_grid(["erl-vlm"], ["vlm-like"], [0.35], [0], out, steps=600, eval_every=300)
    b = get_budget(cells[0].cfg.budget).with_overrides(**cells[0].cfg.budget_overrides)
    assert b.total_steps == 600 and b.eval_every == 300
    ratio = 600 / full.total_steps
    for k in rb.SMOKE_SCALED:  # the schedule shrinks alike, so the run still asks the teacher
        assert getattr(b, k) == max(1, round(getattr(full, k) * ratio)) < getattr(full, k)
    assert b.seed_steps + b.unsup_steps < b.total_steps
    # everything else is the protocol's
    for k, v in p.budget_overrides.items():
        if k not in ("total_steps", "eval_every"):
            assert getattr(b, k) == v
    assert cells[0].cfg.sac == p.sac and cells[0].cfg.threads == p.threads
    # a finished smoke cell is not a finished real cell
    real = rb.online_grid(["erl-vlm"], ["vlm-like"], [0.35], [0], tmp_path)
    assert not {c.paths.root for c in cells} & {c.paths.root for c in real}
    # and the flags are refused where they mean nothing
    with pytest.raises(SystemExit, match="--track online"):
        rb.main(["--steps", "600", "--estimate"])
    with pytest.raises(SystemExit, match="with --steps"):
        rb.main(["--track", "online", "--eval-every", "300", "--estimate"])
    with pytest.raises(SystemExit, match="from the protocol"):
        rb.main(["--track", "online", "--budget", "smoke", "--estimate"])


def _fake_online(calls: list, success: dict | None = None, fail: set | None = None):
    """A fake online run: the files a finished one leaves, with success rates per evaluation
    from `success[(variant, seed)]` (default: 0 0 1 1 for every run)."""

    def run(cfg: RunConfig) -> None:
        calls.append(cfg)
        paths = RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed)
        paths.root.mkdir(parents=True, exist_ok=True)
        key = (Path(cfg.out_dir).name, cfg.seed)
        srs = (success or {}).get(key, [0.0, 0.0, 1.0, 1.0])
        rows = ["step,episodes,success_rate,eval_return,queries"]
        rows += [f"{i * 2500},{i * 5},{sr},1.0,{i * 50}" for i, sr in enumerate(srs)]
        paths.metrics.write_text("\n".join(rows) + "\n")
        paths.config.write_text(json.dumps({"oracle": {"provider": "scripted"}}))
        if fail and key in fail:
            raise RuntimeError("killed before done.json")
        paths.done.write_text("{}")

    return run


def test_online_scores_are_the_last_evaluation_and_the_mean_of_the_last_three() -> None:
    import pandas as pd

    m = pd.DataFrame(
        {"step": [0, 2500, 5000, 7500, 10000], "success_rate": [1.0, 1.0, 0.0, 1.0, 0.0],
         "queries": [0, 50, 100, 150, 200]}
    )  # fmt: skip
    s = rb.online_scores(m)
    assert s["final_success"] == 0.0
    assert s["success_last3"] == pytest.approx(1 / 3)
    assert s["queries"] == 200 and s["last_step"] == 10000 and s["evaluations"] == 5


def test_online_grid_resumes_and_reports_its_scores(tmp_path) -> None:
    out = tmp_path / "online"
    variants = ["erl-vlm", "ce", "uniform", "rbrl"]
    cells = rb.online_grid(variants, ["vlm-like"], [0.35], [0, 1, 2], out)
    # ERL-VLM ends at 1 on every seed, CE at 0; uniform as ERL-VLM but its last three differ
    success = {}
    for seed in (0, 1, 2):
        success[("erl-vlm", seed)] = [0, 1, 1, 1]
        success[("ce", seed)] = [0, 1, 1, 0]
        success[("uniform", seed)] = [0, 0, 0, 1]
        success[("rbrl", seed)] = [0, 0, 1, 0] if seed else [0, 0, 0, 1]
    calls: list = []
    counts = rb.run_grid(cells, _fake_online(calls, success, fail={("rbrl", 2)}), out / "t.csv")
    assert counts == {"skipped": 0, "ran": 11, "failed": 1}
    again: list = []
    assert rb.run_grid(cells, _fake_online(again, success), out / "t.csv")["skipped"] == 11
    assert [(Path(c.out_dir).name, c.seed) for c in again] == [("rbrl", 2)]
    doc = tmp_path / "doc"
    rb.main(["--track", "online", "--out", str(out), "--doc-dir", str(doc), "--report-only",
             "--variants", ",".join(variants), "--profiles", "vlm-like", "--rates", "0.35",
             "--seeds", "0,1,2"])  # fmt: skip
    md = (doc / "robustness.md").read_text()
    assert (doc / "robustness.png").stat().st_size > 10_000
    assert (doc / "robustness_last3.png").stat().st_size > 10_000
    assert "not a VLM" in md and "metaworld-online-v1" in md and "SMOKE" not in md
    # final success 1 vs 0 on every seed: MAE helps by 1; last-3 mean 1 vs 2/3
    assert "| vlm-like | MAE vs CE (stratified) | +1.000 | [+1.000, +1.000] | 3 | helps |" in md
    assert "| vlm-like | MAE vs CE (stratified) | +0.333 | [+0.333, +0.333] | 3 | helps |" in md
    # stratified vs uniform: equal final success, last-3 mean 1 vs 1/3
    assert "| vlm-like | stratified vs uniform (MAE) | +0.000 |" in md
    assert "| vlm-like | stratified vs uniform (MAE) | +0.667 |" in md
    # rbrl: final 1, 0, 0 (seed 2 from its rerun); last-3 means 1/3, 1/3, 1/3
    assert "| vlm-like | 0.35 | RbRL (CE, uniform) | 0.33 ± 0.58 |" in md
    assert (
        "| vlm-like | 0.35 | RbRL (CE, uniform) | 0.33 ± 0.58 | [0.00, 1.00] | 0.33 ± 0.00 |" in md
    )
    assert "| vlm-like | 0.35 | ERL-VLM (MAE, stratified) | 1.00 ± 0.00 | [1.00, 1.00] | " \
        "1.00 ± 0.00 | [1.00, 1.00] | 150 | 3 |" in md  # fmt: skip
    runs = (doc / "robustness_runs.csv").read_text().splitlines()
    assert len(runs) == 1 + 12 and runs[0].startswith("variant,profile,rate,seed,oracle,queries")
    assert "final_success,success_last3" in runs[0]


def test_estimate_counts_the_cells_left_and_times_them_from_the_log(tmp_path) -> None:
    cells = rb.online_grid(["erl-vlm", "rbrl"], ["vlm-like"], [0.35], [0, 1, 2], tmp_path)
    log = tmp_path / "timings.csv"
    e = rb.estimate(cells, log)
    assert (e["cells"], e["todo"], e["minutes"]) == (6, 6, rb.DEFAULT_MINUTES)
    assert e["hours"] == pytest.approx(6 * rb.DEFAULT_MINUTES / 60)
    rb.run_grid(cells[:2], _fake_online([]))  # two finished cells
    log.write_text(
        "variant,profile,rate,seed,wall_s,load1,status\n"
        'erl-vlm,vlm-like,0.35,0,600.0,2.0,"ok"\n'
        'rbrl,vlm-like,0.35,0,1200.0,2.0,"ok"\n'
        'erl-vlm,vlm-like,0.35,1,5.0,2.0,"failed: RuntimeError: boom"\n'
    )
    e = rb.estimate(cells, log)  # the failed run's 5 s does not count
    assert (e["finished"], e["todo"], e["minutes"]) == (2, 4, 15.0) and e["hours"] == 1.0
    assert rb.estimate(cells, log, minutes=30)["hours"] == 2.0


def test_an_online_cell_runs_in_its_own_process_with_the_protocols_threads(tmp_path) -> None:
    from dataclasses import replace

    from benchmark.cli_checks import load_run_config

    cfg = rb.online_grid(["ce"], ["skip"], [0.5], [1], tmp_path)[0].cfg
    cfg = replace(cfg, threads=3)  # not the default 1, so a hard-coded 1 would show
    seen = {}

    class Done:
        returncode = 0

    def spawn(cmd, **kw):
        seen.update(cmd=cmd, **kw)
        kw["stdout"].write("a log line\n")
        return Done()

    rb.run_in_subprocess(cfg, spawn)
    assert seen["cmd"][1:5] == ["-m", "benchmark", "run", "--config"]
    assert load_run_config(seen["cmd"][5], RunConfig) == cfg  # the cell's config, whole
    assert seen["env"]["OMP_NUM_THREADS"] == seen["env"]["MKL_NUM_THREADS"] == "3"
    log = RunPaths.for_run(cfg.out_dir, cfg.task, cfg.method, cfg.seed).log
    assert log.read_text() == "a log line\n"
    Done.returncode = 3
    with pytest.raises(RuntimeError, match="exit 3.*a log line"):
        rb.run_in_subprocess(cfg, spawn)
