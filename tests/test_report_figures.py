"""Every figure of a MetaWorld + ALFRED report has data and readable labels; tables have no NaN.

The layout check (figures.layout_problems) uses matplotlib's text bounding boxes; it is first
shown to catch what it is for, on a figure built to fail it.
"""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pytest

from benchmark.analysis import figures
from benchmark.analysis.report import make_report
from tests.report_fakes import OFFLINE, ONLINE, write_sweep


def test_layout_check_catches_overlap_clipping_and_empty_panels():
    fig, axes = plt.subplots(1, 2, figsize=(3, 2))
    names = [f"alfred/pick-{k}-then-place-in-the-cabinet" for k in ("cool", "heat", "clean")]
    axes[0].bar(names, [0.1, 0.5, 0.9])  # long names side by side: they overlap
    axes[1].set_title("nothing drawn here")
    fig.suptitle("a title pushed above the top edge", y=1.2)
    problems = figures.layout_problems(fig)
    plt.close(fig)
    assert any("overlapping x tick labels" in p for p in problems), problems
    assert any("empty panel: 'nothing drawn here'" in p for p in problems), problems
    assert "the figure's title is clipped" in problems


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    write_sweep(out, ONLINE + OFFLINE)
    return out, make_report(out)


def test_every_figure_has_data_and_no_overlapping_labels(report):
    out, files = report
    manifest = json.loads(files["figures"].read_text())
    drawn = [f for f in manifest if f["png"]]
    assert {f["id"] for f in drawn} >= {"aggregate", "profiles", "poi", "tasks"}
    for f in drawn:
        assert f["problems"] == [], (f["id"], f["problems"])
        assert (out / f["png"]).stat().st_size > 5000 and (out / f["svg"]).exists()
        for word in ("Oracle: scripted", "Budget: smoke", "Seeds: 0, 1"):
            assert word in f["caption"], (f["id"], word)
        assert "95 %" in f["caption"] or "no interval" in f["caption"], f["id"]


def test_axes_say_what_was_counted_and_offline_runs_get_no_query_curve(report):
    out, files = report
    by_id = {f["id"]: f for f in json.loads(files["figures"].read_text())}
    assert by_id["curves-environment-steps"]["png"] and by_id["curves-iql-updates-offline"]["png"]
    assert by_id["efficiency-queries-environment-steps"]["png"]  # online erl-vlm spends queries
    offline = by_id["efficiency-queries-iql-updates-offline"]
    assert offline["png"] is None and "before training" in offline["note"]
    svg = (out / by_id["curves-iql-updates-offline"]["svg"]).read_text()
    assert "IQL updates" in svg and "environment steps" not in svg
    # reward alignment is drawn beside success, and sparse (which logs none) is not in it
    assert "reward alignment" in svg
    html = files["html"].read_text()
    assert 'id="efficiency-queries-iql-updates-offline"' in html and "before training" in html


def test_tables_users_read_have_no_nan(report):
    out, files = report
    for key in ("summary", "table_csv", "table_md", "aggregate"):
        text = files[key].read_text()
        assert "nan" not in text.lower(), key
    assert "n/a" in files["table_md"].read_text()  # sparse has no reward alignment


def test_leaderboard_figures_pass_the_same_check(tmp_path):
    from benchmark.leaderboard.protocol import get_protocol
    from tests.test_leaderboard import demo_protocols, make_fake_board

    pfile = demo_protocols(tmp_path)
    proto = get_protocol("demo", path=pfile)
    entries = {"sparse": 0.1, "gt-reward": 0.85, "erl-vlm": 0.6}
    make_fake_board(tmp_path / "boards", proto, entries, tmp_path / "work", protocols_file=pfile)
    board = proto.board_dir(tmp_path / "boards")
    figs = json.loads((board / "standings.json").read_text())["figures"]
    assert [f["id"] for f in figs] == [
        "ranking-plot",
        "profiles-plot",
        "poi-plot",
        "curves-plot",
        "efficiency-plot",
    ]
    for f in figs:
        assert f["problems"] == [], (f["id"], f["problems"])
        assert (board / f["png"]).exists() and (board / f["svg"]).exists()
    assert proto.curve_axis() in (board / "curves.svg").read_text()


@pytest.mark.parametrize(
    "tasks",
    [["metaworld/drawer-open"], OFFLINE],
    ids=["make-bench-default", "make-bench-alfred"],
)
def test_the_default_sweeps_shapes_pass_the_check(tmp_path, tasks):
    """One method, as `make bench` and `make bench TASK=alfred` run: the shapes where the old
    report clipped its curves' title (one task) and overlapped its bar labels (ALFRED)."""
    write_sweep(tmp_path, tasks, {"erl-vlm": 0.5})
    manifest = json.loads(make_report(tmp_path)["figures"].read_text())
    for f in manifest:
        assert f["problems"] == [], (f["id"], f["problems"])
    notes = {f["id"]: f["note"] for f in manifest if not f["png"]}
    assert "single method" in notes["poi"]


def test_reward_alignment_that_was_never_measurable_gets_a_sentence():
    import pandas as pd

    curves = pd.DataFrame(
        {
            "task": "metaworld/drawer-open",
            "method": "erl-vlm",
            "seed": 0,
            "x": [0, 500, 1000],
            "success_rate": [0.0, 0.0, 0.5],
            "reward_alignment": [float("nan")] * 3,
        }
    )
    fig = figures.curves_figure(curves, "environment steps")
    notes = [ax for ax in fig.axes if ax.get_label() == "<note>"]
    text = " ".join(t.get_text() for ax in notes for t in ax.texts)
    problems = figures.layout_problems(fig)
    plt.close(fig)
    assert len(fig.axes) == 2 and len(notes) == 1 and "same true level" in text.replace("\n", " ")
    assert problems == []
