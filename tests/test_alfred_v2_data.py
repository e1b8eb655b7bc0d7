"""Failure-heavy logged data for the ALFRED twin v2: the mix, the flawed experts, the protocol."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmark.config import get_budget
from benchmark.loops.offline_data import (
    DEFAULT_MIX,
    SOURCES,
    build_dataset,
    mix_counts,
    resolve_mix,
)
from envs import get_task
from envs.alfred import SUITE_V2
from envs.alfred.versions import V2

COOL = "alfred-v2/pick-cool-then-place"


def _episodes_of(data, source: str) -> list[np.ndarray]:
    k = SOURCES.index(source)
    return [e for e in data.episodes() if data.sources[e[0]] == k]


def test_mix_counts_keep_the_old_tuple_and_name_new_sources() -> None:
    assert mix_counts(DEFAULT_MIX, 16) == {"expert": 2, "noisy": 6, "random": 8}
    counts = mix_counts({"expert": 0.1, "one_short": 0.3, "random": 0.6}, 20)
    assert counts == {"expert": 2, "noisy": 0, "random": 12, "one_short": 6}
    assert sum(mix_counts(V2.offline_mix, 400).values()) == 400
    with pytest.raises(ValueError, match="unknown data source"):
        mix_counts({"expert": 0.5, "lucky": 0.5}, 10)
    with pytest.raises(ValueError, match="sum to 1"):
        mix_counts({"expert": 0.5, "random": 0.2}, 10)


def test_mix_comes_from_the_budget_then_the_task_then_the_default() -> None:
    v2, v1 = get_task(COOL), get_task("alfred/pick-cool-then-place")
    assert resolve_mix(v2, None) == V2.offline_mix
    assert resolve_mix(v1, None) == DEFAULT_MIX
    mine = {"expert": 1.0}
    assert resolve_mix(v2, mine) == mine
    budget = get_budget("short").with_overrides(offline_mix=mine)
    assert budget.offline_mix == mine and budget.to_dict()["offline_mix"] == mine


@pytest.fixture(scope="module")
def flawed():
    mix = {"expert": 0.25, "wrong_object": 0.25, "wrong_appliance": 0.25, "one_short": 0.25}
    return build_dataset(get_task(COOL), 24, seed=2, mix=mix)


def test_flawed_experts_fail_for_their_own_reasons(flawed) -> None:
    success, progress = flawed.privileged["success"], flawed.privileged["progress"]
    assert all(success[e].any() for e in _episodes_of(flawed, "expert"))
    for source in ("wrong_object", "wrong_appliance", "one_short"):
        eps = _episodes_of(flawed, source)
        assert len(eps) == 6 and not any(success[e].any() for e in eps), source
        for e in eps:  # a flawed expert stops (a timeout) before the time limit
            assert flawed.timeouts[e[-1]] and len(e) < get_task(COOL).max_episode_steps
    # one step short: the last subgoal is all that is missing
    assert all(progress[e[-1]] == pytest.approx(5 / 6) for e in _episodes_of(flawed, "one_short"))
    # the wrong object or appliance never gets past holding the object
    for source in ("wrong_object", "wrong_appliance"):
        assert max(progress[e].max() for e in _episodes_of(flawed, source)) <= 2 / 6 + 1e-6
    assert flawed.masks[np.arange(flawed.size), flawed.actions].all()


def test_default_v2_mix_makes_successes_rare_and_failures_varied() -> None:
    data = build_dataset(get_task(COOL), 100, seed=0)
    ends = [e[-1] for e in data.episodes()]
    share = float(np.mean([data.privileged["success"][e].any() for e in data.episodes()]))
    assert 0.01 <= share <= 0.12, share
    final = data.privileged["progress"][ends]
    assert {SOURCES[int(k)] for k in data.sources} == set(V2.offline_mix)
    # failures end at every stage: nothing done, part done, one step short
    assert (final == 0).any() and ((final > 0) & (final < 0.5)).any()
    assert np.isclose(final, 5 / 6).sum() >= 10


def test_task_without_flawed_experts_says_so() -> None:
    spec = get_task(COOL)
    plain = dataclasses.replace(spec, make_expert=lambda env: spec.make_expert(env))
    with pytest.raises(ValueError, match="no flawed variants"):
        build_dataset(plain, 4, mix={"expert": 0.5, "one_short": 0.5})


def test_v2_protocol_fixes_the_mix_and_keeps_the_old_protocol() -> None:
    from benchmark.leaderboard.protocol import (
        UnknownProtocolError,
        get_protocol,
        load_protocols,
    )

    new = get_protocol("alfred-scripted-v2")
    assert new.tasks == SUITE_V2 and new.suite == "alfred-v2" and new.track == "scripted"
    assert new.resolved_budget()["offline_mix"] == V2.offline_mix
    # not official: its baselines do not bracket (docs/alfred-v2-pilots.md), so no (suite, track)
    # lookup finds it and its board carries the "not an official protocol" label
    assert not new.official
    with pytest.raises(UnknownProtocolError, match="No official protocol"):
        get_protocol(suite="alfred-v2", track="scripted")
    old = load_protocols()["alfred-scripted"]
    assert (
        old.tasks[0] == "alfred/pick-cool-then-place" and "offline_mix" not in old.budget_overrides
    )
    assert old.resolved_budget()["offline_mix"] is None


def test_stats_list_flawed_sources_only_when_used(flawed) -> None:
    old = build_dataset(get_task("alfred/pick-cool-then-place"), 4, seed=0).stats()
    assert "one_short_episodes" not in old and "random_episodes" in old
    assert flawed.stats()["one_short_episodes"] == 6 and flawed.stats()["one_short_success"] == 0
