"""Leaderboard protocols keep their meaning when the suite's defaults move.

The MetaWorld task names and SAC defaults moved to the reference code's; the protocols defined
before pin what they ran (`@random` layouts, lr 1e-4, uniform init), and the reference layouts
got new protocol ids that pin their SAC settings too.
"""

from __future__ import annotations

import json

from benchmark.config import BUDGETS
from benchmark.leaderboard.protocol import load_protocols
from benchmark.leaderboard.validate import validate_files
from benchmark.rl.sac import SACConfig
from envs import get_task

PAPER = ["metaworld/drawer-open", "metaworld/sweep-into", "metaworld/soccer"]
OLD_SAC = {"actor_lr": 1e-4, "critic_lr": 1e-4, "init": "uniform"}
#: the training harness before it followed the reference code (docs/deviations.md)
OLD_HARNESS = {
    "replay_capacity": None,
    "reset_updates": 0,
    "label_chunk": 64,
    "query_pool": 0,
    "method_schedule": False,
}


def test_protocols_from_before_pin_random_layouts_and_the_old_sac():
    protocols = load_protocols()
    for pid in ("metaworld-scripted", "metaworld-vlm"):
        p = protocols[pid]
        assert p.tasks == [f"{t}@random" for t in PAPER]
        assert {k: p.sac[k] for k in OLD_SAC} == OLD_SAC
    smoke = protocols["smoke"]
    assert smoke.tasks == ["metaworld/drawer-open@random"]
    assert {k: smoke.sac[k] for k in OLD_SAC} == OLD_SAC
    fields = set(SACConfig().to_dict())
    for p in protocols.values():  # every pin is a SACConfig field, every task resolves
        assert set(p.sac) <= fields, p.id
        for t in p.tasks:
            get_task(t)


def test_reference_layout_protocols_have_new_ids_and_pin_their_sac():
    protocols = load_protocols()
    for pid, old in (
        ("metaworld-scripted-v2", "metaworld-scripted"),
        ("metaworld-vlm-v2", "metaworld-vlm"),
    ):
        p, before = protocols[pid], protocols[old]
        assert p.tasks == PAPER
        assert "reference layout" in get_task(p.tasks[0]).description
        assert p.board != before.board
        assert (p.track, p.seeds, p.budget, p.oracle) == (
            before.track,
            before.seeds,
            before.budget,
            before.oracle,
        )
        # today's defaults, except the fp32 kernels: written before oneDNN's became the
        # default, the v2 protocols ran PyTorch's own (MKL), and keep them so reruns are exact
        defaults = SACConfig().to_dict() | {"matmul": "aten"}
        assert p.sac and all(defaults[k] == v for k, v in p.sac.items())
        assert p.sac["matmul"] == "aten"


def test_the_committed_smoke_entries_still_validate():
    from benchmark.leaderboard.protocol import DEFAULT_ROOT

    files = sorted((DEFAULT_ROOT / "smoke").rglob("submissions/*.json"))
    assert files
    report = validate_files(files)
    assert report.ok, report.text()
    for f in files:
        doc = json.loads(f.read_text())
        assert {r["task"] for r in doc["runs"]} == {"metaworld/drawer-open@random"}
        assert {k: doc["sac"][k] for k in OLD_SAC} == OLD_SAC


def test_protocols_from_before_pin_the_old_harness_and_v2_pins_the_reference_one():
    protocols = load_protocols()
    for budget in BUDGETS.values():  # each pin is a real change of default
        assert all(getattr(budget, k) != v for k, v in OLD_HARNESS.items()), budget.name
    for pid in ("metaworld-scripted", "metaworld-vlm", "smoke"):
        resolved = protocols[pid].resolved_budget()
        assert {k: resolved[k] for k in OLD_HARNESS} == OLD_HARNESS, pid
    for pid in ("metaworld-scripted-v2", "metaworld-vlm-v2"):
        pins = protocols[pid].budget_overrides
        assert {k: pins[k] for k in OLD_HARNESS} == {
            k: getattr(BUDGETS["short"], k) for k in OLD_HARNESS
        }
