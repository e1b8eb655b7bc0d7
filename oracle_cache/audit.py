"""Audit an oracle: do its ratings agree with ground truth, and do they rise along expert runs?

Environment-free: the caller (the env side) collects trajectories, asks the oracle, and hands
over one `AuditRecord` per query. `audit` writes a confusion-matrix PNG (ground-truth success
against rating), a ratings-along-trajectory PNG (expert vs random) and a self-contained HTML
gallery of the queried frames with their rating and analysis text (images inlined as base64),
plus `audit.json` with the figures. Records can be saved and reloaded (`save_records`,
`load_records`) so `python -m oracle_cache audit RECORDS.jsonl` can redo the report later.
"""

from __future__ import annotations

import base64
import html
import io
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oracle_cache.entry import is_hex_digest
from oracle_cache.images import decode_png, png_bytes, to_uint8_image
from oracle_cache.keys import frame_digest
from oracle_cache.prompts import LEVEL_NAMES


@dataclass
class AuditRecord:
    """One oracle query. `position` is 0..1 along its trajectory (0 start, 1 end)."""

    frames: Sequence[np.ndarray]
    rating: int
    levels: int
    success: bool
    analysis: str = ""
    position: float | None = None
    trajectory: str | None = None
    kind: str = "random"  # "expert" or "random"
    step: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class AuditReport:
    confusion_png: Path
    trajectory_png: Path
    html: Path
    summary_json: Path
    summary: dict[str, Any]


def level_name(level: int, levels: int) -> str:
    names = LEVEL_NAMES.get(levels)
    return names[level] if names and 0 <= level < levels else str(level)


def confusion(records: Sequence[AuditRecord], levels: int) -> np.ndarray:
    """counts[truth, rating]; truth 0 = not successful, 1 = successful."""
    m = np.zeros((2, levels), dtype=int)
    for r in records:
        m[int(bool(r.success)), int(np.clip(r.rating, 0, levels - 1))] += 1
    return m


def summarise(records: Sequence[AuditRecord], levels: int) -> dict[str, Any]:
    """Success accuracy as the paper reports it: top level <=> success."""
    m = confusion(records, levels)
    n = int(m.sum())
    top_ok = int(m[1, levels - 1] + m[0, : levels - 1].sum())
    out: dict[str, Any] = {
        "records": n,
        "levels": levels,
        "confusion": m.tolist(),
        "success_accuracy": top_ok / n if n else None,
        "mean_rating_success": float(np.mean([r.rating for r in records if r.success]))
        if m[1].sum()
        else None,
        "mean_rating_failure": float(np.mean([r.rating for r in records if not r.success]))
        if m[0].sum()
        else None,
    }
    for kind in ("expert", "random"):
        pts = [(r.position, r.rating) for r in records if r.kind == kind and r.position is not None]
        if len(pts) >= 3:
            pos, rat = np.array(pts, dtype=float).T
            out[f"{kind}_rating_position_corr"] = (
                float(np.corrcoef(pos, rat)[0, 1]) if pos.std() > 0 and rat.std() > 0 else None
            )
    return out


def _fig_png(fig: Any, path: Path) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    data = buf.getvalue()
    path.write_bytes(data)
    return data


def plot_confusion(m: np.ndarray, levels: int, title: str, path: Path) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.6 + 1.1 * levels, 2.8))
    ax = fig.add_subplot()
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(levels), [level_name(i, levels) for i in range(levels)])
    ax.set_yticks([0, 1], ["failure", "success"])
    ax.set_xlabel("oracle rating")
    ax.set_ylabel("ground truth")
    hi = m.max() if m.size else 0
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > hi / 2 else "black")
    ax.set_title(title, fontsize=9)
    return _fig_png(fig, path)


def plot_trajectories(records: Sequence[AuditRecord], levels: int, title: str, path: Path) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 3.2))
    ax = fig.add_subplot()
    colours = {"expert": "tab:green", "random": "tab:red"}
    for kind, colour in colours.items():
        recs = [r for r in records if r.kind == kind and r.position is not None]
        by_traj: dict[str, list[AuditRecord]] = {}
        for r in recs:
            by_traj.setdefault(str(r.trajectory), []).append(r)
        for traj in by_traj.values():
            traj.sort(key=lambda r: float(r.position or 0.0))
            jitter = (zlib.crc32(str(traj[0].trajectory).encode()) % 7 - 3) * 0.015
            ax.plot(
                [r.position for r in traj],
                [r.rating + jitter for r in traj],
                color=colour,
                alpha=0.25,
                lw=0.8,
            )
        if recs:
            pos = np.array([float(r.position or 0.0) for r in recs])
            rat = np.array([r.rating for r in recs], dtype=float)
            bins = np.linspace(0, 1, 11)
            idx = np.clip(np.digitize(pos, bins) - 1, 0, 9)
            centres, means = [], []
            for b in range(10):
                if (idx == b).any():
                    centres.append((bins[b] + bins[b + 1]) / 2)
                    means.append(rat[idx == b].mean())
            ax.plot(
                centres, means, color=colour, lw=2.2, label=f"{kind} (mean, {len(by_traj)} runs)"
            )
    ax.set_yticks(range(levels), [level_name(i, levels) for i in range(levels)])
    ax.set_xlabel("position along trajectory (0 = start, 1 = end)")
    ax.set_ylabel("oracle rating")
    ax.set_ylim(-0.3, levels - 0.7)
    ax.set_title(title, fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left")
    return _fig_png(fig, path)


def _img_tag(data: bytes, alt: str, width: int | None = None) -> str:
    w = f' width="{width}"' if width else ""
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(alt)}"{w} src="data:image/png;base64,{b64}">'


def _gallery_pick(records: Sequence[AuditRecord], limit: int, levels: int) -> list[AuditRecord]:
    """Disagreements first (what a reviewer needs to see), then an even spread of the rest."""
    wrong = [r for r in records if (r.rating == levels - 1) != bool(r.success)]
    right = [r for r in records if (r.rating == levels - 1) == bool(r.success)]
    take_wrong = wrong[: limit // 2]
    rest = limit - len(take_wrong)
    if len(right) > rest > 0:
        right = [right[i] for i in np.linspace(0, len(right) - 1, rest).astype(int)]
    return take_wrong + right[: max(rest, 0)]


def render_html(
    records: Sequence[AuditRecord],
    levels: int,
    title: str,
    summary: dict[str, Any],
    figures: Sequence[bytes],
    limit: int,
) -> str:
    cards = []
    for r in _gallery_pick(records, limit, levels):
        shown = list(r.frames)
        if len(shown) > 8:
            shown = [shown[i] for i in np.linspace(0, len(shown) - 1, 8).astype(int)]
        imgs = "".join(_img_tag(png_bytes(f), "queried frame", 160) for f in shown)
        agree = (r.rating == levels - 1) == bool(r.success)
        where = "" if r.position is None else f" · position {r.position:.2f}"
        cards.append(
            f'<div class="card {"ok" if agree else "bad"}">{imgs}'
            f"<p><b>{html.escape(level_name(r.rating, levels))}</b> "
            f"(truth: {'success' if r.success else 'failure'}) · {html.escape(r.kind)}"
            f"{html.escape(where)} · {html.escape(str(r.trajectory or ''))}</p>"
            f"<pre>{html.escape(r.analysis)}</pre></div>"
        )
    figs = "".join(_img_tag(f, "figure") for f in figures)
    acc = summary.get("success_accuracy")
    acc_txt = "n/a" if acc is None else f"{acc:.3f}"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:1.5em}.card{display:inline-block;vertical-align:top;"
        "width:340px;margin:6px;padding:6px;border:2px solid #ccc;border-radius:6px}"
        ".card.bad{border-color:#d33}.card.ok{border-color:#3a3}.card img{margin:1px;"
        "image-rendering:pixelated}pre{white-space:pre-wrap;font-size:11px;max-height:14em;"
        "overflow:auto}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{summary['records']} queries · success accuracy (top level ⇔ success) {acc_txt}"
        f" · red border: rating disagrees with ground truth</p>{figs}"
        f"<h2>Queried frames</h2>{''.join(cards)}</body></html>"
    )


def audit(
    records: Sequence[AuditRecord],
    out_dir: str | Path,
    task: str = "",
    oracle: str = "",
    levels: int | None = None,
    max_gallery: int = 120,
) -> AuditReport:
    """Write confusion.png, trajectory.png, gallery.html and audit.json under `out_dir`."""
    if not records:
        raise ValueError("audit needs at least one record (collect trajectories and rate them)")
    levels = int(levels or max(r.levels for r in records))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = " · ".join(x for x in (task, oracle) if x) or "oracle audit"
    summary = {"task": task, "oracle": oracle, **summarise(records, levels)}
    m = np.array(summary["confusion"])
    f1 = plot_confusion(m, levels, f"{title}: rating vs ground truth", out / "confusion.png")
    f2 = plot_trajectories(
        records, levels, f"{title}: ratings along trajectories", out / "trajectory.png"
    )
    page = render_html(records, levels, title, summary, [f1, f2], max_gallery)
    (out / "gallery.html").write_text(page, encoding="utf-8")
    (out / "audit.json").write_text(json.dumps(summary, indent=2) + "\n")
    return AuditReport(
        out / "confusion.png",
        out / "trajectory.png",
        out / "gallery.html",
        out / "audit.json",
        summary,
    )


# --- records on disk ---------------------------------------------------------------------------
def save_records(records: Sequence[AuditRecord], path: str | Path) -> Path:
    """JSONL of records plus `frames/<digest>.png` beside it (PNG is lossless for uint8)."""
    path = Path(path)
    frames_dir = path.parent / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for r in records:
        digests = []
        for f in r.frames:
            img = to_uint8_image(f)
            d = frame_digest(img)
            p = frames_dir / f"{d}.png"
            if not p.exists():
                p.write_bytes(png_bytes(img))
            digests.append(d)
        doc = {k: v for k, v in r.__dict__.items() if k != "frames"}
        lines.append(json.dumps({**doc, "frames": digests}, default=str))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def load_records(path: str | Path, frames_dir: str | Path | None = None) -> list[AuditRecord]:
    """Frames are looked up by digest in `frames_dir` (default: `frames/` beside the file;
    a cache's `frames/` written with keep_frames works too)."""
    path = Path(path)
    fdir = Path(frames_dir) if frames_dir else path.parent / "frames"
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        doc = json.loads(line)
        frames = []
        for d in doc.pop("frames"):
            if not is_hex_digest(d):  # a digest names a file: never let one walk out of fdir
                raise ValueError(
                    f"{path}:{n}: frame name {str(d)[:40]!r} is not a sha256 hex digest"
                )
            for cand in (fdir / f"{d}.png", fdir / d[:2] / f"{d}.png"):
                if cand.exists():
                    frames.append(decode_png(cand.read_bytes()))
                    break
            else:
                raise FileNotFoundError(
                    f"{path}:{n}: frame {d[:16]}… not found in {fdir}; pass --frames-dir"
                )
        out.append(AuditRecord(frames=frames, **doc))
    return out
