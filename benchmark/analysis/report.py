"""Turn a sweep's runs into tables, figures and a self-contained HTML report.

Inputs are the per-run directories written by the runner (config.json + metrics.csv +
done.json). A directory holding a sweep record (sweep.json, see benchmark/sweep/local.py) is
reported on the runs of that sweep only; any other directory on every finished run under it.
Outputs, in that directory: summary.csv (one row per run), table.csv/table.md (per task and
method), aggregate.csv (IQM, mean, optimality gap with CIs), figures/ (PNG + SVG of each figure),
figures.json (each figure's caption and layout check) and report.html with everything embedded.
The figures are built by benchmark/analysis/figures.py, which the leaderboard page shares.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd

from benchmark.analysis import figures as F
from benchmark.analysis.pages import CSS, FigureRecord, e, figure_html, scroll
from benchmark.analysis.stats import iqm
from benchmark.analysis.tables import (  # noqa: F401 - re-exported for older callers
    NA_TEXT,
    aggregate_table,
    display_table,
    markdown_table,
    method_table,
    score_matrices,
    to_csv,
)
from benchmark.results import RunPaths
from benchmark.rl.sac_history import BEFORE_FIELD

SWEEP_RECORD = "sweep.json"
#: what a loop's `step` counts, by the section its config.json carries
AXIS_LABELS = {"iql": "IQL updates (offline)", "sac": "environment steps"}
CURVE_BAND = "bands: 95 % normal-approximation interval of the mean over seeds"


def axis_label(cfg: dict) -> str:
    """What the x axis of a run's curves counts; a new loop names it in schedule.x_axis."""
    for section, label in AXIS_LABELS.items():
        if section in cfg:
            return label
    return str(cfg.get("schedule", {}).get("x_axis", "steps (as logged)"))


def _run_row(cfg: dict, m: pd.DataFrame, paths: RunPaths) -> dict:
    phases = json.loads(paths.phases.read_text()) if paths.phases.exists() else {}
    sac = {**BEFORE_FIELD, **cfg.get("sac", {})}  # a run from before a field ran what it says
    overrides = cfg.get("run", {}).get("budget_overrides", {})
    return {
        "task": cfg["task"]["name"],
        "method": cfg["method"]["name"],
        "seed": cfg["run"]["seed"],
        "budget": cfg["budget"]["name"],
        "budget_overrides": "; ".join(f"{k}={v}" for k, v in sorted(overrides.items())),
        "oracle": cfg["oracle"]["name"],
        "axis": axis_label(cfg),
        "sac_precision": sac["precision"],
        "sac_matmul": sac["matmul"],
        "final_success": float(m["success_rate"].iloc[-1]),
        "final_return": float(m["eval_return"].iloc[-1]),
        # the area under the success curve, normalised: it tells apart variants that all end
        # at the same success but got there at different speeds; step 0 is the untrained
        # policy, the same for every method on a seed, so it is left out
        "mean_success": float(m.loc[m["step"] > 0, "success_rate"].mean()),
        # runs recorded before the column existed have none
        "final_alignment": float(m["reward_alignment"].iloc[-1])
        if "reward_alignment" in m
        else float("nan"),
        "queries": int(m["queries"].iloc[-1]),
        "steps": int(m["step"].iloc[-1]),
        "wall_s": float(phases.get("total_s", m["wall_s"].iloc[-1])),
        "run_dir": str(paths.root),
    }


def load_runs(
    results_dir: str | Path, run_dirs: list[Path] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, curves): one row per finished run, and every metrics row tagged with its run.

    `run_dirs` limits it to those runs (a sweep's); by default every run under results_dir.
    """
    if run_dirs is None:
        run_dirs = [p.parent for p in sorted(Path(results_dir).rglob(RunPaths(Path()).config.name))]
    runs, curves = [], []
    for root in run_dirs:
        paths = RunPaths(Path(root))
        if not paths.done.exists() or not paths.metrics.exists() or not paths.config.exists():
            continue
        cfg = json.loads(paths.config.read_text())
        m = pd.read_csv(paths.metrics)
        if m.empty:
            continue
        run = _run_row(cfg, m, paths)
        runs.append(run)
        curves.append(m.assign(task=run["task"], method=run["method"], seed=run["seed"]))
        curves[-1]["axis"] = run["axis"]
    if not runs:
        raise FileNotFoundError(
            f"No finished runs under {results_dir} (a run is finished when it has done.json). "
            "Run `make bench` or `python -m benchmark sweep` first."
        )
    return pd.DataFrame(runs), pd.concat(curves, ignore_index=True)


def sweep_runs(target: Path) -> tuple[dict | None, list[Path] | None]:
    """(sweep record, its run directories) when target holds a sweep record, else (None, None)."""
    path = target / SWEEP_RECORD
    if not path.exists():
        return None, None
    record = json.loads(path.read_text())
    dirs = [
        RunPaths.for_run(r["out_dir"], r["task"], r["method"], r["seed"]).root
        for r in record.get("runs", [])
    ]
    return record, dirs


def caption(runs: pd.DataFrame, what: str) -> str:
    """Oracle, budget, seeds and tasks of the runs a figure shows, then what the CI is."""
    budgets = sorted(set(runs["budget"]))
    # each key=value once, whichever runs it came from (a key set to two values shows both)
    overrides = sorted({kv for text in runs["budget_overrides"] for kv in text.split("; ") if kv})
    budget = ", ".join(budgets) + (f" (overridden: {', '.join(overrides)})" if overrides else "")
    seeds = sorted(set(runs["seed"]))
    return (
        f"Oracle: {', '.join(sorted(set(runs['oracle'])))}. Budget: {budget}. "
        f"Seeds: {', '.join(map(str, seeds))} ({len(seeds)}). "
        f"Tasks ({runs['task'].nunique()}): {', '.join(sorted(set(runs['task'])))}. {what}"
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class FigureWriter:
    """Builds each figure into figures/, keeping its record for the page and figures.json."""

    def __init__(self, out: Path) -> None:
        self.dir = out / "figures"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.records: list[FigureRecord] = []

    def add(self, ident: str, title: str, cap: str, fig, note: str) -> None:
        rec = FigureRecord(ident, title, cap)
        if fig is None:
            rec.note = note
        else:
            stem = self.dir / ident
            rec.problems = F.save(fig, stem)
            rec.png, rec.svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
        self.records.append(rec)


def aggregate_figures(w: FigureWriter, runs: pd.DataFrame, table: pd.DataFrame) -> None:
    """The rliable panel set on final success, and the per-task bars."""
    scores, common = score_matrices(runs)
    scores = dict(sorted(scores.items(), key=lambda kv: (-iqm(kv[1]), kv[0])))  # best on top
    ci = f"Intervals: {F.CI_TEXT} (tasks resampled separately, 2000 resamples)."
    shown = runs[runs["task"].isin(common)]
    head = f"final success over {len(common)} task(s) x seeds"
    w.add(
        "aggregate",
        "IQM, mean and optimality gap",
        caption(shown, ci),
        F.aggregate_figure(scores, f"Aggregate {head}"),
        "no task was run by every method, so there is nothing to aggregate",
    )
    w.add(
        "profiles",
        "Performance profiles",
        caption(shown, f"Bands: {F.CI_TEXT}."),
        F.profile_figure(scores, f"Performance profiles ({head})"),
        "no task was run by every method",
    )
    w.add(
        "poi",
        "Probability of improvement",
        caption(
            shown,
            "P(X > Y): the chance that a "
            "run of X beats a run of Y on the same task, averaged over tasks (ties count half); "
            "point estimates, no interval.",
        ),
        F.poi_figure(scores, f"Probability of improvement ({head})"),
        "the sweep ran a single method, so there is no pair to compare",
    )
    w.add(
        "tasks",
        "Final success per task",
        caption(runs, f"Error bars: {F.CI_TEXT}."),
        F.task_bars_figure(table, "Final success per task and method"),
        "no runs",
    )


def curve_figures(w: FigureWriter, runs: pd.DataFrame, curves: pd.DataFrame) -> None:
    """Per x axis (env steps online, IQL updates offline): curves and sample efficiency."""
    for axis, c in curves.groupby("axis", sort=True):
        r = runs[runs["axis"] == axis]
        slug = _slug(axis)
        c = c.assign(x=c["step"])
        w.add(
            f"curves-{slug}",
            f"Learning curves against {axis}",
            caption(
                r,
                f"Mean over seeds, {CURVE_BAND}. Reward alignment: pairwise concordance of the "
                "training reward with the task's true levels (0.5 chance, 1 perfect).",
            ),
            F.curves_figure(c, axis, "mean over seeds"),
            "no run logged a plottable metric",
        )
        w.add(
            f"efficiency-{slug}",
            f"Sample efficiency: IQM against {axis}",
            caption(r, f"IQM of success over tasks x seeds; bands: {F.CI_TEXT}."),
            F.efficiency_figure(c, axis, f"IQM of success against {axis}"),
            "fewer than two evaluations common to every run",
        )
        spend = c.groupby(["task", "method", "seed"])["queries"].nunique()
        online = spend[spend > 1].reset_index()[["task", "method", "seed"]]
        cq = c.merge(online, on=["task", "method", "seed"]).assign(x=lambda d: d["queries"])
        note = (
            f"these runs spend their queries before training starts ({r['queries'].max()} at "
            "most per run), or none at all, so success cannot be plotted against queries"
        )
        w.add(
            f"efficiency-queries-{slug}",
            "Sample efficiency: IQM against oracle queries",
            caption(
                r,
                "Runs that query the oracle while they train (online) only; IQM of success "
                f"over tasks x seeds; bands: {F.CI_TEXT}.",
            ),
            F.efficiency_figure(cq, "oracle queries", "IQM of success against oracle queries")
            if not cq.empty
            else None,
            note,
        )


def _html_table(table: pd.DataFrame, ident: str) -> str:
    return scroll(display_table(table).to_html(index=False, table_id=ident))


def write_html(
    out: Path, facts: list[str], table: pd.DataFrame, agg: pd.DataFrame, figs: list[FigureRecord]
) -> None:
    sections = {"Aggregate over tasks (rliable)": ("aggregate", "profiles", "poi")}
    sections["Per task"] = ("tasks",)
    by_id = {f.ident: f for f in figs}
    body = []
    for head, ids in sections.items():
        body.append(f"<h2>{e(head)}</h2>" + "".join(figure_html(by_id[i]) for i in ids))
    for f in figs:
        if f.ident.startswith("curves-"):
            body.append(f"<h2>{e(f.title)}</h2>{figure_html(f)}")
            slug = f.ident.removeprefix("curves-")
            for other in (f"efficiency-{slug}", f"efficiency-queries-{slug}"):
                body.append(figure_html(by_id[other]))
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>VLM-feedback benchmark report</title><style>{CSS}</style></head><body>
<!-- Generated by `python -m benchmark report`; figures.json lists every figure and its checks. -->
<h1>Benchmark report</h1>
<ul id="facts">{"".join(f"<li>{html.escape(x)}</li>" for x in facts)}</ul>
<h2>Final success per task and method</h2>
<p class="note">Success = success at any step of an evaluation episode. CI: {F.CI_TEXT}.
Reward alignment: final pairwise concordance of the training reward with the task's true levels
(0.5 chance, 1 perfect); {NA_TEXT} where a method has no reward to score.</p>
{_html_table(table, "results")}
<h2>Aggregate over tasks &times; seeds</h2>
<p class="note">IQM, mean and optimality gap (1 &minus; success, clipped at 0; lower is better) of
final success, with {F.CI_TEXT}; P(improvement) over the baseline named in the column.</p>
{_html_table(agg, "aggregate")}
{"".join(body)}
</body></html>"""
    out.write_text(page)


def make_report(target: str | Path, baseline: str | None = None) -> dict[str, Path]:
    """Write the report of the sweep recorded in `target` (or of every run under it)."""
    target = Path(target)
    record, run_dirs = sweep_runs(target)
    runs, curves = load_runs(target, run_dirs)
    table = method_table(runs)
    baseline = baseline or ("sparse" if "sparse" in set(runs["method"]) else None)
    agg = aggregate_table(runs, baseline)
    out = {
        "summary": target / "summary.csv",
        "table_csv": target / "table.csv",
        "table_md": target / "table.md",
        "aggregate": target / "aggregate.csv",
        "figures": target / "figures.json",
        "html": target / "report.html",
    }
    to_csv(runs, out["summary"])
    to_csv(table, out["table_csv"])
    to_csv(agg, out["aggregate"])
    cap = caption(runs, f"Intervals: {F.CI_TEXT}.")
    out["table_md"].write_text(f"{markdown_table(table)}\n{cap}\n")
    w = FigureWriter(target)
    aggregate_figures(w, runs, table)
    curve_figures(w, runs, curves)
    manifest = [f.manifest(target) for f in w.records]
    out["figures"].write_text(json.dumps(manifest, indent=1) + "\n")
    facts = [cap]
    if record is not None:
        facts.insert(
            0,
            f"Sweep {record.get('id', target.name)}: {len(runs)} finished run(s)"
            + (f", made by `{record['command']}`" if record.get("command") else ""),
        )  # noqa: E501
    write_html(out["html"], facts, table, agg, w.records)
    return out


def report_targets(path: Path) -> list[Path]:
    """The sweeps recorded under a results directory, or the directory itself if it has none."""
    if (path / SWEEP_RECORD).exists():
        return [path]
    found = sorted(p.parent for p in (path / "sweeps").glob(f"*/{SWEEP_RECORD}"))
    return found or [path]


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m benchmark report")
    ap.add_argument("results_dir", help="a sweep's directory, or a results directory")
    ap.add_argument("--baseline", default=None, help="method for probability of improvement")
    args = ap.parse_args(argv)
    for target in report_targets(Path(args.results_dir)):
        out = make_report(target, args.baseline)
        print(f"## {target}\n")
        print(out["table_md"].read_text())
        for name, path in out.items():
            print(f"{name:>15}: {path}")
        print()
    return 0
