"""The env-free audit: confusion matrix, ratings along trajectories, self-contained gallery."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from oracle_cache.audit import AuditRecord, audit, load_records, save_records, summarise
from oracle_cache.cli import main


def _records(n_traj: int = 4, length: int = 6) -> list[AuditRecord]:
    rng = np.random.default_rng(0)
    out = []
    for t in range(n_traj):
        kind = "expert" if t % 2 == 0 else "random"
        for i in range(length):
            pos = i / (length - 1)
            success = kind == "expert" and i == length - 1
            rating = int(round(pos * 2)) if kind == "expert" else 0
            frame = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
            out.append(
                AuditRecord(
                    frames=[frame],
                    rating=rating,
                    levels=3,
                    success=success,
                    analysis=f"<b>step {i}</b> & analysis",
                    position=pos,
                    trajectory=f"{kind}-{t}",
                    kind=kind,
                    step=i,
                )
            )
    return out


def test_summary_counts_and_success_accuracy():
    recs = _records()
    s = summarise(recs, 3)
    assert s["records"] == 24 and np.array(s["confusion"]).sum() == 24
    # expert runs end at "Good" with success; elsewhere below the top level: all agree except
    # the expert steps rated Good before success (position >= 0.75 but not the last step)
    wrong = sum((r.rating == 2) != r.success for r in recs)
    assert s["success_accuracy"] == pytest.approx(1 - wrong / 24)
    assert s["expert_rating_position_corr"] > 0.9


def test_audit_writes_pngs_gallery_and_json(tmp_path):
    rep = audit(_records(), tmp_path / "out", task="metaworld/drawer-open", oracle="scripted")
    for png in (rep.confusion_png, rep.trajectory_png):
        with Image.open(png) as im:
            assert im.format == "PNG" and im.size[0] > 100
    page = rep.html.read_text()
    assert page.count("data:image/png;base64,") >= 2 + 24 and 'src="http' not in page
    assert "&lt;b&gt;step 0&lt;/b&gt; &amp; analysis" in page  # analysis text is escaped
    assert json.loads(rep.summary_json.read_text())["task"] == "metaworld/drawer-open"
    with pytest.raises(ValueError, match="at least one record"):
        audit([], tmp_path / "empty")


def test_records_round_trip_and_cli(tmp_path, capsys):
    recs = _records(2, 4)
    path = save_records(recs, tmp_path / "rec" / "records.jsonl")
    back = load_records(path)
    assert [r.rating for r in back] == [r.rating for r in recs]
    assert all(np.array_equal(a.frames[0], b.frames[0]) for a, b in zip(recs, back, strict=True))
    code = main(["audit", str(path), "--out", str(tmp_path / "report"), "--task", "t"])
    assert code == 0 and (tmp_path / "report" / "gallery.html").exists()
    assert json.loads(capsys.readouterr().out)["records"] == 8
