"""A board's figures, drawn by the same code as a sweep's report (benchmark/analysis/figures.py).

Final success comes from each submission's runs; curves from the curve a submission carries,
with reward alignment read from the run's metrics.csv next to the submission when it is there
(the submission schema has no alignment column).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.analysis import figures as F
from benchmark.analysis.pages import FigureRecord
from benchmark.leaderboard.protocol import Protocol
from benchmark.leaderboard.schema import Submission
from benchmark.leaderboard.summary import score_matrix


def _alignment(sub_path: Path | None, metrics_file: str, n: int) -> np.ndarray:
    """The run's logged reward alignment, or NaN when its metrics.csv is not at hand."""
    nan = np.full(n, np.nan)
    if sub_path is None:
        return nan
    path = sub_path.parent / metrics_file
    try:
        m = pd.read_csv(path)
    except (OSError, ValueError):
        return nan
    if "reward_alignment" not in m or len(m) != n:
        return nan
    return m["reward_alignment"].to_numpy(float)


def board_curves(subs: list[tuple[Submission, Path | None]]) -> pd.DataFrame:
    """Every evaluation of every run: task, method, seed, x (the protocol's axis) and metrics."""
    frames = []
    for sub, path in subs:
        for r in sub.runs:
            c = r.curve
            frames.append(
                pd.DataFrame(
                    {
                        "task": r.task,
                        "method": sub.method.name,
                        "seed": r.seed,
                        "x": c.step,
                        "step": c.step,
                        "queries": c.queries,
                        "success_rate": c.success_rate,
                        "reward_alignment": _alignment(path, r.metrics_file, len(c.step)),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def _caption(proto: Protocol, what: str) -> str:
    return (
        f"Oracle: {proto.oracle.provider}. Budget: {proto.budget} ({proto.budget_text()}). "
        f"Seeds: {', '.join(map(str, proto.seeds))} ({len(proto.seeds)}). "
        f"Tasks ({len(proto.tasks)}): {', '.join(proto.tasks)}. {what}"
    )


def write_board_figures(
    subs: list[tuple[Submission, Path | None]],
    proto: Protocol,
    board: Path,
    order: list[str] | None = None,
) -> list[FigureRecord]:
    """standings.png (the aggregate panel, entries in `order`: the ranking), profiles,
    P(improvement), curves, efficiency."""
    order = order or []
    recs: list[FigureRecord] = []

    def add(ident: str, stem: str, title: str, cap: str, fig, note: str) -> None:
        rec = FigureRecord(ident, title, cap, note="" if fig is not None else note)
        if fig is not None:
            rec.problems = F.save(fig, board / stem)
            rec.png, rec.svg = board / f"{stem}.png", board / f"{stem}.svg"
        recs.append(rec)

    if not subs:
        return recs
    scores = {s.method.name: score_matrix(s.runs, proto.tasks, proto.seeds) for s, _ in subs}
    ranked = sorted(scores, key=lambda m: order.index(m) if m in order else len(order))
    scores = {m: scores[m] for m in ranked}
    # the reward-model track's score sits in the `success` columns; name what it is
    score = "reward score" if proto.kind == "reward-model" else "success"
    head = f"final {score} over {len(proto.tasks)} task(s) x {len(proto.seeds)} seeds"
    ci = f"Intervals: {F.CI_TEXT} (2000 resamples)."
    add(
        "ranking-plot",
        "standings",
        "IQM, mean and optimality gap",
        _caption(proto, ci),
        F.aggregate_figure(scores, f"{proto.id}: {head}"),
        "",
    )
    add(
        "profiles-plot",
        "profiles",
        "Performance profiles",
        _caption(proto, f"Bands: {F.CI_TEXT}."),
        F.profile_figure(scores, f"Performance profiles ({head})"),
        "",
    )
    add(
        "poi-plot",
        "poi",
        "Probability of improvement",
        _caption(proto, "P(X > Y) per task, averaged over tasks; point estimates, no interval."),
        F.poi_figure(scores, f"Probability of improvement ({head})"),
        "a single entry: there is no pair to compare",
    )
    curves = board_curves(subs)
    axis = proto.curve_axis()
    add(
        "curves-plot",
        "curves",
        f"Learning curves against {axis}",
        _caption(
            proto,
            "Mean over seeds, bands: 95 % normal-approximation interval of the mean; "
            "reward alignment where the run's metrics.csv is committed with the entry.",
        ),
        F.curves_figure(curves, axis, proto.id),
        "no curve to draw",
    )
    add(
        "efficiency-plot",
        "efficiency",
        f"Sample efficiency: IQM against {axis}",
        _caption(proto, f"IQM of {score} over tasks x seeds; bands: {F.CI_TEXT}."),
        F.efficiency_figure(curves, axis, f"IQM of {score} against {axis}"),
        "fewer than two evaluations common to every run",
    )
    return recs
