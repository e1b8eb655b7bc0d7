"""A reward-model protocol's board: its runs go through the reward-model loop, its entries
validate, and its pages name the reward score instead of a success rate."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import benchmark.loops.reward_track as track
from benchmark.config import RunConfig
from benchmark.leaderboard.protocol import get_protocol, load_protocols
from benchmark.leaderboard.submit import submit_baselines
from benchmark.leaderboard.validate import validate_files
from benchmark.loops.dispatch import run_any
from tests.test_reward_track import RECIPE

METHODS = ["gt-reward", "sparse"]


def test_a_reward_model_protocol_runs_the_track_and_its_board_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(track, "RECIPE", RECIPE)
    official = load_protocols()["metaworld-reward-model"]
    assert official.kind == "reward-model" and official.loop == "reward-model"
    # the official online lookup is unchanged by a reward-model board on the same suite/track
    assert get_protocol(suite="metaworld", track="scripted").kind == "online"
    proto = official.model_copy(
        update={
            "id": "rm-test",
            "tasks": ["metaworld/drawer-open"],
            "seeds": [0, 1],
            "budget": "smoke",
            "budget_overrides": {"max_queries": 6, "queries_per_session": 3},
            "board": "rm-test/scripted",
            "official": False,
        }
    )
    protocols_file = tmp_path / "protocols.json"
    protocols_file.write_text(json.dumps({"protocols": [proto.model_dump(mode="json")]}))
    work = tmp_path / "work"
    base = RunConfig(
        task="",
        method="",
        seed=0,
        budget=proto.budget,
        cache_dir=str(work / "cache"),
        out_dir=str(work / "results"),
        budget_overrides=dict(proto.budget_overrides),
        log_sinks=[],
        loop=proto.loop,
    )
    # the runs in this process (so the tiny recipe applies); submit finds them finished
    for method in METHODS:
        for seed in proto.seeds:
            run_any(replace(base, task=proto.tasks[0], method=method, seed=seed))
    root = tmp_path / "boards"
    paths = submit_baselines(
        proto, root, METHODS, jobs=1, work_dir=work, resume=True, protocols_file=protocols_file
    )
    assert validate_files(paths, root, protocols_file).ok
    gt = json.loads(paths[0].read_text())
    assert gt["protocol"]["kind"] == "reward-model"
    assert gt["summary"]["iqm"] == pytest.approx(1.0)
    board = proto.board_dir(root)
    readme = (board / "README.md").read_text()
    assert "reward score" in readme and "on a fixed logged dataset, no RL" in readme
    assert "Reward score" in (board / "index.html").read_text()


def test_the_v2_protocol_is_v1_on_recipe_v2_and_v1_entries_still_validate() -> None:
    from benchmark.leaderboard.protocol import DEFAULT_ROOT

    protocols = load_protocols()
    v1, v2 = protocols["metaworld-reward-model"], protocols["metaworld-reward-model-v2"]
    assert v1.budget_overrides.get("logged_recipe") is None  # v1 stays the default recipe
    assert v2.budget_overrides == {**v1.budget_overrides, "logged_recipe": "v2"}
    same = ("suite", "track", "kind", "tasks", "seeds", "budget", "oracle", "sac", "threads")
    assert all(getattr(v1, k) == getattr(v2, k) for k in same)
    files = sorted((DEFAULT_ROOT / v1.board).rglob("submissions/*.json"))
    assert files
    report = validate_files(files)
    assert report.ok, report.text()
