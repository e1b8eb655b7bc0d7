"""The golden recorded sweeps replay bit for bit (benchmark/golden.py, tests/data/golden/).

They were recorded once and committed, so a change in behaviour between two versions of the
suite shows up here. If it is intended: `python scripts/golden.py regenerate`, and commit the
new bundles and digests for review.
"""

from __future__ import annotations

import json

import pytest

from benchmark.golden import SWEEPS, check, differences, load_expected, regenerate
from benchmark.leaderboard.digests import tree_digest

#: bundles are data under review: keep them small (the issue's bound: a few hundred KB)
MAX_BUNDLE_BYTES = 300_000


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_golden_sweep_replays_bit_identically_from_its_committed_bundle(name, tmp_path, no_sockets):
    sweep = SWEEPS[name]
    before = tree_digest(sweep.bundle)
    problems = check(sweep, tmp_path)
    assert not problems, "\n".join(problems)
    assert tree_digest(sweep.bundle) == before  # replayed in place, not imported, not touched


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_golden_data_is_small_and_describes_what_it_ran(name):
    sweep = SWEEPS[name]
    size = sum(p.stat().st_size for p in sweep.bundle.rglob("*") if p.is_file())
    assert size < MAX_BUNDLE_BYTES
    doc = load_expected(sweep)
    assert doc["spec"] == json.loads(json.dumps(sweep.spec()))  # regenerate after a spec change
    want = {f"{t}/{m}/seed{s}" for t in sweep.tasks for m in sweep.methods for s in sweep.seeds}
    assert set(doc["runs"]) == want


def test_the_gemini_bundle_holds_gemini_answers_from_the_real_client():
    lines = SWEEPS["gemini"].bundle.joinpath("entries.jsonl").read_text().splitlines()
    entries = [json.loads(ln) for ln in lines]
    assert {e["document"]["identity"]["provider"] for e in entries} == {"gemini"}
    assert {e["kind"] for e in entries} == {"rate", "prefer"}
    assert all(e["meta"]["calls"] == 2 for e in entries)  # two stages, as the paper's client
    assert all("fake VLM server" in e["analysis"] for e in entries)  # never passed off as Gemini


def test_a_differing_run_is_named_with_the_command_that_regenerates(tmp_path):
    sweep = SWEEPS["scripted"]
    runs = load_expected(sweep)["runs"]
    rid = sorted(runs)[0]
    got = {**runs, rid: "0" * 64}
    lines = differences(sweep, runs, got, {rid: tmp_path / "metrics.csv"})
    assert len(lines) == 2
    assert rid in lines[0] and "'scripted'" in lines[0] and str(tmp_path) in lines[0]
    assert "python scripts/golden.py regenerate" in lines[1]
    missing = differences(sweep, runs, {k: v for k, v in runs.items() if k != rid}, {})
    assert rid in missing[0]
    missed = differences(sweep, runs, runs, {}, {rid: "Replay mode: no answer for key K. More"})
    assert rid in missed[0] and "never recorded" in missed[0] and "key K" in missed[0]


def test_regenerate_refuses_a_recording_its_replay_does_not_reproduce(tmp_path, monkeypatch):
    """The digests are written only when the committed bundle replays the recording exactly."""
    from benchmark import golden

    small = golden.GoldenSweep(
        "scripted", ("alfred/pick-cool-then-place",), ("erl-vlm",), "scripted"
    )
    monkeypatch.setattr(golden, "GOLDEN_DIR", tmp_path / "golden")
    (tmp_path / "golden" / "scripted").mkdir(parents=True)
    real_replay = golden.replay

    def replay_other_seed(sweep, out):
        digests, metrics, missed = real_replay(sweep, out)
        path = next(iter(metrics.values()))
        path.write_text(path.read_text().replace("0.0", "0.5", 1))
        return digests, metrics, missed

    monkeypatch.setattr(golden, "replay", replay_other_seed)
    with pytest.raises(RuntimeError, match="does not reproduce the recording"):
        regenerate(small, tmp_path / "work")
    assert not (tmp_path / "golden" / "scripted" / "digests.json").exists()
