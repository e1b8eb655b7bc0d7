"""Replay straight from a bundle: no import, nothing written, the cache's checks kept.

`make bench CACHE=replay BUNDLE=path` (`sweep --bundle`) reads a committed bundle as it is.
These tests pin that its bytes are unchanged after a replay (even when it is read-only), that a
miss names the key, the task and the command that would record it, and that an edited entry
or a bundle that no longer matches its manifest is refused, as with a cache.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from benchmark.cli import main as bench_main
from benchmark.config import RunConfig
from benchmark.leaderboard.digests import tree_digest
from benchmark.loops.dispatch import run_any
from oracle_cache import CacheMiss, RateQuery, build_oracle
from oracle_cache.bundle import export_bundle
from oracle_cache.errors import BundleError, TamperedEntry
from tests.cache_fakes import rate_queries

_queries = rate_queries


@pytest.fixture
def bundle(tmp_path: Path) -> tuple[Path, list[RateQuery], list]:
    """A bundle of 80 recorded ratings (more than one read-ahead chunk of a batch)."""
    qs = _queries(80)
    oracle = build_oracle("scripted", "record", tmp_path / "cache")
    want = oracle.rate_many(qs)
    oracle.close()
    export_bundle(tmp_path / "cache", tmp_path / "bundle")
    return tmp_path / "bundle", qs, want


def _read_only(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _writable(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


def test_replay_from_a_read_only_bundle_serves_every_answer_and_writes_nothing(bundle, no_sockets):
    path, qs, want = bundle
    before = tree_digest(path)
    _read_only(path)
    try:
        oracle = build_oracle("scripted", "replay", None, bundle=path)
        assert oracle.rate_many(qs) == want  # a batch: read ahead in chunks
        assert [oracle.rate(q.frames, q.instruction, 3, q.context) for q in qs[:3]] == want[:3]
        assert oracle.stats()["hits"] == len(qs) + 3 and oracle.stats()["provider_calls"] == 0
        oracle.close()
    finally:
        _writable(path)
    assert tree_digest(path) == before
    assert sorted(p.name for p in path.iterdir()) == ["bundle.json", "entries.jsonl"]


def test_a_bare_jsonl_bundle_replays_too(bundle):
    path, qs, want = bundle
    oracle = build_oracle("scripted", "replay", None, bundle=path / "entries.jsonl")
    assert oracle.rate_many(qs[:5]) == want[:5]


def test_a_miss_names_the_key_the_task_and_how_to_record_it(bundle):
    path, _, _ = bundle
    oracle = build_oracle("scripted", "replay", None, bundle=path)
    with pytest.raises(CacheMiss) as err:
        oracle.rate_many(_queries(1, seed=99))
    message = str(err.value)
    assert str(path) in message and "metaworld/drawer-open" in message
    assert "--cache record" in message and f"oracle_cache export CACHE_DIR {path}" in message
    key = message.split("answer for key ")[1].split()[0]
    assert len(key) == 64


def test_an_edited_entry_is_refused_and_the_bundle_left_as_it_was(bundle):
    path, qs, _ = bundle
    jsonl = path / "entries.jsonl"  # bare: no manifest to refuse the whole file first
    lines = jsonl.read_text().splitlines()
    entry = json.loads(lines[0])
    entry["answer"] = (entry["answer"] + 1) % 3
    lines[0] = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    jsonl.write_text("\n".join(lines) + "\n")
    before = jsonl.read_bytes()
    oracle = build_oracle("scripted", "replay", None, bundle=jsonl)
    with pytest.raises(TamperedEntry, match=f"key {entry['key']}.*does not match its digest"):
        oracle.rate_many(qs)
    assert jsonl.read_bytes() == before  # refused, not quarantined: the bundle is read-only


def test_a_bundle_that_does_not_match_its_manifest_is_refused_whole(bundle):
    path, _, _ = bundle
    with (path / "entries.jsonl").open("a") as f:
        f.write("\n")  # even a blank line changes the recorded sha256
    with pytest.raises(BundleError, match="does not match its bundle.json"):
        build_oracle("scripted", "replay", None, bundle=path)


def test_one_key_with_two_answers_is_refused(bundle, tmp_path):
    path, _, _ = bundle
    lines = (path / "entries.jsonl").read_text().splitlines()
    other = json.loads(lines[0])
    other["answer"] = (other["answer"] + 1) % 3
    dup = tmp_path / "dup.jsonl"
    dup.write_text("\n".join([lines[0], json.dumps(other)]) + "\n")
    with pytest.raises(BundleError, match="twice with different entries"):
        build_oracle("scripted", "replay", None, bundle=dup)


def test_a_bundle_is_only_replayed(bundle, tmp_path):
    path, _, _ = bundle
    with pytest.raises(ValueError, match="only replayed"):
        build_oracle("scripted", "record", tmp_path / "c", bundle=path)


def _sweep(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = bench_main(["sweep", "--tasks", "metaworld/drawer-open", "--seeds", "0", *argv])
    return rc, capsys.readouterr().err


def _one_error_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_sweep_bundle_flag_refuses_record_mode_and_a_bad_bundle_in_one_line(
    bundle, tmp_path, capsys
):
    path, _, _ = bundle
    out = str(tmp_path / "out")
    rc, err = _sweep(capsys, "--bundle", str(path), "--cache", "record", "--out", out)
    assert rc == 2
    _one_error_line(err, "--cache replay", f"oracle_cache import {path}")
    rc, err = _sweep(capsys, "--bundle", str(tmp_path / "nowhere"), "--cache", "replay")
    assert rc == 2
    _one_error_line(err, "--bundle", "no bundle at")
    (path / "entries.jsonl").write_text("")
    rc, err = _sweep(capsys, "--bundle", str(path), "--cache", "replay", "--out", out)
    assert rc == 2
    _one_error_line(err, "does not match its bundle.json", "oracle_cache verify")
    assert not (tmp_path / "out").exists()  # refused before any run started


def test_a_run_replayed_from_a_bundle_that_misses_says_what_to_record(tmp_path):
    """Another seed of the golden sweep asks about frames its bundle never recorded."""
    from benchmark.golden import SWEEPS

    golden = SWEEPS["scripted"]
    bundle = tmp_path / "bundle"
    shutil.copytree(golden.bundle, bundle)
    cfg = golden.configs(tmp_path / "out", "replay", bundle=str(bundle))[0]
    cfg = RunConfig(**{**cfg.__dict__, "seed": 1, "cache_dir": str(tmp_path / "no-cache")})
    with pytest.raises(CacheMiss) as err:
        run_any(cfg)
    message = str(err.value)
    assert "metaworld/drawer-open" in message and str(bundle) in message
    assert "python -m benchmark sweep --tasks metaworld/drawer-open --methods erl-vlm" in message
    assert "--seeds 1" in message and "--budget-opt total_steps=200" in message
    assert f"python -m oracle_cache export .cache/oracle {bundle}" in message
    assert not (tmp_path / "no-cache").exists()  # replaying a bundle opens no cache
