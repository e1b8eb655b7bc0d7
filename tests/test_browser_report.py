"""The sweep's report.html in a real browser: no errors, the results table and every plot."""

from __future__ import annotations

from benchmark.analysis.report import make_report
from benchmark.leaderboard.protocol import get_protocol
from tests.browser import images_loaded, open_page, require_browser, screenshot
from tests.test_browser_leaderboard import _keep
from tests.test_leaderboard import write_fake_run

TASKS = ["metaworld/drawer-open", "metaworld/sweep-into"]
METHODS = {"erl-vlm": 0.6, "sparse": 0.2}


def test_report_html_opens_without_errors(tmp_path):
    require_browser()
    proto = get_protocol("smoke")
    results = tmp_path / "results"
    for task in TASKS:
        for method, level in METHODS.items():
            for seed in (0, 1):
                write_fake_run(results, proto, task, method, seed, round(level + 0.1 * seed, 2))
    out = make_report(results)

    with open_page(out["html"]) as (page, log):
        rows = page.eval_on_selector_all("table#results tbody tr", "rs => rs.length")
        assert rows == len(TASKS) * len(METHODS)
        header = page.eval_on_selector_all(
            "table#results thead th", "hs => hs.map(h => h.textContent)"
        )
        assert "success_mean" in header and "ci95_low" in header
        assert page.eval_on_selector_all("table#aggregate tbody tr", "rs => rs.length") == 2
        imgs = images_loaded(page)
        assert len(imgs) == 3, imgs  # curves vs steps, curves vs queries, bars
        assert all(i["complete"] and i["width"] > 300 for i in imgs), imgs
        shot = screenshot(page, tmp_path / "report.png")
        _keep(shot)
        assert not log.console_errors and not log.page_errors, (log.console_errors, log.page_errors)
        assert not log.blocked, f"report.html tried to load external assets: {log.blocked}"
