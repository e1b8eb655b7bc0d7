"""End to end at the `smoke` protocol: submit the plug-in docs' example method, see it in the
standings, reject a tampered copy, and re-run it to check that it reproduces (under a minute on
2 cores)."""

from __future__ import annotations

import json
import shutil

import pytest

from benchmark.leaderboard.cli import main as lb_main
from benchmark.leaderboard.protocol import get_protocol
from benchmark.leaderboard.rerun import rerun_check
from benchmark.leaderboard.submit import Identity, SubmitError, submit
from benchmark.leaderboard.validate import validate_files

#: the complete minimal method from the plug-in docs (docs/methods.md), submitted as a user would
EXAMPLE = "examples.my_method:RatingRegression"


@pytest.fixture(scope="module")
def submitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lb-submit")
    proto = get_protocol("smoke")
    ref = EXAMPLE
    path = submit(
        ref,
        proto,
        tmp / "boards",
        Identity(authors=["Test Author"], version="0.0.1"),
        work_dir=tmp / "work",
    )
    return {"ref": ref, "proto": proto, "path": path, "root": tmp / "boards", "tmp": tmp}


def test_submission_is_valid_and_in_the_standings(submitted):
    path, proto = submitted["path"], submitted["proto"]
    doc = json.loads(path.read_text())
    assert doc["method"]["code"]["ref"] == submitted["ref"]
    assert doc["method"]["authors"] == ["Test Author"] and doc["method"]["version"] == "0.0.1"
    assert doc["protocol"]["id"] == "smoke" and doc["stack"]["torch"]
    assert {(r["task"], r["seed"]) for r in doc["runs"]} == {
        ("metaworld/drawer-open@random", 0),
        ("metaworld/drawer-open@random", 1),
    }
    assert all(r["queries"] <= 36 and r["steps"] == 360 for r in doc["runs"])
    assert validate_files([path]).ok

    board = proto.board_dir(submitted["root"])
    name = doc["method"]["name"]
    rows = json.loads((board / "standings.json").read_text())["rows"]
    assert [r["name"] for r in rows] == [name]
    assert f"| 1 | {name} |" in (board / "README.md").read_text()
    assert f'data-name="{name}"' in (board / "index.html").read_text()


def test_tampered_copy_is_rejected(submitted, tmp_path, capsys):
    board = submitted["proto"].board_dir(submitted["root"])
    copy_root = tmp_path / "boards"
    shutil.copytree(submitted["root"], copy_root)
    path = submitted["proto"].board_dir(copy_root) / "submissions" / submitted["path"].name
    doc = json.loads(path.read_text())
    doc["runs"][0]["final_success"] = 1.0  # claim seed 0 solved the task
    doc["runs"][0]["curve"]["success_rate"][-1] = 1.0
    path.write_text(json.dumps(doc))

    assert lb_main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"REJECTED {path}" in out
    assert "summary mismatch: summary.iqm" in out
    assert (
        "runs[metaworld/drawer-open@random seed 0].final_success is 1.0 but its metrics file" in out
    )
    assert "content digest mismatch" in out
    # the original is untouched and still valid
    assert lb_main(["validate", str(submitted["path"])]) == 0
    assert (board / "index.html").exists()


def test_rerun_reproduces_the_scripted_submission(submitted):
    problems, notes = rerun_check(submitted["path"], work_dir=submitted["tmp"] / "rerun")
    assert not problems, problems


def test_resubmitting_a_taken_name_or_a_broken_reference_says_what_to_do(submitted):
    with pytest.raises(SubmitError, match="already exists. Pass --replace"):
        submit(submitted["ref"], submitted["proto"], submitted["root"])
    with pytest.raises(SubmitError, match="Cannot load method 'tests.nowhere:Nope'"):
        submit("tests.nowhere:Nope", submitted["proto"], submitted["root"])
