"""The figures of the run report and the leaderboard page: one style, one set of builders.

Each builder returns a matplotlib Figure (or None when it has nothing to draw, so the caller
writes a sentence instead of an empty panel); `save` writes it as PNG and SVG and returns what
`layout_problems` found in it (empty panels, overlapping tick labels, text outside the figure),
which the report records in figures.json and the tests assert is empty.

Statistics follow rliable (Agarwal et al., 2021): IQM, mean and optimality gap with 95 %
stratified-bootstrap CIs, performance profiles, the probability-of-improvement matrix and IQM
sample-efficiency curves. Scores are [runs, tasks] arrays per method.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from benchmark.analysis.stats import (  # noqa: E402
    interval_estimates,
    iqm,
    optimality_gap,
    performance_profile,
    poi_matrix,
)

#: one look for every figure of the suite (report and leaderboard page)
STYLE = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "vlm-feedback-bench",  # SVG ids stable from one build to the next
}
PALETTE = plt.get_cmap("tab10").colors
#: per-evaluation metric columns the report plots when a run logs them, with their axis labels;
#: a loop that logs a new metric adds one line here (anything else in metrics.csv is bookkeeping)
METRIC_LABELS = {
    "success_rate": "success rate",
    "reward_alignment": "reward alignment\n(pairwise concordance)",
    "voc": "value-order correlation",
    "success_auc": "success-detection ROC-AUC",
    "roc_auc": "success-detection ROC-AUC",
    "epic": "EPIC distance to dense reward",
    "epic_distance": "EPIC distance to dense reward",
}
PANELS_PER_ROW = 3
CI_TEXT = "95 % stratified-bootstrap CI over seeds"


def styled(build: Callable[..., Figure | None]) -> Callable[..., Figure | None]:
    """Build a figure under STYLE, so every font and grid setting applies to all its parts."""

    @functools.wraps(build)
    def wrapper(*args: Any, **kwargs: Any) -> Figure | None:
        with plt.rc_context(STYLE):
            return build(*args, **kwargs)

    return wrapper


def colors(methods: Sequence[str]) -> dict[str, tuple]:
    """A fixed colour per method, by its place in the sorted list, so figures agree."""
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(sorted(methods))}


def wrap(text: str, width: int) -> str:
    return textwrap.fill(str(text), width, break_on_hyphens=True, break_long_words=True)


def new_figure(
    rows: int, cols: int, panel_w: float, panel_h: float, sharex: str | bool = False
) -> tuple[Figure, np.ndarray]:
    """A constrained-layout figure (titles and labels are never clipped) of rows x cols panels."""
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(panel_w * cols, panel_h * rows),
        squeeze=False,
        layout="constrained",
        sharex=sharex,
    )
    return fig, axes


def save(fig: Figure, stem: Path) -> list[str]:
    """Write stem.png and stem.svg, close the figure, and return its layout problems."""
    problems = layout_problems(fig)
    with plt.rc_context(STYLE):
        fig.savefig(stem.with_suffix(".png"), dpi=130, metadata={"Software": None})
        fig.savefig(stem.with_suffix(".svg"), metadata={"Date": None})
    plt.close(fig)
    return problems


def data_count(ax: plt.Axes) -> int:
    """Data drawn in a panel: line points, bars, filled bands, heatmap cells."""
    n = sum(
        int(np.isfinite(np.asarray(ln.get_xydata(), float)).all(axis=1).sum()) for ln in ax.lines
    )
    n += sum(1 for p in ax.patches if p.get_visible())
    n += sum(len(c.get_paths()) for c in ax.collections)
    n += sum(int(np.asarray(im.get_array()).size) for im in ax.images)
    return n


def _shown(texts: list) -> list:
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def _tick_labels(axis: matplotlib.axis.Axis) -> list:
    """The tick labels actually drawn: matplotlib also keeps labels for ticks outside the view."""
    lo, hi = sorted(axis.get_view_interval())
    pad = 1e-9 * max(1.0, abs(hi - lo))
    ticks = axis.get_major_ticks()
    return _shown(
        [t.label1 for t in ticks if lo - pad <= t.get_loc() <= hi + pad and t.label1.get_visible()]
    )


def _outside(box, frame) -> bool:
    return (
        box.x0 < frame.x0 - 1
        or box.x1 > frame.x1 + 1
        or box.y0 < frame.y0 - 1
        or box.y1 > frame.y1 + 1
    )


def layout_problems(fig: Figure) -> list[str]:
    """What a reader would trip over: empty panels, overlapping tick labels, clipped text."""
    fig.canvas.draw()
    problems = []
    frame = fig.bbox
    for ax in fig.axes:
        if not ax.get_visible() or ax.get_label() == "<note>":
            continue
        name = ax.get_title() or ax.get_ylabel() or "panel"
        if data_count(ax) == 0:
            problems.append(f"empty panel: {name!r}")
        labels = []
        for axis in (ax.xaxis, ax.yaxis):
            shown = _tick_labels(axis)
            labels += shown
            boxes = [t.get_window_extent() for t in shown]
            if any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]):
                problems.append(f"overlapping {axis.axis_name} tick labels in {name!r}")
        for t in _shown([ax.title, ax.xaxis.label, ax.yaxis.label]) + labels:
            if _outside(t.get_window_extent(), frame):
                problems.append(f"text {t.get_text()!r} clipped at the figure's edge")
    for t in _shown([fig._suptitle] if fig._suptitle is not None else []):
        if _outside(t.get_window_extent(), frame):
            problems.append("the figure's title is clipped")
    return problems


def _suptitle(fig: Figure, title: str, width: int) -> None:
    fig.suptitle(wrap(title, width), fontsize=STYLE["figure.titlesize"])


def _note(ax: plt.Axes, text: str) -> None:
    """A sentence in place of a panel that has nothing to show (skipped by layout checks)."""
    ax.set_label("<note>")
    ax.set_axis_off()
    ax.text(0.5, 0.5, wrap(text, 30), ha="center", va="center", fontsize=8, color="#555")


@styled
def aggregate_figure(scores: dict[str, np.ndarray], title: str) -> Figure | None:
    """rliable's aggregate panel: IQM, mean and optimality gap of final success, with CIs."""
    methods = list(scores)  # in the caller's order (a board's: its ranking), top down
    if not methods:
        return None
    stats = [("IQM", iqm, "higher is better"), ("Mean", np.mean, "higher is better")]
    stats.append(("Optimality gap", optimality_gap, "lower is better"))
    fig, axes = new_figure(1, 3, 2.9, 0.42 * len(methods) + 1.5)
    col = colors(methods)
    for k, (ax, (name, func, better)) in enumerate(zip(axes[0], stats, strict=True)):
        for y, m in enumerate(methods):
            point, lo, hi = interval_estimates(scores[m], func)
            if np.isfinite(lo):
                ax.barh(y, max(hi - lo, 0.004), left=lo, height=0.6, color=col[m], alpha=0.7)
            ax.plot([point], [y], marker="|", markersize=14, color="black")
        ax.set_yticks(range(len(methods)), [wrap(m, 18) for m in methods] if k == 0 else [])
        ax.set_ylim(len(methods) - 0.4, -0.6)
        ax.set_xlim(-0.02, 1.02)
        ax.set_title(name)
        ax.set_xlabel(f"final success ({better})")
        ax.grid(axis="y", visible=False)
    _suptitle(fig, title, 120)
    return fig


@styled
def profile_figure(scores: dict[str, np.ndarray], title: str) -> Figure | None:
    """Performance profiles: the fraction of runs whose final success exceeds each threshold."""
    methods = sorted(scores)
    if not methods:
        return None
    taus = np.linspace(0.0, 1.0, 101)
    fig, axes = new_figure(1, 1, 5.2, 3.4)
    ax, col = axes[0][0], colors(methods)
    for m in methods:
        prof, lo, hi = performance_profile(scores[m], taus)
        ax.plot(taus, prof, color=col[m], label=m, drawstyle="steps-post")
        ax.fill_between(taus, lo, hi, color=col[m], alpha=0.15, step="post")
    ax.set_xlabel("success threshold τ")
    ax.set_ylabel("fraction of runs with success > τ")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="lower left")
    _suptitle(fig, title, 70)
    return fig


@styled
def poi_figure(scores: dict[str, np.ndarray], title: str) -> Figure | None:
    """P(row method > column method) on final success; drawn from two methods up."""
    if len(scores) < 2:
        return None
    names, m = poi_matrix({k: scores[k] for k in sorted(scores)})
    size = 0.75 * len(names) + 2.2
    fig, axes = new_figure(1, 1, size + 0.6, size)
    ax = axes[0][0]
    ax.imshow(m, vmin=0, vmax=1, cmap="RdBu")
    for i in range(len(names)):
        for j in range(len(names)):
            if i != j:
                shade = "white" if abs(m[i, j] - 0.5) > 0.3 else "black"
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=8, color=shade)
    labels = [wrap(n, 14) for n in names]
    ax.set_xticks(range(len(names)), labels, rotation=35, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(len(names)), labels)
    ax.set_xlabel("method Y")
    ax.set_ylabel("method X")
    ax.set_title("P(X > Y) on final success")
    ax.grid(False)
    _suptitle(fig, title, 60)
    return fig


@styled
def task_bars_figure(table: pd.DataFrame, title: str) -> Figure | None:
    """Final success per task and method, horizontal so long task names never collide."""
    if table.empty:
        return None
    tasks = sorted(table["task"].unique())
    methods = sorted(table["method"].unique())
    h = 0.8 / len(methods)
    fig, axes = new_figure(1, 1, 7.0, 0.17 * len(tasks) * len(methods) + 0.3 * len(tasks) + 1.2)
    ax, col = axes[0][0], colors(methods)
    for i, m in enumerate(methods):
        t = table[table["method"] == m].set_index("task").reindex(tasks)
        ys = np.arange(len(tasks)) - 0.4 + h * (i + 0.5)
        mean = t["success_mean"].to_numpy(float)
        err = np.vstack(
            [mean - t["ci95_low"].to_numpy(float), t["ci95_high"].to_numpy(float) - mean]
        )
        err = np.nan_to_num(np.clip(err, 0, None))
        ax.barh(ys, mean, h, xerr=err, capsize=2, color=col[m], label=m)
        for y, v, e in zip(ys, mean, err[1], strict=True):  # a value, so a 0 is seen, not missed
            if np.isfinite(v):
                ax.text(v + e + 0.01, y, f"{v:.2f}", va="center", fontsize=6.5, color="#333")
    ax.set_yticks(range(len(tasks)), [wrap(t, 26) for t in tasks])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.1)
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.set_xlabel("final success rate (mean over seeds, 95 % CI)")
    ax.grid(axis="y", visible=False)
    ax.legend(
        loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=min(4, len(methods)), frameon=False
    )
    _suptitle(fig, title, 100)
    return fig


#: metrics shown whenever their column exists, with a sentence where nothing was measured
ALWAYS_SHOWN = {"success_rate", "reward_alignment"}
#: why a metric can be missing for a whole task
MISSING_WHY = {
    "reward_alignment": "not measurable in these runs: every labelled state had the same true "
    "level, or the method learns no reward",
}


def plotted_metrics(curves: pd.DataFrame) -> list[str]:
    """The known metric columns present (others only with a finite value), success first."""
    return [
        m
        for m in METRIC_LABELS
        if m in curves and (m in ALWAYS_SHOWN or np.isfinite(curves[m].to_numpy(float)).any())
    ]


def _x_axis(ax: plt.Axes, label: str) -> None:
    ax.set_xlabel(label)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=4, integer=True))
    ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))


def _mean_band(ax: plt.Axes, g: pd.DataFrame, metric: str, color: tuple, label: str) -> bool:
    """Mean over seeds at each x with a 95 % normal-approximation band; False if nothing finite."""
    g = g[np.isfinite(g[metric].to_numpy(float))]
    if g.empty:
        return False
    per_x = g.groupby("x")[metric]
    mean, std, n = per_x.mean(), per_x.std().fillna(0.0), per_x.count()
    half = 1.96 * std / np.sqrt(n.clip(lower=1))
    ax.plot(mean.index, mean.to_numpy(), color=color, label=label, marker="o", markersize=3)
    # every metric in METRIC_LABELS lies in [0, 1]: a band from two seeds must not leave it
    lo, hi = (mean - half).clip(0, 1), (mean + half).clip(0, 1)
    ax.fill_between(mean.index, lo, hi, color=color, alpha=0.15, linewidth=0)
    return True


@styled
def curves_figure(curves: pd.DataFrame, xlabel: str, context: str = "") -> Figure | None:
    """One row per task, one column per logged metric: success beside reward alignment etc.

    `curves` has columns task, method, seed, x and the metric columns. A metric no run of a
    task logged gets a sentence in its cell instead of an empty panel. The title names the
    metrics drawn and the axis, then `context`.
    """
    metrics = plotted_metrics(curves)
    tasks = sorted(curves["task"].unique())
    if not metrics or not tasks:
        return None
    col = colors(curves["method"].unique())
    fig, axes = new_figure(len(tasks), len(metrics), 3.6, 2.6, sharex="row")
    for r, task in enumerate(tasks):
        sub = curves[curves["task"] == task]
        for c, metric in enumerate(metrics):
            ax = axes[r][c]
            drawn = [
                _mean_band(ax, g, metric, col[m], f"{m} (n={g['seed'].nunique()})")
                for m, g in sub.groupby("method", sort=True)
            ]
            if not any(drawn):
                name = METRIC_LABELS[metric].splitlines()[0]
                why = MISSING_WHY.get(metric, "no run logged it")
                _note(ax, f"{task}, {name}: {why}")
                continue
            ax.set_title(wrap(task, 40))
            ax.set_ylabel(METRIC_LABELS[metric])
            _x_axis(ax, xlabel)
            ax.set_ylim(-0.05, 1.05)
            if c == 0:
                ax.legend(loc="best", fontsize=7)
    names = " and ".join(METRIC_LABELS[m].splitlines()[0] for m in metrics)
    title = f"{names[0].upper()}{names[1:]} against {xlabel}" + (f" ({context})" if context else "")
    _suptitle(fig, title, 45 * len(metrics))
    return fig


def _held(g: pd.DataFrame, grid: np.ndarray, metric: str) -> np.ndarray:
    """A run's metric at each grid point: its last evaluation at or before it."""
    g = g.sort_values("x")
    idx = np.searchsorted(g["x"].to_numpy(float), grid, side="right") - 1
    return g[metric].to_numpy(float)[np.clip(idx, 0, None)]


def efficiency_points(
    curves: pd.DataFrame, metric: str = "success_rate"
) -> dict[str, pd.DataFrame]:
    """Per method: IQM over tasks x seeds (with its CI) at the x points every run reached."""
    out = {}
    for method, g in curves.groupby("method", sort=True):
        runs = {k: r for k, r in g.groupby(["task", "seed"])}
        lo_x = max(r["x"].min() for r in runs.values())
        hi_x = min(r["x"].max() for r in runs.values())
        grid = np.unique(g["x"].to_numpy(float))
        grid = grid[(grid >= lo_x) & (grid <= hi_x)]
        held = {k: _held(r, grid, metric) for k, r in runs.items()}
        tasks = sorted({t for t, _ in runs})
        seeds = sorted({s for _, s in runs if all((t, s) in runs for t in tasks)})
        if not seeds or len(grid) < 2:
            continue
        rows = []
        for i, x in enumerate(grid):
            scores = np.array([[held[(t, s)][i] for t in tasks] for s in seeds])
            point, lo, hi = interval_estimates(scores, iqm, reps=500)
            rows.append({"x": x, "iqm": point, "lo": lo, "hi": hi})
        out[method] = pd.DataFrame(rows)
    return out


@styled
def efficiency_figure(curves: pd.DataFrame, xlabel: str, title: str) -> Figure | None:
    """Sample efficiency: IQM of success over tasks x seeds against what was spent."""
    points = efficiency_points(curves)
    if not points:
        return None
    fig, axes = new_figure(1, 1, 5.2, 3.4)
    ax, col = axes[0][0], colors(curves["method"].unique())
    for m, p in points.items():
        ax.plot(p["x"], p["iqm"], color=col[m], label=m, marker="o", markersize=3)
        if p["lo"].notna().any():
            ax.fill_between(p["x"], p["lo"], p["hi"], color=col[m], alpha=0.15, linewidth=0)
    ax.set_ylabel("IQM of success rate")
    ax.set_ylim(-0.05, 1.05)
    _x_axis(ax, xlabel)
    ax.legend(loc="best")
    _suptitle(fig, title, 70)
    return fig
