"""The board's static index.html: one file, no server, no external assets.

Tables sort on a click on their header (inline script, numbers sort numerically with missing
values last); figures are embedded as data URIs so the page can be opened from disk or attached.
Style sheet and figure blocks are the run report's (benchmark/analysis/pages.py), and so are
the figures (benchmark/leaderboard/board_figures.py draws them with analysis/figures.py).
"""

from __future__ import annotations

import html
import json
from typing import Any

from benchmark.analysis.pages import CSS, FigureRecord, figure_html, scroll
from benchmark.leaderboard.protocol import Protocol

SCRIPT = """
(function () {
  function value(row, col, numeric) {
    var cell = row.cells[col];
    var raw = cell.getAttribute('data-value');
    if (raw === null) raw = cell.textContent;
    if (!numeric) return raw.toLowerCase();
    var v = parseFloat(raw);
    return isNaN(v) ? null : v;
  }
  function sortBy(table, th, col) {
    var numeric = th.getAttribute('data-type') === 'num';
    var first = th.getAttribute('data-first') || (numeric ? 'descending' : 'ascending');
    var current = th.getAttribute('aria-sort');
    var dir = current ? (current === 'ascending' ? 'descending' : 'ascending') : first;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a, col, numeric), y = value(b, col, numeric);
      if (x === null || y === null) return (x === null) - (y === null);
      var c = x < y ? -1 : x > y ? 1 : 0;
      return dir === 'ascending' ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir);
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.title = 'click to sort';
      th.addEventListener('click', function () { sortBy(table, th, col); });
      th.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(table, th, col); }
      });
    });
  });
})();
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(x: float | None, digits: int = 3) -> str:
    if x is None:
        return '<td data-value="">–</td>'
    return f'<td data-value="{x!r}">{x:.{digits}f}</td>'


def _th(label: str, key: str, numeric: bool, title: str = "") -> str:
    kind = "num" if numeric else "text"
    cls = "" if numeric else ' class="t"'
    tip = f' aria-label="{_e(title)}"' if title else ""
    return f'<th data-key="{_e(key)}" data-type="{kind}"{cls}{tip}>{_e(label)}</th>'


def _ranking(proto: Protocol, rows: list[dict[str, Any]]) -> str:
    heads = [
        _th("Rank", "rank", True),
        _th("Method", "name", False),
        _th("Re-run", "verified", False, "verified: re-run by the suite and reproduced"),
        _th("IQM", "iqm", True),
        _th("IQM CI low", "iqm_ci_low", True),
        _th("IQM CI high", "iqm_ci_high", True),
        _th("Mean", "mean", True),
    ]
    heads += [_th(t.split("/")[-1], f"task:{t}", True, t) for t in proto.tasks]
    heads += [
        _th("P(> sparse)", "p_improve", True),
        _th("Version", "version", False),
        _th("Authors", "authors", False),
        _th("Submitted", "created_at", False),
    ]
    heads[0] = heads[0].replace('data-type="num"', 'data-type="num" data-first="ascending"')
    body = []
    for r in rows:
        cells = [
            f'<td data-value="{r["rank"]}">{r["rank"]}</td>',
            f'<td class="t" title="{_e(r["code"])}">{_e(r["name"])}</td>',
            '<td class="t">verified</td>' if r["verified"] else '<td class="t un">unverified</td>',
            _num(r["iqm"]),
            _num(r["iqm_ci"][0]),
            _num(r["iqm_ci"][1]),
            _num(r["mean"]),
        ]
        cells += [_num(r["per_task"][t]["mean"]) for t in proto.tasks]
        cells += [
            _num(r["p_improve"], 2),
            f'<td class="t">{_e(r["version"])}</td>',
            f'<td class="t">{_e(", ".join(r["authors"]))}</td>',
            f'<td class="t">{_e(r["created_at"][:10])}</td>',
        ]
        cls = ' class="baseline"' if r["kind"] == "baseline" else ""
        body.append(f'<tr{cls} data-name="{_e(r["name"])}">' + "".join(cells) + "</tr>")
    return (
        '<table id="ranking" class="sortable"><thead><tr>'
        + "".join(heads)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


def _per_task(proto: Protocol, rows: list[dict[str, Any]]) -> str:
    heads = [
        _th("Task", "task", False),
        _th("Method", "name", False),
        _th("Mean", "mean", True),
        _th("Std", "std", True),
        _th("CI low", "ci_low", True),
        _th("CI high", "ci_high", True),
        _th("Seeds", "n", True),
        _th(f"Per-seed {proto.score_name()}", "seeds", False),
    ]
    body = []
    for t in proto.tasks:
        for r in rows:
            pt = r["per_task"][t]
            seeds = ", ".join(f"{v:.2f}" for v in pt["seeds"])
            body.append(
                f'<tr data-name="{_e(r["name"])}"><td class="t">{_e(t)}</td>'
                f'<td class="t">{_e(r["name"])}</td>'
                + _num(pt["mean"])
                + _num(pt["std"])
                + _num(pt["ci"][0])
                + _num(pt["ci"][1])
                + f'<td data-value="{pt["n"]}">{pt["n"]}</td>'
                + f'<td class="t">{_e(seeds)}</td></tr>'
            )
    return (
        '<table id="per-task" class="sortable"><thead><tr>'
        + "".join(heads)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


def render_index(
    proto: Protocol,
    rows: list[dict[str, Any]],
    rejected: list[tuple[str, str]],
    figs: list[FigureRecord],
) -> str:
    facts = [
        f"Suite <b>{_e(proto.suite)}</b>: {', '.join(_e(t) for t in proto.tasks)}",
        f"Seeds {_e(', '.join(map(str, proto.seeds)))}",
        f"Budget <b>{_e(proto.budget)}</b>: {_e(proto.budget_text())}"
        + (
            f"; overrides {_e(json.dumps(proto.budget_overrides))}"
            if proto.budget_overrides
            else ""
        ),
        f"Track <b>{_e(proto.track)}</b>: oracle {_e(proto.oracle.provider)}",
    ] + ([_e(proto.notes)] if proto.notes else [])
    warn = (
        ""
        if proto.official
        else f'<p class="warn" id="not-official">Protocol <b>{_e(proto.id)}</b> is not an official '
        "leaderboard protocol: its numbers only check that the machinery works.</p>"
    )
    by_id = {f.ident: f for f in figs}

    def block(*idents: str) -> str:
        return "".join(figure_html(by_id[i]) for i in idents if i in by_id)

    no_entries = '<p class="note">No valid submissions yet.</p>' if not figs else ""
    rejected_html = (
        "<h2>Not listed (failed validation)</h2><ul>"
        + "".join(f"<li><b>{_e(n)}</b>: {_e(why)}</li>" for n, why in rejected)
        + "</ul>"
        if rejected
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Leaderboard {_e(proto.suite)} / {_e(proto.track)} ({_e(proto.id)})</title>
<style>{CSS}</style></head><body>
<!-- Generated by `python -m benchmark leaderboard standings`; do not edit by hand. -->
<h1>Leaderboard: {_e(proto.suite)} / {_e(proto.track)} <small>({_e(proto.id)})</small></h1>
{warn}<p>{_e(proto.title)}</p>
<ul id="protocol">{"".join(f"<li>{f}</li>" for f in facts)}</ul>
<h2>Ranking</h2>
<p class="note">Ranked by the interquartile mean (IQM) of {_e(proto.score_name())} over tasks &times; seeds,
with 95&nbsp;% stratified-bootstrap confidence intervals. P(&gt; sparse): probability of
improvement over the sparse-reward baseline. &dagger; = one of the suite's own baselines.
Re-run: <i>verified</i> entries were re-run by the suite and reproduced; <i>unverified</i> ones
are shown as submitted. Click a column header to sort.</p>
{scroll(_ranking(proto, rows))}
{block("ranking-plot", "profiles-plot", "poi-plot")}
<h2>Per-task results</h2>
{scroll(_per_task(proto, rows))}
<h2>Learning curves</h2>
<p class="note">{"Reward score" if proto.kind == "reward-model" else "Success rate of the evaluation episodes"} against {_e(proto.curve_axis())}, with
the reward alignment of the training reward beside it: mean over seeds, one row per task.</p>
{block("curves-plot", "efficiency-plot")}{no_entries}
{rejected_html}
<script>{SCRIPT}</script>
</body></html>
"""
