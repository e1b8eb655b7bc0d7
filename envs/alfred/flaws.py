"""Flawed experts: the planner with one deliberate mistake, for failure-heavy logged data.

A dataset whose failures are all random wandering is easy to tell apart from its successes; the
failures that make reward methods differ are near misses. Each flaw is the planner pursuing a
slightly wrong goal, or the right one without finishing:

    wrong_object     the task done with another object class found in the scene (a cold tomato
                     on the counter instead of a cold apple)
    wrong_appliance  another state change, with its appliance (heat or clean instead of cool,
                     ...) ; for tasks without an appliance, the wrong receptacle
    one_short        the right plan, stopped just before the action that would finish the task
    forks            the plan with each of its forks (which object, which appliance, which
                     receptacle) taken wrongly, independently, with probability `fork_error`
                     (one for every fork, or a mapping from fork to probability); the true
                     plan when none goes wrong
    decoys           forks whose wrong turn is always the scene's first alternative (a
                     consistent decoy: the same wrong object, appliance or receptacle class
                     wherever the scene has it), so that the wrong turns are one action each
    dawdle           the true plan, but at each step where it can, with probability `dawdle`,
                     a step that undoes progress and that the planner then redoes: putting
                     the held object down where it stands (the planner picks it up again),
                     closing the receptacle it stands at (the planner reopens it if it needs
                     it). It never fails for a wrong goal; it runs out of time

The first three are whole-episode mistakes, and the wrong choice they log is mostly taken in
states no successful episode visits (holding the wrong object; stopping is not an action), so
cloning the data already gives the right action wherever it matters. `forks` logs both choices
at the same state, in proportions set by `fork_error`. Its wrong turns are spread over the
scene's alternatives, so the right action can stay the most frequent one even when errors are
likelier than not; `decoys` concentrates them on one alternative, so that with `fork_error`
above 0.5 the most frequent logged action at each fork is the wrong one. `dawdle` wastes time
instead of failing. These three were built to make the data's majority behaviour wrong where a
reward could correct it; measured on the cool task (docs/alfred-v2-pilots.md, sections 4-5),
none separates gt-reward from sparse: the policy takes the right turn at most forks by
generalisation alone, and the twin's gt-reward (a progress difference, i.e. potential-based
shaping) charges nothing for a detour that is undone.

A flawed expert returns None when it considers itself done (its wrong goal reached, or one step
short); the dataset builder ends the episode there, like an agent that stops. A scene that offers
no such mistake (no other object class that fits) gets the one_short flaw instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from envs.alfred import goals
from envs.alfred.actions import CLOSE, PUT, apply, why_invalid
from envs.alfred.catalog import (
    CLEANABLE,
    COOLABLE,
    HEATABLE,
    NOT_RECEPTACLE,
    STATE_CHANGE,
    TaskGoal,
)
from envs.alfred.planner import PlanningError, expert_action
from envs.alfred.scene import SceneState

FLAWS = ("wrong_object", "wrong_appliance", "one_short", "forks", "decoys", "dawdle")
#: the forks of a plan where the `forks` flaw may go wrong, in plan order
FORKS = ("object", "appliance", "receptacle")
#: chance that the `forks` flaw takes each fork wrongly (a budget's `offline_fork_error`)
DEFAULT_FORK_ERROR = 0.5
#: chance that the `dawdle` flaw takes a detour (a step it then redoes) at each step where it
#: can (a budget's `offline_dawdle`)
DEFAULT_DAWDLE = 0.5
_ALLOWED = {"heat": HEATABLE, "cool": COOLABLE, "clean": CLEANABLE}


def wrong_goals(s: SceneState, flaw: str, g: TaskGoal | None = None) -> list[TaskGoal]:
    """Every goal a `flaw` ('wrong_object' or 'wrong_appliance') can pursue instead of `g` (the
    scene's goal by default) in scene `s`, in a fixed order (class names sorted; appliances in
    catalogue order); empty when the scene offers no such mistake."""
    g = g or s.goal
    if flaw == "wrong_object":
        change = STATE_CHANGE.get(g.task_type)
        fits = _ALLOWED.get(change or "")
        movable_task = g.task_type == "pick_and_place_with_movable_recep"
        pool = sorted(
            {
                o.cls
                for o in s.objects
                if o.cls not in (g.object, g.mrecep)
                and not (movable_task and o.is_container)
                and (fits is None or o.cls in fits)
            }
        )
        return [dataclasses.replace(g, object=c) for c in pool]
    if flaw == "wrong_appliance":
        if g.task_type not in STATE_CHANGE:
            return _wrong_parents(s, g)
        present = {r.cls for r in s.receptacles}
        return [
            dataclasses.replace(g, task_type=t)
            for t, change in STATE_CHANGE.items()
            if t != g.task_type
            and g.object in _ALLOWED[change]
            and dataclasses.replace(g, task_type=t).appliance in present
        ]
    raise ValueError(f"unknown flaw {flaw!r}; choose one of {', '.join(FLAWS)}")


def wrong_goal(s: SceneState, flaw: str, rng: np.random.Generator) -> TaskGoal | None:
    """The goal a flawed expert pursues in scene `s`, drawn from `wrong_goals`; None when the
    scene offers no such mistake (no other object class that fits the task, no other
    receptacle)."""
    options = wrong_goals(s, flaw)
    return options[int(rng.integers(len(options)))] if options else None


def _wrong_parents(s: SceneState, g: TaskGoal) -> list[TaskGoal]:
    """`g` delivered to another receptacle class (none that already holds the object), sorted."""
    if g.task_type == "look_at_obj_in_light":
        return []
    occupied = {s.receptacles[s.where(o)].cls for o in s.objects_of_class(g.object)}
    others = sorted(
        {
            r.cls
            for r in s.receptacles
            if r.cls not in NOT_RECEPTACLE
            and r.cls not in (g.parent, g.appliance)
            and r.cls not in occupied
        }
    )
    return [dataclasses.replace(g, parent=c) for c in others]


def fork_errors(fork_error: float | Mapping[str, float]) -> dict[str, float]:
    """Each fork's chance of a wrong turn: one probability for every fork, or a mapping from
    fork names (FORKS; the ones left out never go wrong), each range-checked."""
    if isinstance(fork_error, Mapping):
        unknown = sorted(set(fork_error) - set(FORKS))
        if unknown:
            raise ValueError(f"unknown fork(s) {unknown}; the forks are {', '.join(FORKS)}")
        errors = {f: float(fork_error.get(f, 0.0)) for f in FORKS}
    else:
        errors = dict.fromkeys(FORKS, float(fork_error))
    for f, p in errors.items():
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"fork_error for {f!r} must be a probability in [0, 1], got {p}")
    return errors


def forked_goal(
    s: SceneState,
    fork_error: float | Mapping[str, float],
    rng: np.random.Generator,
    consistent: bool = False,
) -> TaskGoal:
    """The goal the `forks` flaw pursues: the task's, with each fork (FORKS) independently
    replaced by a wrong choice with probability `fork_error`. The wrong choice is drawn at
    random among the scene's alternatives, or with `consistent` always the first of them (the
    same decoy wherever the scene offers it, so that the wrong turn is one action, not several).
    A fork the task lacks (no appliance) or the scene cannot get wrong (no other class fits)
    stays right; the draws do not depend on the scene."""
    g = s.goal
    errors = fork_errors(fork_error)
    for fork in FORKS:
        wrong = rng.random() < errors[fork]
        pick = np.random.default_rng(rng.integers(2**63))  # the fork's own choice of mistake
        if not wrong:
            continue
        if fork == "object":
            options = wrong_goals(s, "wrong_object", g)
        elif fork == "appliance" and g.task_type in STATE_CHANGE:
            options = wrong_goals(s, "wrong_appliance", g)
        elif fork == "receptacle" and g.parent:
            options = _wrong_parents(s, g)
        else:
            options = []
        if options:
            g = options[0] if consistent else options[int(pick.integers(len(options)))]
    return g


def flawed_action(s: SceneState, flaw: str, goal: TaskGoal | None) -> int | None:
    """The flawed expert's next action, or None to stop."""
    if flaw == "one_short":
        a = expert_action(s)
        after = s.copy()
        apply(after, a)
        return None if goals.success(after) else a
    if goal is None:
        return None
    pretend = dataclasses.replace(s, goal=goal)
    if goals.success(pretend):
        return None
    try:
        return expert_action(pretend)
    except PlanningError:  # e.g. no second instance of the wrong class anywhere
        return None


def dawdle_action(s: SceneState) -> int | None:
    """The `dawdle` flaw's detour in `s`: put the held object down here, or close the open
    receptacle here; None where neither is possible or the detour would finish the task."""
    for a in (PUT, CLOSE):
        if why_invalid(s, a) is not None:
            continue
        after = s.copy()
        apply(after, a)
        if not goals.success(after):
            return a
    return None


def make_flawed_expert(
    env: Any,
    flaw: str,
    rng: np.random.Generator,
    fork_error: float | Mapping[str, float] = DEFAULT_FORK_ERROR,
    dawdle: float = DEFAULT_DAWDLE,
) -> Callable[[Any, Any], int | None]:
    """A callable (obs, info) -> action or None for the episode just reset in `env`; it picks
    its wrong goal on its first call (from the scene the episode runs in). `fork_error` is the
    `forks` and `decoys` flaws' chance of a wrong turn at each fork, `dawdle` the `dawdle`
    flaw's chance of a detour at each step (each ignored by the other flaws)."""
    if flaw not in FLAWS:
        raise ValueError(f"unknown flaw {flaw!r}; choose one of {', '.join(FLAWS)}")
    fork_errors(fork_error)  # range-checked here, before the first episode runs
    if not 0.0 <= dawdle <= 1.0:
        raise ValueError(f"dawdle must be a probability in [0, 1], got {dawdle}")
    base = env.unwrapped
    chosen: dict[str, TaskGoal | None] = {}

    def act(obs: Any = None, info: Any = None) -> int | None:
        if flaw == "dawdle":
            detour = dawdle_action(base.state) if rng.random() < dawdle else None
            return detour if detour is not None else expert_action(base.state)
        if "goal" not in chosen:
            if flaw in ("forks", "decoys"):
                chosen["goal"] = forked_goal(base.state, fork_error, rng, flaw == "decoys")
            else:
                chosen["goal"] = None if flaw == "one_short" else wrong_goal(base.state, flaw, rng)
        mistake = flaw if chosen["goal"] is not None else "one_short"  # forked goals never None
        return flawed_action(base.state, mistake, chosen["goal"])

    return act


__all__ = [
    "DEFAULT_DAWDLE",
    "DEFAULT_FORK_ERROR",
    "FLAWS",
    "FORKS",
    "dawdle_action",
    "flawed_action",
    "fork_errors",
    "forked_goal",
    "make_flawed_expert",
    "wrong_goal",
    "wrong_goals",
]
