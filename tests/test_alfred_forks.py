"""The `forks` data source: the twin's expert taking each fork of its plan wrongly, independently."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.config import get_budget
from benchmark.loops.offline_data import SOURCES, build_dataset
from envs import get_task
from envs.alfred import goals
from envs.alfred.actions import apply
from envs.alfred.flaws import (
    FORKS,
    _wrong_parents,
    dawdle_action,
    flawed_action,
    forked_goal,
    make_flawed_expert,
    wrong_goal,
    wrong_goals,
)
from envs.alfred.scene import NOWHERE

COOL = "alfred-v2/pick-cool-then-place"
TWO = "alfred-v2/pick-two-and-place"


def _forks_episodes(data) -> list[np.ndarray]:
    return [e for e in data.episodes() if data.sources[e[0]] == SOURCES.index("forks")]


def _scene(task: str, seed: int):
    env = get_task(task).make_env(0)
    env.reset(seed=seed)
    return env, env.unwrapped.state


def test_no_error_is_the_task_and_certain_error_changes_every_fork_the_scene_allows() -> None:
    changed = {"object": 0, "appliance": 0, "receptacle": 0}
    for seed in range(20):
        _, s = _scene(COOL, seed)
        assert forked_goal(s, 0.0, np.random.default_rng(seed)) == s.goal
        g = forked_goal(s, 1.0, np.random.default_rng(seed))
        changed["object"] += g.object != s.goal.object
        changed["appliance"] += g.task_type != s.goal.task_type
        changed["receptacle"] += g.parent != s.goal.parent
    # every fork goes wrong in most scenes (a scene may offer no other class that fits)
    assert all(n >= 15 for n in changed.values()), changed


def test_a_task_without_an_appliance_keeps_its_task_type() -> None:
    for seed in range(10):
        _, s = _scene(TWO, seed)
        g = forked_goal(s, 1.0, np.random.default_rng(seed))
        assert g.task_type == s.goal.task_type and g != s.goal


def test_same_scene_and_generator_give_the_same_goal() -> None:
    _, s = _scene(COOL, 3)
    goals = {forked_goal(s, 0.5, np.random.default_rng(7)) for _ in range(3)}
    assert len(goals) == 1


def test_fork_error_is_a_probability() -> None:
    env, _ = _scene(COOL, 0)
    with pytest.raises(ValueError, match="probability"):
        make_flawed_expert(env, "forks", np.random.default_rng(0), fork_error=1.5)
    with pytest.raises(ValueError, match="'appliance' must be a probability"):
        make_flawed_expert(env, "forks", np.random.default_rng(0), fork_error={"appliance": -0.1})
    with pytest.raises(ValueError, match="unknown fork"):
        make_flawed_expert(env, "forks", np.random.default_rng(0), fork_error={"door": 0.5})


def test_a_per_fork_error_changes_only_the_forks_it_names() -> None:
    """A mapping sets each fork's error; the forks it leaves out stay right."""
    changed = {"object": 0, "appliance": 0, "receptacle": 0}
    for seed in range(20):
        _, s = _scene(COOL, seed)
        g = forked_goal(s, {"appliance": 1.0}, np.random.default_rng(seed), consistent=True)
        changed["object"] += g.object != s.goal.object
        changed["appliance"] += g.task_type != s.goal.task_type
        changed["receptacle"] += g.parent != s.goal.parent
    assert changed["object"] == changed["receptacle"] == 0
    assert changed["appliance"] >= 15, changed
    # one probability for all forks draws as the mapping that gives each fork that probability
    _, s = _scene(COOL, 4)
    for k in range(10):
        uniform = forked_goal(s, 0.5, np.random.default_rng(k))
        mapped = forked_goal(s, dict.fromkeys(FORKS, 0.5), np.random.default_rng(k))
        assert uniform == mapped


@pytest.mark.parametrize(
    ("error", "lo", "hi"), [(0.0, 1.0, 1.0), (1.0, 0.0, 0.0), (0.5, 0.05, 0.3)]
)
def test_success_share_follows_the_fork_error(error: float, lo: float, hi: float) -> None:
    # three forks on a cool task: (1 - 0.5)^3 = 0.125 when every scene offers every mistake
    data = build_dataset(get_task(COOL), 40, seed=1, mix={"forks": 1.0}, fork_error=error)
    eps = _forks_episodes(data)
    share = float(np.mean([data.privileged["success"][e].any() for e in eps]))
    assert len(eps) == 40 and lo <= share <= hi, share
    assert data.meta["fork_error"] == error
    assert data.masks[np.arange(data.size), data.actions].all()
    if error < 1.0:  # failures stop early (a timeout), like the other flawed experts
        for e in eps:
            if not data.privileged["success"][e].any():
                assert data.timeouts[e[-1]]


def test_a_wrong_turn_is_taken_where_the_right_one_would_be() -> None:
    """The source's point: the true and the forked plan share their states up to the fork, so
    both choices are logged after the same situation (here: holding the object to be cooled)."""
    env, s = _scene(COOL, 4)
    wrong = next(
        g
        for k in range(200)
        if (g := forked_goal(s, 0.5, np.random.default_rng(k))).task_type != s.goal.task_type
        and g.object == s.goal.object
        and g.parent == s.goal.parent
    )
    expert = get_task(COOL).make_expert(env)
    for _ in range(40):
        state = env.unwrapped.state
        right, taken = expert(), flawed_action(state, "forks", wrong)
        if right != taken:
            break
        env.step(right)
    else:
        raise AssertionError("the plans never diverged")
    assert state.held != NOWHERE and state.objects[state.held].cls == s.goal.object


def test_the_budget_carries_the_fork_error() -> None:
    budget = get_budget("short").with_overrides(offline_fork_error=0.7)
    assert budget.to_dict()["offline_fork_error"] == 0.7
    assert get_budget("short").offline_fork_error is None


def test_decoys_always_take_the_first_alternative() -> None:
    """`decoys` concentrate the wrong turns on one choice per fork: whatever the generator, a
    fork that goes wrong goes to the scene's first alternative, which `forks` need not."""
    _, s = _scene(COOL, 5)
    decoyed = {forked_goal(s, 1.0, np.random.default_rng(k), consistent=True) for k in range(20)}
    spread = {forked_goal(s, 1.0, np.random.default_rng(k)) for k in range(20)}
    first = wrong_goals(s, "wrong_object")[0]
    first = wrong_goals(s, "wrong_appliance", first)[0]
    assert decoyed == {_wrong_parents(s, first)[0]}
    assert len(spread) > 1


def test_wrong_goal_draws_from_the_listed_alternatives() -> None:
    for seed in range(5):
        _, s = _scene(COOL, seed)
        for flaw in ("wrong_object", "wrong_appliance"):
            options = wrong_goals(s, flaw)
            drawn = wrong_goal(s, flaw, np.random.default_rng(seed))
            assert (drawn in options) if options else drawn is None
            assert s.goal not in options


def _fork_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts/alfred_fork_advantages.py"
    spec = importlib.util.spec_from_file_location("alfred_fork_advantages", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_diagnostic_finds_a_fork_in_every_wrong_episode_and_none_in_right_ones() -> None:
    script = _fork_script()
    task = get_task(COOL)
    right = build_dataset(task, 12, seed=0, mix={"decoys": 1.0}, fork_error=0.0)
    assert script.fork_states(task, right, 0) == []
    wrong = build_dataset(task, 12, seed=0, mix={"decoys": 1.0}, fork_error=1.0)
    forks = script.fork_states(task, wrong, 0)
    assert len(forks) == 12 and all(f["right"] != f["wrong"] for f in forks)
    assert all(wrong.actions[f["i"]] == f["wrong"] for f in forks)


# --- dawdle: the right plan, slowed by steps it undoes and redoes ---------------------------


@pytest.mark.parametrize(
    ("dawdle", "lo", "hi"), [(0.0, 1.0, 1.0), (1.0, 0.0, 0.0), (0.7, 0.1, 0.7)]
)
def test_dawdling_costs_time_not_the_goal(dawdle: float, lo: float, hi: float) -> None:
    data = build_dataset(get_task(COOL), 30, seed=3, mix={"dawdle": 1.0}, dawdle=dawdle)
    eps = data.episodes()
    share = float(np.mean([data.privileged["success"][e].any() for e in eps]))
    assert lo <= share <= hi, share
    assert data.meta["dawdle"] == dawdle
    undone = (data.privileged["gt_reward"] < 0).mean()
    if dawdle == 0.0:  # the plan itself never loses progress
        assert undone == 0
    else:  # detours put down / close, which the progress reward marks as lost ground
        assert undone > 0.02
        # it never gives up: a failure is a time-out at the episode limit
        for e in eps:
            if not data.privileged["success"][e].any():
                assert len(e) == get_task(COOL).max_episode_steps


def test_a_detour_is_undone_by_the_plan_and_never_finishes_the_task() -> None:
    env, _ = _scene(COOL, 2)
    expert = get_task(COOL).make_expert(env)
    seen = 0
    for _ in range(40):
        state = env.unwrapped.state
        detour = dawdle_action(state)
        if detour is not None:
            trial = state.copy()
            apply(trial, detour)
            assert not goals.success(trial)
            seen += 1
        _, _, term, _, _ = env.step(expert())
        if term:
            break
    assert seen > 0


def test_the_budget_refuses_an_error_rate_outside_0_1() -> None:
    from benchmark.inputs import InputError

    for field in ("offline_fork_error", "offline_dawdle"):
        with pytest.raises(InputError, match=r"in \[0, 1\]"):
            get_budget("short").with_overrides(**{field: 1.5})
