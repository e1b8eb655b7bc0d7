"""The sweep's report.html in a real browser: no errors, the tables, every figure and its caption.

By default it renders a report of fake MetaWorld + ALFRED runs. REPORT_UNDER_TEST=<sweep dir>
checks a real report instead (how docs/report.md's screenshot was taken); with
BROWSER_SCREENSHOT_DIR set, the screenshot is copied there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from benchmark.analysis.report import make_report
from tests.browser import images_loaded, open_page, require_browser, screenshot
from tests.report_fakes import OFFLINE, ONLINE, write_sweep
from tests.test_browser_leaderboard import _keep


def _report(tmp_path: Path) -> Path:
    if given := os.environ.get("REPORT_UNDER_TEST"):
        return Path(given)
    results = tmp_path / "results"
    write_sweep(results, ONLINE + OFFLINE)
    make_report(results)
    return results


def test_report_html_opens_without_errors(tmp_path):
    require_browser()
    root = _report(tmp_path)
    manifest = json.loads((root / "figures.json").read_text())
    for fig in manifest:  # every figure: data drawn, no overlapping or clipped labels
        assert fig["problems"] == [], (fig["id"], fig["problems"])
    drawn = [f for f in manifest if f["png"]]
    runs = len((root / "summary.csv").read_text().splitlines()) - 1

    with open_page(root / "report.html", height=1000) as (page, log):
        rows = page.eval_on_selector_all("table#results tbody tr", "rs => rs.length")
        table_rows = len((root / "table.csv").read_text().splitlines()) - 1
        assert rows == table_rows and runs > 0
        header = page.eval_on_selector_all(
            "table#results thead th", "hs => hs.map(h => h.textContent)"
        )
        assert "success_mean" in header and "reward_alignment" in header
        assert "nan" not in page.inner_text("table#results").lower()
        assert page.eval_on_selector_all("table#aggregate tbody tr", "rs => rs.length") >= 1
        imgs = images_loaded(page, "figure img")
        assert len(imgs) == len(drawn), imgs
        assert all(i["complete"] and i["width"] > 300 for i in imgs), imgs
        captions = page.eval_on_selector_all("figcaption", "cs => cs.map(c => c.textContent)")
        assert len(captions) == len(drawn) and all("Oracle:" in c for c in captions)
        for fig in manifest:
            if not fig["png"]:  # a sentence in place of an empty figure
                assert fig["note"] in page.inner_text(f"#{fig['id']}")
        # nothing widens the page past the window: wide tables scroll in their own box
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot = screenshot(page, tmp_path / "report.png")
        _keep(shot)
        assert not log.console_errors and not log.page_errors, (log.console_errors, log.page_errors)
        assert not log.blocked, f"report.html tried to load external assets: {log.blocked}"
