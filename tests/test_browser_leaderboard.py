"""The leaderboard page in a real browser: it loads offline, sorts on a click, renders plots."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from benchmark.leaderboard.protocol import get_protocol
from tests.browser import images_loaded, open_page, require_browser, screenshot
from tests.test_leaderboard import demo_protocols, make_fake_board

ENTRIES = {"sparse": 0.1, "gt-reward": 0.85, "erl-vlm": 0.6, "zz-mine": 0.45, "aa-other": 0.3}


def _keep(path: Path) -> None:
    """Copy a screenshot to $BROWSER_SCREENSHOT_DIR when set (to look at it by eye)."""
    if out := os.environ.get("BROWSER_SCREENSHOT_DIR"):
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(out) / path.name)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    require_browser()
    tmp = tmp_path_factory.mktemp("lb-browser")
    pfile = demo_protocols(tmp)
    proto = get_protocol("demo", path=pfile)
    make_fake_board(tmp / "boards", proto, ENTRIES, tmp / "work", protocols_file=pfile)
    return proto.board_dir(tmp / "boards")


def _names(page) -> list[str]:
    return page.eval_on_selector_all("#ranking tbody tr", "rows => rows.map(r => r.dataset.name)")


def _column(page, key: str) -> list[str | None]:
    col = page.eval_on_selector_all(
        "#ranking thead th", f"hs => hs.findIndex(h => h.dataset.key === {json.dumps(key)})"
    )
    return page.eval_on_selector_all(
        "#ranking tbody tr",
        f"rows => rows.map(r => r.cells[{col}].getAttribute('data-value') ?? r.cells[{col}].textContent)",
    )


def test_leaderboard_page_sorts_and_renders(board, tmp_path):
    standings = json.loads((board / "standings.json").read_text())
    ranked = [r["name"] for r in standings["rows"]]
    for fig in standings["figures"]:  # data drawn, no overlapping or clipped labels
        assert fig["png"] and fig["problems"] == [], (fig["id"], fig["problems"])
    with open_page(board / "index.html") as (page, log):
        assert page.title().startswith("Leaderboard metaworld / scripted")
        assert _names(page) == ranked  # the page opens in ranking order

        # a numeric column: first click sorts descending, second ascending
        page.click("#ranking th[data-key=mean]")
        means = [float(v) for v in _column(page, "mean")]
        assert means == sorted(means, reverse=True)
        assert page.get_attribute("#ranking th[data-key=mean]", "aria-sort") == "descending"
        page.click("#ranking th[data-key=mean]")
        assert [float(v) for v in _column(page, "mean")] == sorted(means)

        # a text column: alphabetical, a different order from the ranking
        page.click("#ranking th[data-key=name]")
        assert _names(page) == sorted(ENTRIES) != ranked
        assert page.get_attribute("#ranking th[data-key=mean]", "aria-sort") is None

        # P(> sparse) is empty for sparse itself: it sorts last whatever the direction
        page.click("#ranking th[data-key=p_improve]")
        assert _names(page)[-1] == "sparse"
        page.click("#ranking th[data-key=p_improve]")
        assert _names(page)[-1] == "sparse"

        # the keyboard works too, and the per-task table sorts independently
        page.focus("#per-task th[data-key=mean]")
        page.keyboard.press("Enter")
        per_task = page.eval_on_selector_all(
            "#per-task tbody tr", "rows => rows.map(r => parseFloat(r.cells[2].dataset.value))"
        )
        assert per_task == sorted(per_task, reverse=True) and len(per_task) == 2 * len(ENTRIES)

        imgs = images_loaded(page, "figure img")
        # the report's figures: aggregate, profiles, P(improvement), curves, sample efficiency
        assert len(imgs) == 5 and all(i["complete"] and i["width"] > 300 for i in imgs), imgs
        captions = page.eval_on_selector_all("figcaption", "cs => cs.map(c => c.textContent)")
        assert len(captions) == 5 and all("Oracle:" in c and "Seeds:" in c for c in captions)
        assert page.is_visible("#not-official")  # the demo protocol is labelled as such
        # nothing widens the page past the window: wide tables scroll in their own box
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot = screenshot(page, tmp_path / "leaderboard.png")
        _keep(shot)
        assert not log.console_errors and not log.page_errors, (log.console_errors, log.page_errors)
        assert not log.blocked, f"the page tried to load external assets: {log.blocked}"


def test_missing_browser_skips_locally_but_fails_in_ci(monkeypatch):
    import tests.browser as browser

    monkeypatch.setattr(browser, "chromium_path", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        browser.require_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="browser tests must run in CI"):
        browser.require_browser()


def test_committed_smoke_board_page_renders(tmp_path):
    """The smoke board as committed (regenerated by `leaderboard standings --protocol smoke`)."""
    require_browser()
    board = get_protocol("smoke").board_dir()
    standings = json.loads((board / "standings.json").read_text())
    assert standings["figures"], "regenerate: python -m benchmark leaderboard standings"
    for fig in standings["figures"]:
        assert fig["png"] and fig["problems"] == [], (fig["id"], fig["problems"])
    with open_page(board / "index.html", height=1000) as (page, log):
        imgs = images_loaded(page, "figure img")
        assert len(imgs) == len(standings["figures"])
        assert all(i["complete"] and i["width"] > 300 for i in imgs), imgs
        rows = page.eval_on_selector_all("#ranking tbody tr", "rs => rs.length")
        assert rows == len(standings["rows"])
        # nothing widens the page past the window: wide tables scroll in their own box
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot = screenshot(page, tmp_path / "leaderboard-smoke.png")
        _keep(shot)
        assert not log.console_errors and not log.page_errors, (log.console_errors, log.page_errors)
        assert not log.blocked, f"the page tried to load external assets: {log.blocked}"
