"""A VLM-track entry is re-run offline from the bundle it ships, and only then marked verified.

The submission is built from the golden Gemini bundle (recorded through the real google-genai
client against the loopback fake server, tests/data/golden/gemini): its run replays that
bundle, as a submitter's run would have recorded it. `validate --rerun` then re-runs it in the
sandbox with no API key and no network, every rating replayed from the shipped copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmark.golden import SWEEPS, TINY_BUDGET, load_expected, metrics_digest
from benchmark.leaderboard.cli import main as lb_main
from benchmark.leaderboard.collect import method_info
from benchmark.leaderboard.digests import content_digest, tree_digest
from benchmark.leaderboard.protocol import PROTOCOLS_FILE, get_protocol
from benchmark.leaderboard.schema import Submission
from benchmark.leaderboard.standings import write_standings
from benchmark.leaderboard.submit import run_protocol, write_submission
from benchmark.leaderboard.validate import validate_files
from benchmark.leaderboard.verified import is_verified, load_verified
from oracle_cache.bundle import read_entries, write_entries

GOLDEN = SWEEPS["gemini"]
PROTOCOL = {
    "id": "golden-alfred-vlm",
    "title": "The golden Gemini sweep's ALFRED run as a VLM-track protocol (tests only)",
    "suite": "alfred",
    "track": "vlm",
    "tasks": list(GOLDEN.tasks),
    "seeds": list(GOLDEN.seeds),
    "budget": GOLDEN.budget,
    "budget_overrides": TINY_BUDGET,
    "sac": {},
    "oracle": {"provider": "gemini", "options": {}},
    "threads": 1,
    "board": "golden/alfred/vlm",
    "official": False,
}
NAME = "fake-gemini-erl"


@pytest.fixture(scope="module")
def entry(tmp_path_factory):
    """A VLM-track submission whose run replayed the golden Gemini bundle."""
    tmp = tmp_path_factory.mktemp("vlm-rerun")
    protocols = json.loads(PROTOCOLS_FILE.read_text())
    protocols["protocols"].append(PROTOCOL)
    pfile = tmp / "protocols.json"
    pfile.write_text(json.dumps(protocols))
    proto = get_protocol(PROTOCOL["id"], path=pfile)
    results, _ = run_protocol(["erl-vlm"], proto, tmp / "work", 1, 1, bundle=GOLDEN.bundle)
    info = method_info("erl-vlm", NAME, authors=["Test Author"])
    root = tmp / "boards"
    path = write_submission("erl-vlm", proto, results, GOLDEN.bundle, root, info)
    return {"path": path, "protocols": pfile, "root": root, "proto": proto, "tmp": tmp}


def _validate(capsys, *argv: object) -> tuple[int, str]:
    capsys.readouterr()
    rc = lb_main(["validate", *map(str, argv)])
    return rc, capsys.readouterr().out


def test_the_entry_is_a_valid_vlm_submission_of_the_golden_run(entry):
    doc = json.loads(entry["path"].read_text())
    assert doc["protocol"]["track"] == "vlm" and doc["cache_bundle"]["files"] == 2
    assert all(r["oracle"].startswith("gemini:") for r in doc["runs"])
    (run,) = doc["runs"]
    metrics = entry["path"].parent / run["metrics_file"]
    golden = load_expected(GOLDEN)["runs"][f"{run['task']}/erl-vlm/seed0"]
    assert metrics_digest(metrics) == golden  # the submitted run is the golden one, bit for bit
    assert validate_files([entry["path"]], protocols_file=entry["protocols"]).ok


def test_rerun_replays_the_shipped_bundle_offline_then_marks_it_verified(
    entry, capsys, monkeypatch
):
    for var in ("GEMINI_API_KEYS", "GEMINI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    board = entry["proto"].board_dir(entry["root"])
    sub = Submission.model_validate_json(entry["path"].read_text())
    assert not is_verified(sub, load_verified(board)[0])  # valid, but not re-run yet
    bundle = entry["path"].parent / NAME / "bundle"
    before = tree_digest(bundle)
    rc, out = _validate(
        capsys, entry["path"], "--rerun", "--protocols", entry["protocols"], "--jobs", "1"
    )
    assert rc == 0, out
    assert f"REPRODUCED {entry['path']}" in out
    assert "replayed from the shipped bundle" in out
    assert is_verified(sub, load_verified(board)[0])
    assert tree_digest(bundle) == before
    write_standings(entry["proto"], entry["root"], entry["protocols"])
    rows = json.loads((board / "standings.json").read_text())["rows"]
    assert [(r["name"], r["verified"]) for r in rows] == [(NAME, True)]


def test_an_entry_whose_bundle_lacks_ratings_does_not_reproduce(entry, tmp_path, capsys):
    """Self-consistent (digests recomputed) but short of answers: the re-run misses."""
    root = tmp_path / "boards"
    shutil.copytree(entry["root"], root)
    board = entry["proto"].board_dir(root)
    (board / "verified.json").unlink(missing_ok=True)
    path = board / "submissions" / f"{NAME}.json"
    bundle = path.parent / NAME / "bundle"
    entries = read_entries(bundle)
    write_entries(bundle, entries[: len(entries) // 2])
    doc = json.loads(path.read_text())
    digest, files = tree_digest(bundle)
    doc["cache_bundle"].update(sha256=digest, files=files)
    doc["content_sha256"] = content_digest(doc)
    path.write_text(json.dumps(doc))
    assert validate_files([path], protocols_file=entry["protocols"]).ok
    rc, out = _validate(capsys, path, "--rerun", "--protocols", entry["protocols"], "--jobs", "1")
    assert rc == 1
    assert f"NOT REPRODUCED {path}" in out and "has no" in out and "answer for key" in out
    assert not (board / "verified.json").exists()


def test_a_vlm_entry_without_a_bundle_cannot_be_rerun(entry, tmp_path):
    from benchmark.leaderboard.rerun import rerun_check

    path = tmp_path / f"{NAME}.json"
    doc = json.loads(entry["path"].read_text())
    doc["cache_bundle"] = None
    path.write_text(json.dumps(doc))
    problems, _ = rerun_check(path, protocols_file=entry["protocols"])
    assert problems == ["a vlm-track entry is re-run from its cache bundle, and it ships none"]


def test_the_golden_protocol_matches_the_golden_sweep():
    """If the golden Gemini sweep changes, this protocol must follow (it replays its bundle)."""
    assert PROTOCOL["budget_overrides"] == GOLDEN.budget_overrides
    assert GOLDEN.iql == {} and GOLDEN.sac == {}  # a protocol carries no IQL options
    assert Path(GOLDEN.bundle, "entries.jsonl").is_file()
