"""What the run report and the leaderboard page share: the style sheet and figure blocks.

Both pages are one self-contained HTML file (images as data URIs, no external assets). A
figure is an <img> with its caption (oracle, budget, seeds, CI method) under it; a figure that
has nothing to show is replaced by a sentence saying why.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1250px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}h3{font-size:1em;margin-top:1.2em}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:.5em .8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}
td.t,th.t{text-align:left}
th{background:#eef;position:sticky;top:0}
table.sortable th{cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
tr.baseline td:nth-child(2)::after{content:" \\2020";color:#777}
td.un{color:#a04000;font-style:italic}
figure{margin:1em 0 1.6em 0}
figure img{max-width:100%;display:block;margin:.3em 0}
figcaption,.note{color:#555;font-size:.9em;max-width:60em}
.scroll{overflow-x:auto;max-width:100%}
"""


def e(x: Any) -> str:
    return html.escape(str(x), quote=True)


@dataclass
class FigureRecord:
    """One figure of a page: its files, caption and what the layout check found."""

    ident: str
    title: str
    caption: str
    png: Path | None = None
    svg: Path | None = None
    #: set instead of png/svg when there was nothing to draw
    note: str = ""
    problems: list[str] = field(default_factory=list)

    def manifest(self, root: Path) -> dict[str, Any]:
        def rel(p: Path | None) -> str | None:
            return None if p is None else str(p.relative_to(root))

        return {
            "id": self.ident,
            "title": self.title,
            "caption": self.caption,
            "png": rel(self.png),
            "svg": rel(self.svg),
            "note": self.note,
            "problems": self.problems,
        }


def scroll(table_html: str) -> str:
    """A wide table scrolls inside its box instead of widening the page."""
    return f'<div class="scroll">{table_html}</div>'


def figure_html(fig: FigureRecord) -> str:
    """<figure> with the PNG embedded and its caption, or the note that replaces it."""
    if fig.png is None:
        return f'<p class="note" id="{e(fig.ident)}"><b>{e(fig.title)}:</b> {e(fig.note)}</p>'
    data = base64.b64encode(fig.png.read_bytes()).decode()
    return (
        f'<figure id="{e(fig.ident)}"><img alt="{e(fig.title)}" src="data:image/png;base64,{data}">'
        f"<figcaption><b>{e(fig.title)}.</b> {e(fig.caption)}</figcaption></figure>"
    )
