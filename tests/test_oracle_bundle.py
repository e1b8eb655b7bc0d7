"""Bundles (export/import/merge, idempotent), verify with quarantine, stats, and the CLI."""

from __future__ import annotations

import json

import pytest

from oracle_cache import CacheMiss, build_oracle
from oracle_cache.bundle import export_bundle, import_bundle, merge_bundles
from oracle_cache.cli import main
from oracle_cache.entry import sign_entry
from oracle_cache.errors import BundleError
from oracle_cache.verify import verify
from tests.cache_fakes import rate_queries

_queries = rate_queries


def _record(cache, qs, **opts):
    oracle = build_oracle("scripted", "record", cache, opts or None)
    out = oracle.rate_many(qs)
    oracle.close()
    return out


def test_export_is_deterministic_and_import_replays(tmp_path):
    qs = _queries(30)
    want = _record(tmp_path / "a", qs)
    export_bundle(tmp_path / "a", tmp_path / "b1")
    export_bundle(tmp_path / "a", tmp_path / "b2")
    assert (tmp_path / "b1/entries.jsonl").read_bytes() == (
        tmp_path / "b2/entries.jsonl"
    ).read_bytes()
    manifest = json.loads((tmp_path / "b1/bundle.json").read_text())
    assert manifest["entries"] == 30 and manifest["format"].startswith("oracle-cache-bundle")

    rep = import_bundle(tmp_path / "b1", tmp_path / "fresh")
    assert rep.added == 30 and not rep.corrupt
    assert import_bundle(tmp_path / "b1", tmp_path / "fresh").added == 0  # idempotent
    replay = build_oracle("scripted", "replay", tmp_path / "fresh")
    assert replay.rate_many(qs) == want
    # a bare .jsonl file is a bundle too
    assert import_bundle(tmp_path / "b1/entries.jsonl", tmp_path / "fresh2").added == 30


def test_import_never_overwrites_and_reports_conflicts(tmp_path):
    qs = _queries(5)
    _record(tmp_path / "a", qs)
    export_bundle(tmp_path / "a", tmp_path / "b")
    lines = (tmp_path / "b/entries.jsonl").read_text().splitlines()
    # a second bundle whose (signed) entry answers the first key differently, as another run
    # of a non-deterministic oracle would
    doc = json.loads(lines[0])
    doc["answer"] = (doc["answer"] + 1) % 3
    doc = sign_entry(doc)
    (tmp_path / "other.jsonl").write_text(json.dumps(doc) + "\n")
    rep = import_bundle(tmp_path / "other.jsonl", tmp_path / "a")
    assert rep.added == 0 and len(rep.conflicts) == 1
    merged = merge_bundles(tmp_path / "m", [tmp_path / "b", tmp_path / "other.jsonl"])
    assert merged.entries == 5 and len(merged.conflicts) == 1
    assert (tmp_path / "m/entries.jsonl").read_text() == (tmp_path / "b/entries.jsonl").read_text()


def test_merge_is_a_union_and_idempotent(tmp_path):
    qa, qb = _queries(6, 1), _queries(4, 2)
    _record(tmp_path / "ca", qa + qb[:2])
    _record(tmp_path / "cb", qb)
    export_bundle(tmp_path / "ca", tmp_path / "a")
    export_bundle(tmp_path / "cb", tmp_path / "b")
    rep = merge_bundles(tmp_path / "m", [tmp_path / "a", tmp_path / "b"])
    assert rep.entries == 10 and rep.unchanged == 2 and not rep.conflicts
    first = (tmp_path / "m/entries.jsonl").read_bytes()
    merge_bundles(tmp_path / "m", [tmp_path / "m", tmp_path / "b", tmp_path / "a"])
    assert (tmp_path / "m/entries.jsonl").read_bytes() == first


def test_verify_quarantines_corrupt_store_entries(tmp_path):
    qs = _queries(8)
    want = _record(tmp_path / "c", qs)
    oracle = build_oracle("scripted", "record", tmp_path / "c")
    keys = list(oracle.store.iterkeys())
    bad = json.loads(oracle.store[keys[0]])
    bad["document"]["levels"] = 5  # the answer now claims another question
    oracle.store[keys[0]] = json.dumps(bad)
    oracle.store[keys[1]] = "{not json"
    oracle.close()
    assert main(["verify", str(tmp_path / "c")]) == 1
    rep = verify(tmp_path / "c")
    assert rep.ok and rep.checked == 6  # the two were moved out by the first run
    replay = build_oracle("scripted", "replay", tmp_path / "c")
    served = []
    for q in qs:
        try:
            served.append(replay.rate(q.frames, q.instruction, q.levels, q.context))
        except CacheMiss:
            served.append(None)
    assert sum(s is None for s in served) == 2
    assert [s for s in served if s is not None] == [
        w for w, s in zip(want, served, strict=False) if s is not None
    ]


def test_verify_bundle_and_import_skip_corrupt_lines(tmp_path):
    _record(tmp_path / "c", _queries(4))
    export_bundle(tmp_path / "c", tmp_path / "b")
    path = tmp_path / "b/entries.jsonl"
    lines = path.read_text().splitlines()
    tampered = json.loads(lines[1])
    tampered["document"]["prompt"] += " (edited)"
    path.write_text("\n".join([lines[0], json.dumps(tampered), *lines[2:], "garbage"]) + "\n")
    with pytest.raises(BundleError, match="does not match its bundle.json"):
        import_bundle(tmp_path / "b", tmp_path / "fresh")  # the bundle as a whole is refused
    rep = import_bundle(path, tmp_path / "fresh")  # the bare lines: each checked on its own
    assert rep.added == 3 and len(rep.corrupt) == 2
    v = verify(tmp_path / "b")
    assert not v.ok and len(v.corrupt) == 2 and v.manifest == "mismatch"
    again = verify(tmp_path / "b")  # quarantined, but the edit stays reported ...
    assert not again.corrupt and not again.ok
    assert (
        verify(tmp_path / "b", rehash=True).ok and verify(tmp_path / "b").ok
    )  # ... until accepted
    assert len((tmp_path / "b/quarantine.jsonl").read_text().splitlines()) == 2
    assert json.loads((tmp_path / "b/bundle.json").read_text())["entries"] == 3
    assert len(list((tmp_path / "b/quarantine").glob("bundle.json.*"))) == 1


def test_frames_travel_with_bundles_and_are_verified(tmp_path):
    qs = _queries(3)
    _record(tmp_path / "c", qs, keep_frames=True)
    rep = export_bundle(tmp_path / "c", tmp_path / "b", frames=True)
    assert rep.frames == 3
    pngs = sorted((tmp_path / "b/frames").glob("*.png"))
    assert len(pngs) == 3
    assert import_bundle(tmp_path / "b", tmp_path / "d").frames == 3
    pngs[0].write_bytes(pngs[1].read_bytes())  # a frame under the wrong name
    v = verify(tmp_path / "b")
    assert v.frames_corrupt == [pngs[0].stem] and v.frames_checked == 3


def test_cli_stats_export_import(tmp_path, capsys):
    _record(tmp_path / "c", _queries(7))
    assert main(["stats", str(tmp_path / "c")]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["entries"] == 7 and stats["by_kind"] == {"rate": 7}
    assert list(stats["by_oracle"]) == ["scripted:scripted-teacher"]
    assert main(["export", str(tmp_path / "c"), str(tmp_path / "b")]) == 0
    assert main(["import", str(tmp_path / "b"), str(tmp_path / "d")]) == 0
    assert json.loads(capsys.readouterr().out.split("\n}\n")[-2] + "\n}")["added"] == 7
    assert main(["stats", str(tmp_path / "missing")]) == 2


def test_cli_runs_as_a_module(tmp_path):
    import subprocess
    import sys

    _record(tmp_path / "c", _queries(2))
    out = subprocess.run(
        [sys.executable, "-m", "oracle_cache", "verify", str(tmp_path / "c")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["ok"] is True


@pytest.mark.parametrize("bad", ["nope", ""])
def test_cli_rejects_unknown_commands(bad):
    with pytest.raises(SystemExit):
        main([bad] if bad else [])
