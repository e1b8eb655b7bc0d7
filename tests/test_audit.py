"""The audit command: ratings of expert and random states, plots and a gallery naming the oracle."""

from __future__ import annotations

from benchmark.analysis.audit import audit, main


def test_audit_rates_expert_and_random_states(tmp_path):
    records = audit("metaworld/drawer-open", cache_dir=str(tmp_path / "c"), episodes=1, every=100)
    assert {r.kind for r in records} == {"expert", "random"}
    assert all(0 <= r.rating < 3 for r in records)
    assert any(r.success for r in records if r.kind == "expert")


def test_audit_cli_writes_named_outputs(tmp_path, capsys):
    out = tmp_path / "audit"
    code = main(
        [
            "--task",
            "metaworld/drawer-open",
            "--episodes",
            "1",
            "--every",
            "100",
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "c"),
        ]
    )
    assert code == 0
    report = out / "metaworld__drawer-open"
    gallery = (report / "gallery.html").read_text()
    assert "scripted teacher (not a VLM)" in gallery and "data:image/png;base64" in gallery
    assert (report / "confusion.png").stat().st_size > 1000
    assert (report / "records.jsonl").exists()  # `python -m oracle_cache audit` can redo it
