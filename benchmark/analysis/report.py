"""Turn a results directory into tables, plots and a self-contained HTML report.

Inputs are the per-run directories written by the runner (config.json + metrics.csv +
done.json). Outputs, next to them: summary.csv (one row per run), table.csv and table.md
(per task and method: mean, std, 95 % stratified-bootstrap CI, seeds, oracle), learning curves
(success vs steps, success vs oracle queries), an aggregate bar chart with IQM and intervals,
and report.html with everything embedded (no external assets).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmark.analysis.stats import (  # noqa: E402
    interval_estimates,
    iqm,
    probability_of_improvement,
    summarize,
)
from benchmark.results import RunPaths  # noqa: E402


def load_runs(results_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, curves): one row per finished run, and every metrics row tagged with its run."""
    runs, curves = [], []
    for cfg_path in sorted(Path(results_dir).rglob(RunPaths(Path()).config.name)):
        paths = RunPaths(cfg_path.parent)
        if not paths.done.exists() or not paths.metrics.exists():
            continue
        cfg = json.loads(paths.config.read_text())
        m = pd.read_csv(paths.metrics)
        if m.empty:
            continue
        phases = json.loads(paths.phases.read_text()) if paths.phases.exists() else {}
        run = {
            "task": cfg["task"]["name"],
            "method": cfg["method"]["name"],
            "seed": cfg["run"]["seed"],
            "budget": cfg["budget"]["name"],
            "oracle": cfg["oracle"]["name"],
            "sac_precision": cfg.get("sac", {}).get("precision", "fp32"),
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
        runs.append(run)
        m = m.assign(task=run["task"], method=run["method"], seed=run["seed"])
        curves.append(m)
    if not runs:
        raise FileNotFoundError(
            f"No finished runs under {results_dir} (a run is finished when it has done.json). "
            "Run `make bench` or `python -m benchmark sweep` first."
        )
    return pd.DataFrame(runs), pd.concat(curves, ignore_index=True)


def method_table(runs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (task, method), g in runs.groupby(["task", "method"], sort=True):
        s = summarize(g.sort_values("seed")["final_success"].to_numpy())
        rows.append(
            {
                "task": task,
                "method": method,
                "success_mean": s["mean"],
                "success_std": s["std"],
                "ci95_low": s["ci_low"],
                "ci95_high": s["ci_high"],
                "seeds": s["n"],
                "queries": int(g["queries"].max()),
                "budget": g["budget"].iloc[0],
                "oracle": ", ".join(sorted(set(g["oracle"]))),
            }
        )
    return pd.DataFrame(rows)


def aggregate_table(runs: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """IQM over tasks x seeds with a stratified-bootstrap CI, and P(improvement) over a baseline."""
    pivot = runs.pivot_table(index=["method", "seed"], columns="task", values="final_success")
    rows = []
    for method in sorted(runs["method"].unique()):
        scores = pivot.loc[method].dropna(axis=0).to_numpy()
        value, lo, hi = interval_estimates(scores, iqm)
        row = {"method": method, "iqm": value, "iqm_ci95_low": lo, "iqm_ci95_high": hi}
        if baseline and baseline in pivot.index.get_level_values(0) and method != baseline:
            row[f"p_improve_over_{baseline}"] = probability_of_improvement(
                scores, pivot.loc[baseline].dropna(axis=0).to_numpy()
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(x: float) -> str:
    return "–" if pd.isna(x) else f"{x:.2f}"


def markdown_table(table: pd.DataFrame) -> str:
    lines = [
        "| task | method | success (mean ± std) | 95% CI | seeds | queries | oracle | budget |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.task} | {r.method} | {_fmt(r.success_mean)} ± {_fmt(r.success_std)} | "
            f"[{_fmt(r.ci95_low)}, {_fmt(r.ci95_high)}] | {r.seeds} | {r.queries} | {r.oracle} | {r.budget} |"
        )
    return "\n".join(lines) + "\n"


def plot_curves(curves: pd.DataFrame, x: str, path: Path, title: str) -> None:
    tasks = sorted(curves["task"].unique())
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for method, g in curves[curves["task"] == task].groupby("method", sort=True):
            per_x = g.groupby(x)["success_rate"]
            mean, std, count = per_x.mean(), per_x.std().fillna(0), per_x.count()
            half = 1.96 * std / np.sqrt(count.clip(lower=1))
            ax.plot(mean.index, mean.values, label=f"{method} (n={g['seed'].nunique()})")
            ax.fill_between(
                mean.index, (mean - half).clip(0, 1), (mean + half).clip(0, 1), alpha=0.2
            )
        ax.set_title(task)
        ax.set_xlabel("environment steps" if x == "step" else "oracle queries")
        ax.set_ylabel("success rate")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    for suffix in (".png", ".svg"):
        fig.savefig(path.with_suffix(suffix), dpi=120)
    plt.close(fig)


def plot_bars(table: pd.DataFrame, path: Path, title: str) -> None:
    tasks = sorted(table["task"].unique())
    methods = sorted(table["method"].unique())
    width = 0.8 / max(1, len(methods))
    fig, ax = plt.subplots(figsize=(max(5, 1.8 * len(tasks) * max(1, len(methods)) / 2), 3.6))
    for i, method in enumerate(methods):
        t = table[table["method"] == method].set_index("task").reindex(tasks)
        xs = np.arange(len(tasks)) + i * width
        err = np.vstack([t["success_mean"] - t["ci95_low"], t["ci95_high"] - t["success_mean"]])
        ax.bar(xs, t["success_mean"], width, yerr=np.nan_to_num(err), capsize=3, label=method)
    ax.set_xticks(np.arange(len(tasks)) + width * (len(methods) - 1) / 2, tasks, fontsize=8)
    ax.set_ylabel("final success rate")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    for suffix in (".png", ".svg"):
        fig.savefig(path.with_suffix(suffix), dpi=120)
    plt.close(fig)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def write_html(
    out: Path, table: pd.DataFrame, agg: pd.DataFrame, plots: list[Path], caption: str
) -> None:
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>VLM-feedback benchmark report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #bbb;padding:4px 8px;text-align:right}}th{{background:#eee}}img{{max-width:100%;margin:1em 0}}
.note{{color:#555}}</style></head><body>
<h1>Benchmark report</h1><p class="note">{html.escape(caption)}</p>
<h2>Final success rate per task and method</h2>{table.to_html(index=False, float_format=lambda v: f"{v:.3f}", table_id="results")}
<h2>Aggregate (IQM over tasks × seeds)</h2>{agg.to_html(index=False, float_format=lambda v: f"{v:.3f}", table_id="aggregate")}
<h2>Plots</h2>{"".join(_img(p) for p in plots)}
</body></html>"""
    out.write_text(page)


def make_report(results_dir: str | Path, baseline: str | None = None) -> dict[str, Path]:
    results_dir = Path(results_dir)
    runs, curves = load_runs(results_dir)
    table = method_table(runs)
    baseline = baseline or ("sparse" if "sparse" in set(runs["method"]) else None)
    agg = aggregate_table(runs, baseline)
    oracles = ", ".join(sorted(set(runs["oracle"])))
    budgets = ", ".join(sorted(set(runs["budget"])))
    caption = (
        f"Ratings by oracle: {oracles}. Budget: {budgets}. Success = success at any step of an "
        "evaluation episode; intervals are 95 % stratified-bootstrap CIs over seeds."
    )
    out = {
        "summary": results_dir / "summary.csv",
        "table_csv": results_dir / "table.csv",
        "table_md": results_dir / "table.md",
        "aggregate": results_dir / "aggregate.csv",
        "curves": results_dir / "curves.png",
        "curves_queries": results_dir / "curves_queries.png",
        "bars": results_dir / "bars.png",
        "html": results_dir / "report.html",
    }
    runs.to_csv(out["summary"], index=False)
    table.to_csv(out["table_csv"], index=False)
    agg.to_csv(out["aggregate"], index=False)
    out["table_md"].write_text(f"{markdown_table(table)}\n{caption}\n")
    subtitle = f"oracle: {oracles} · budget: {budgets} · mean and 95% CI over seeds"
    plot_curves(curves, "step", out["curves"], f"Success vs environment steps ({subtitle})")
    plot_curves(curves, "queries", out["curves_queries"], f"Success vs oracle queries ({subtitle})")
    plot_bars(table, out["bars"], f"Final success (oracle: {oracles}; budget: {budgets})")
    write_html(
        out["html"], table, agg, [out["curves"], out["curves_queries"], out["bars"]], caption
    )
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m benchmark report")
    ap.add_argument("results_dir")
    ap.add_argument("--baseline", default=None, help="method for probability of improvement")
    args = ap.parse_args(argv)
    out = make_report(args.results_dir, args.baseline)
    print((Path(args.results_dir) / "table.md").read_text())
    for name, path in out.items():
        print(f"{name:>15}: {path}")
    return 0
