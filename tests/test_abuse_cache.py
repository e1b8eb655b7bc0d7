"""Abuse and fault tests for the oracle cache and its bundles (issue 25, items 4, 7 and 9).

Every bad input must end in one clear `error:` line (exit 2) or a report that names what is
wrong (exit 1), never a traceback, never a created cache, and never a served answer that was
not recorded. The fault campaigns flip bytes of a bundle and of cache.db and check the same.
Loopback only: nothing here opens a socket.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import diskcache
import numpy as np
import pytest

from oracle_cache import CacheMiss, RateQuery, build_oracle
from oracle_cache.cli import main
from oracle_cache.images import png_bytes
from oracle_cache.keys import canonical_json, frame_digest, key_of
from tests.cache_fakes import rate_queries

_queries = rate_queries


def _record(cache: Path, qs: list[RateQuery], keep_frames: bool = False) -> list:
    oracle = build_oracle("scripted", "record", cache, {"keep_frames": keep_frames})
    try:
        return oracle.rate_many(qs)
    finally:
        oracle.close()


def _cli(capsys: pytest.CaptureFixture, *argv: object) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _one_error_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _edit_store(cache: Path, key: str, encoding: str = "json", **fields: object) -> None:
    """Change fields of a stored entry in place, as someone with the file could.

    encoding: "json" (plain json.dumps), "canonical" (the stored form, keeping the digest
    text in place) or "decoy" (canonical, plus an earlier nested member holding the digest).
    """
    with diskcache.Cache(str(cache)) as store:
        entry = json.loads(store[key])
        entry.update(fields)
        if encoding == "decoy":
            entry["aa"] = {"b": 1, "digest": entry.get("digest")}
        store[key] = json.dumps(entry) if encoding == "json" else canonical_json(entry)


def _strip_digests(cache: Path) -> None:
    """Make every entry look as if recorded before entry digests existed."""
    with diskcache.Cache(str(cache)) as store:
        for key in list(store.iterkeys()):
            entry = json.loads(store[key])
            entry.pop("digest", None)
            store[key] = json.dumps(entry)


def _served(oracle, qs: list[RateQuery]) -> list:
    """Each query's rating, or None where the cache refuses to answer."""
    out = []
    for q in qs:
        try:
            out.append(oracle.rate(q.frames, q.instruction, q.levels, q.context))
        except CacheMiss:
            out.append(None)
    return out


# --- item 4: answers are tamper-evident ------------------------------------------------------
@pytest.mark.parametrize("encoding", ["json", "canonical", "decoy"])
def test_an_answer_edited_in_the_cache_is_caught_by_verify_and_refused_by_replay(
    tmp_path, capsys, encoding
):
    qs = _queries(6)
    want = _record(tmp_path / "c", qs)
    key = want[0].meta["key"]
    _edit_store(tmp_path / "c", key, encoding, answer=(want[0].level + 1) % 3)
    rc, out, _ = _cli(capsys, "verify", "--no-quarantine", tmp_path / "c")
    assert rc == 1 and [c[0] for c in json.loads(out)["corrupt"]] == [key]
    replay = build_oracle("scripted", "replay", tmp_path / "c")
    with pytest.raises(CacheMiss, match=f"refused the stored answer for key {key}"):
        replay.rate(qs[0].frames, qs[0].instruction, qs[0].levels, qs[0].context)
    assert _served(replay, qs[1:]) == want[1:]


def test_an_answer_edited_in_a_bundle_is_refused_by_import_and_caught_by_verify(tmp_path, capsys):
    qs = _queries(5)
    want = _record(tmp_path / "c", qs)
    assert _cli(capsys, "export", tmp_path / "c", tmp_path / "b")[0] == 0
    path = tmp_path / "b/entries.jsonl"
    lines = path.read_text().splitlines()
    edited = json.loads(lines[2])
    edited["answer"] = (edited["answer"] + 1) % 3
    lines[2] = json.dumps(edited)
    path.write_text("\n".join(lines) + "\n")

    rc, _, err = _cli(capsys, "import", tmp_path / "b", tmp_path / "fresh")
    _one_error_line(err, "does not match its bundle.json", edited["key"][:16])
    assert rc == 2 and not (tmp_path / "fresh").exists()  # refused before anything is written
    rc, out, _ = _cli(capsys, "verify", "--no-quarantine", tmp_path / "b")
    assert rc == 1 and [c[0] for c in json.loads(out)["corrupt"]] == [edited["key"]]
    # the bare lines, which carry no manifest: the edited one is left out, the rest imported
    rc, out, _ = _cli(capsys, "import", path, tmp_path / "fresh2")
    assert rc == 1 and json.loads(out)["added"] == 4
    served = _served(build_oracle("scripted", "replay", tmp_path / "fresh2"), qs)
    assert [s for s in served if s is not None] == [
        w for w in want if w.meta["key"] != edited["key"]
    ]
    assert sum(s is None for s in served) == 1


def test_out_of_range_answers_are_caught_and_stats_does_not_crash(tmp_path, capsys):
    qs = _queries(4)
    want = _record(tmp_path / "c", qs)
    oracle = build_oracle("scripted", "record", tmp_path / "c")
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(2)]
    pref = oracle.prefer(
        [frames[0]], [frames[1]], "i", {"task": "t", "a": {"progress": 1}, "b": {"progress": 0}}
    )
    oracle.close()
    _strip_digests(tmp_path / "c")  # as an old (unsigned) cache would hold them
    _edit_store(tmp_path / "c", want[0].meta["key"], answer=7)  # 3 levels: 0..2
    _edit_store(tmp_path / "c", pref.meta["key"], answer=2)  # labels: 0, 1, -1

    rc, out, err = _cli(capsys, "stats", tmp_path / "c")
    stats = json.loads(out)
    assert rc == 0 and stats["corrupt_unverified"] == 2 and stats["entries"] == 3, err
    rc, out, _ = _cli(capsys, "verify", "--no-quarantine", tmp_path / "c")
    bad = dict(map(tuple, json.loads(out)["corrupt"]))
    assert rc == 1 and set(bad) == {want[0].meta["key"], pref.meta["key"]}
    assert (
        "outside 0..3-1 (or -1, unanswered)" in bad[want[0].meta["key"]]
        and "not 0, 1 or -1" in bad[pref.meta["key"]]
    )
    replay = build_oracle("scripted", "replay", tmp_path / "c")
    assert _served(replay, qs) == [None, *want[1:]]


def test_unanswered_ratings_are_stored_and_replay_as_unanswered(tmp_path, capsys):
    """The `skip` teacher's -1 is an answer, not damage: it verifies and replays as recorded."""
    qs = _queries(40)
    options = {"profile": "skip", "rate": 0.5}
    oracle = build_oracle("scripted", "record", tmp_path / "c", options)
    want = oracle.rate_many(qs)
    oracle.close()
    levels = [w.level for w in want]
    assert -1 in levels and any(level >= 0 for level in levels)
    rc, out, _ = _cli(capsys, "verify", "--no-quarantine", tmp_path / "c")
    assert rc == 0 and not json.loads(out)["corrupt"], out
    replay = build_oracle("scripted", "replay", tmp_path / "c", options)
    assert [r.level for r in replay.rate_many(qs)] == levels
    replay.close()


def test_unsigned_legacy_entries_replay_are_reported_and_can_be_signed(tmp_path, capsys):
    qs = _queries(5)
    want = _record(tmp_path / "c", qs)
    _strip_digests(tmp_path / "c")
    assert build_oracle("scripted", "replay", tmp_path / "c").rate_many(qs) == want
    rc, out, err = _cli(capsys, "verify", tmp_path / "c")
    assert rc == 0 and json.loads(out)["unsigned"] == 5
    assert f"verify --rehash {tmp_path / 'c'}" in err
    rc, out, _ = _cli(capsys, "verify", "--rehash", tmp_path / "c")
    assert rc == 0 and json.loads(out)["resigned"] == 5
    rc, out, err = _cli(capsys, "verify", tmp_path / "c")
    assert rc == 0 and json.loads(out)["unsigned"] == 0 and not err
    assert build_oracle("scripted", "replay", tmp_path / "c").rate_many(qs) == want
    _edit_store(tmp_path / "c", want[1].meta["key"], analysis="edited")  # now signed: caught
    assert _cli(capsys, "verify", "--no-quarantine", tmp_path / "c")[0] == 1


def test_a_legacy_bundle_still_imports_and_replays(tmp_path, capsys):
    qs = _queries(4)
    want = _record(tmp_path / "c", qs)
    _strip_digests(tmp_path / "c")
    b = tmp_path / "b"
    b.mkdir()
    with diskcache.Cache(str(tmp_path / "c")) as store:
        lines = sorted(json.dumps(json.loads(store[k]), sort_keys=True) for k in store.iterkeys())
    (b / "entries.jsonl").write_text("".join(line + "\n" for line in lines))
    manifest = {"format": "oracle-cache-bundle/1", "entries": 4, "frames": 0}
    (b / "bundle.json").write_text(json.dumps(manifest))
    rc, out, err = _cli(capsys, "import", b, tmp_path / "fresh")
    assert rc == 0 and json.loads(out)["unsigned"] == 4 and "--rehash" in err
    assert build_oracle("scripted", "replay", tmp_path / "fresh").rate_many(qs) == want
    rc, out, _ = _cli(capsys, "verify", "--rehash", b)
    assert rc == 0 and json.loads(b.joinpath("bundle.json").read_text())["format"].endswith("/2")
    assert _cli(capsys, "import", b, tmp_path / "fresh3")[0] == 0


# --- item 7: no path outside its directory ---------------------------------------------------
def test_a_frame_digest_with_dots_cannot_reach_outside_the_cache(tmp_path, capsys):
    base = tmp_path / "x"
    want = _record(base / "c", _queries(2), keep_frames=True)
    secret = png_bytes(np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/secret.png").write_bytes(secret)
    with diskcache.Cache(str(base / "c")) as store:
        entry = json.loads(store[want[0].meta["key"]])
        entry.pop("digest", None)
        doc = {**entry["document"], "frames": [["../../../outside/secret"]]}
        key = key_of(doc)  # a key over the forged document: only the frame-name check stops it
        store[key] = json.dumps({**entry, "key": key, "frames": doc["frames"], "document": doc})
    rc, out, err = _cli(capsys, "export", "--frames", base / "c", base / "deep/b")
    assert rc == 0 and [c[0] for c in json.loads(out)["corrupt"]] == [key], err
    assert not (base / "outside").exists()  # the copy would have landed in x/outside/
    assert sorted(p.name for p in (base / "deep/b/frames").iterdir()) == sorted(
        f"{frame_digest(q.frames[0])}.png" for q in _queries(2)
    )
    rc, out, _ = _cli(capsys, "verify", "--no-quarantine", base / "c")
    assert rc == 1 and "not sha256 hex" in json.loads(out)["corrupt"][0][1]


def test_a_frame_that_links_outside_the_bundle_is_refused(tmp_path, capsys):
    qs = _queries(2)
    _record(tmp_path / "c", qs, keep_frames=True)
    assert _cli(capsys, "export", "--frames", tmp_path / "c", tmp_path / "b")[0] == 0
    png = tmp_path / "b/frames" / f"{frame_digest(qs[0].frames[0])}.png"
    outside = tmp_path / "elsewhere.png"
    shutil.move(png, outside)
    os.symlink(outside, png)  # same bytes, so only the path check can tell
    rc, _, err = _cli(capsys, "import", tmp_path / "b", tmp_path / "d")
    assert rc == 2
    _one_error_line(err, "leads outside")
    assert not (tmp_path / "d").exists()


# --- item 9: bad input answered with one clear line ------------------------------------------
@pytest.mark.parametrize("damage", ["header-only", "half", "garbage", "schema-not-utf8"])
def test_a_truncated_or_overwritten_cache_db_gets_one_clear_line(tmp_path, capsys, damage):
    qs = _queries(60)
    _record(tmp_path / "c", qs)
    assert _cli(capsys, "export", tmp_path / "c", tmp_path / "b")[0] == 0
    db = tmp_path / "c/cache.db"
    data = db.read_bytes()
    cut = {
        "header-only": data[:2000],
        "half": data[: len(data) // 2],
        "garbage": b"x" * 5000,
        # one flipped byte in the schema's SQL text (found by benchmarks/cache_faults.py)
        "schema-not-utf8": data.replace(b"Cache (expire_time)", b"Cache (\x87xpire_time)"),
    }
    assert cut[damage] != data
    db.write_bytes(cut[damage])
    for argv in (
        ["stats", tmp_path / "c"],
        ["verify", tmp_path / "c"],
        ["export", tmp_path / "c", tmp_path / "b2"],
        ["import", tmp_path / "b", tmp_path / "c"],
    ):
        rc, _, err = _cli(capsys, *argv)
        assert rc == 2, argv
        _one_error_line(err, "is not a readable cache", "move it aside", "oracle_cache import")
    try:  # a run in replay mode: the same line, or (if SQLite can still read a page) answers
        replay = build_oracle("scripted", "replay", tmp_path / "c")
        _served(replay, qs)
    except Exception as e:  # noqa: BLE001  (any other type is the traceback this test forbids)
        assert "is not a readable cache" in str(e), repr(e)


def test_a_bundle_that_is_not_utf8_gets_one_clear_line(tmp_path, capsys):
    _record(tmp_path / "c", _queries(3))
    assert _cli(capsys, "export", tmp_path / "c", tmp_path / "b")[0] == 0
    path = tmp_path / "b/entries.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1][:40] + b"\xff\xfe" + lines[1][40:]
    path.write_bytes(b"".join(lines))
    shutil.copy(path, tmp_path / "bare.jsonl")
    for argv in (
        ["import", tmp_path / "b", tmp_path / "d"],
        ["import", tmp_path / "bare.jsonl", tmp_path / "d"],
        ["verify", tmp_path / "b"],
        ["merge", tmp_path / "m", tmp_path / "b"],
    ):
        rc, _, err = _cli(capsys, *argv)
        assert rc == 2, argv
        _one_error_line(err, "is not UTF-8 text", "line 2")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("manifest", ['{"format": "oracle-cache-bundle/9"}', "{not json", "[]"])
def test_an_unknown_bundle_format_gets_one_clear_line(tmp_path, capsys, manifest):
    _record(tmp_path / "c", _queries(3))
    assert _cli(capsys, "export", tmp_path / "c", tmp_path / "b")[0] == 0
    (tmp_path / "b/bundle.json").write_text(manifest)
    for argv in (
        ["import", tmp_path / "b", tmp_path / "d"],
        ["verify", tmp_path / "b"],
        ["merge", tmp_path / "m", tmp_path / "b"],
        ["export", tmp_path / "c", tmp_path / "b"],
    ):
        rc, _, err = _cli(capsys, *argv)
        assert rc == 2, argv
        _one_error_line(err, "bundle", str(tmp_path / "b"))
    assert not (tmp_path / "d").exists()


def test_a_bundle_missing_frames_gets_one_clear_line(tmp_path, capsys):
    qs = _queries(3)
    _record(tmp_path / "c", qs, keep_frames=True)
    assert _cli(capsys, "export", "--frames", tmp_path / "c", tmp_path / "b")[0] == 0
    sorted((tmp_path / "b/frames").glob("*.png"))[0].unlink()
    rc, _, err = _cli(capsys, "import", tmp_path / "b", tmp_path / "d")
    assert rc == 2
    _one_error_line(err, "frames missing", "lists 3 frame PNGs, frames/ holds 2", "--frames")
    rc, out, _ = _cli(capsys, "verify", tmp_path / "b")
    assert rc == 1 and "frames missing" in json.loads(out)["manifest_problems"][0]


@pytest.mark.parametrize("command", ["verify", "stats"])
def test_a_folder_that_is_not_a_cache_is_refused_and_left_alone(tmp_path, capsys, command):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "metrics.csv").write_text("step,success_rate\n")
    rc, _, err = _cli(capsys, command, folder)
    assert rc == 2
    _one_error_line(err, "is not an oracle cache", "no cache.db")
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.csv"]  # nothing created


# --- fault campaigns: flipped bytes never end in a traceback or a wrong answer ----------------
def _flip(path: Path, rng: np.random.Generator) -> None:
    data = bytearray(path.read_bytes())
    data[int(rng.integers(len(data)))] ^= int(rng.integers(1, 256))
    path.write_bytes(bytes(data))


def test_flipped_bytes_in_a_bundle_are_refused_or_left_out_never_imported(tmp_path, capsys):
    qs = _queries(12)
    _record(tmp_path / "c", qs)
    assert _cli(capsys, "export", tmp_path / "c", tmp_path / "b")[0] == 0
    originals = {
        json.loads(line)["key"]: json.loads(line)
        for line in (tmp_path / "b/entries.jsonl").read_text().splitlines()
    }
    rng = np.random.default_rng(25)
    for i in range(40):
        work = tmp_path / f"w{i}"
        shutil.copytree(tmp_path / "b", work / "b")
        _flip(work / "b/entries.jsonl", rng)
        rc, _, err = _cli(capsys, "import", work / "b", work / "fresh")
        assert rc == 2 and not (work / "fresh").exists(), err  # the manifest refuses it whole
        _one_error_line(err)
        rc, _, err = _cli(capsys, "import", work / "b/entries.jsonl", work / "bare")
        assert rc in (0, 1, 2) and "Traceback" not in err
        if rc == 2:
            _one_error_line(err)
            continue
        with diskcache.Cache(str(work / "bare")) as store:  # only unchanged entries got in
            assert all(json.loads(store[k]) == originals.get(k) for k in store.iterkeys())
        shutil.rmtree(work)


def test_flipped_bytes_in_cache_db_never_end_in_a_traceback_or_a_wrong_answer(tmp_path, capsys):
    qs = _queries(70)  # over 2 x DIGEST_CHUNK: rate_many reads ahead in batches
    want = _record(tmp_path / "c", qs)
    rng = np.random.default_rng(9)
    for i in range(40):
        work = tmp_path / f"w{i}"
        shutil.copytree(tmp_path / "c", work)
        _flip(work / "cache.db", rng)
        for argv in (["stats", work], ["verify", "--no-quarantine", work]):
            rc, _, err = _cli(capsys, *argv)
            assert rc in (0, 1, 2) and "Traceback" not in err, (i, argv, err)
            if rc == 2:
                _one_error_line(err, "is not a readable cache")
        for batch in (False, True):
            try:
                oracle = build_oracle("scripted", "replay", work)
                served = oracle.rate_many(qs) if batch else _served(oracle, qs)
            except CacheMiss:
                assert batch  # a batch stops at its first refused answer
            except Exception as e:  # noqa: BLE001  (anything else must be the clear line)
                assert "is not a readable cache" in str(e), (i, repr(e))
            else:
                assert all(s is None or s == w for s, w in zip(served, want, strict=True)), i
        shutil.rmtree(work)


def test_importing_into_a_bundle_or_a_file_is_refused(tmp_path, capsys):
    _record(tmp_path / "c", _queries(2))
    assert _cli(capsys, "export", tmp_path / "c", tmp_path / "b")[0] == 0
    (tmp_path / "file").write_text("x")
    for target, needle in ((tmp_path / "b", "is a bundle"), (tmp_path / "file", "is a file")):
        before = sorted(p.name for p in tmp_path.rglob("*"))
        rc, _, err = _cli(capsys, "import", tmp_path / "b", target)
        assert rc == 2
        _one_error_line(err, needle)
        assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


class _Payload:
    """A pickle that would create a file when loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.path,))


def test_a_crafted_cache_db_can_neither_run_code_nor_touch_files_outside(tmp_path, capsys):
    import pickle
    import sqlite3

    qs = _queries(4)
    want = _record(tmp_path / "c", qs)
    victim = tmp_path / "victim.txt"
    victim.write_text("not the cache's")
    keys = [w.meta["key"] for w in want]
    with diskcache.Cache(str(tmp_path / "c")) as store:  # an early version's pickled dict entry
        legacy = json.loads(store[keys[3]])
        legacy.pop("digest", None)
        store[keys[3]] = legacy
    con = sqlite3.connect(tmp_path / "c/cache.db")
    with con:
        code = pickle.dumps(_Payload(tmp_path / "pwned"))
        con.execute("UPDATE Cache SET mode = 4, value = ? WHERE key = ?", (code, keys[0]))
        con.execute(
            "UPDATE Cache SET mode = 3, filename = ?, value = NULL WHERE key = ?",
            ("../../victim.txt", keys[1]),
        )
    con.close()
    served = _served(build_oracle("scripted", "replay", tmp_path / "c"), qs)
    assert served == [None, None, want[2], want[3]]  # the legacy dict still replays
    rc, out, _ = _cli(capsys, "verify", tmp_path / "c")  # quarantines (deletes) both rows
    assert rc == 1 and {c[0] for c in json.loads(out)["corrupt"]} == set(keys[:2])
    assert not (tmp_path / "pwned").exists() and victim.read_text() == "not the cache's"


def test_audit_records_cannot_name_a_frame_outside_their_folder(tmp_path):
    from oracle_cache.audit import load_records

    secret = tmp_path / "outside.png"
    secret.write_bytes(png_bytes(np.zeros((4, 4, 3), np.uint8)))
    (tmp_path / "audit" / "frames").mkdir(parents=True)
    records = tmp_path / "audit" / "records.jsonl"
    records.write_text(json.dumps({"frames": ["../../outside"]}) + "\n")
    with pytest.raises(ValueError, match="not a sha256 hex digest"):
        load_records(records)
