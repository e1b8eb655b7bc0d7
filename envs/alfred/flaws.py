"""Flawed experts: the planner with one deliberate mistake, for failure-heavy logged data.

A dataset whose failures are all random wandering is easy to tell apart from its successes; the
failures that make reward methods differ are near misses. Each flaw is the planner pursuing a
slightly wrong goal, or the right one without finishing:

    wrong_object     the task done with another object class found in the scene (a cold tomato
                     on the counter instead of a cold apple)
    wrong_appliance  another state change, with its appliance (heat or clean instead of cool,
                     ...) ; for tasks without an appliance, the wrong receptacle
    one_short        the right plan, stopped just before the action that would finish the task

A flawed expert returns None when it considers itself done (its wrong goal reached, or one step
short); the dataset builder ends the episode there, like an agent that stops. A scene that offers
no such mistake (no other object class that fits) gets the one_short flaw instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from envs.alfred import goals
from envs.alfred.actions import apply
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

FLAWS = ("wrong_object", "wrong_appliance", "one_short")
_ALLOWED = {"heat": HEATABLE, "cool": COOLABLE, "clean": CLEANABLE}


def wrong_goal(s: SceneState, flaw: str, rng: np.random.Generator) -> TaskGoal | None:
    """The goal a flawed expert pursues in scene `s`; None when the scene offers no such
    mistake (no other object class that fits the task, no other receptacle)."""
    g = s.goal
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
        if not pool:
            return None
        return dataclasses.replace(g, object=pool[int(rng.integers(len(pool)))])
    if flaw == "wrong_appliance":
        if g.task_type in STATE_CHANGE:
            present = {r.cls for r in s.receptacles}
            wrong = [
                t
                for t, change in STATE_CHANGE.items()
                if t != g.task_type
                and g.object in _ALLOWED[change]
                and dataclasses.replace(g, task_type=t).appliance in present
            ]
            if not wrong:
                return None
            return dataclasses.replace(g, task_type=wrong[int(rng.integers(len(wrong)))])
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
        if not others or g.task_type == "look_at_obj_in_light":
            return None
        return dataclasses.replace(g, parent=others[int(rng.integers(len(others)))])
    raise ValueError(f"unknown flaw {flaw!r}; choose one of {', '.join(FLAWS)}")


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


def make_flawed_expert(
    env: Any, flaw: str, rng: np.random.Generator
) -> Callable[[Any, Any], int | None]:
    """A callable (obs, info) -> action or None for the episode just reset in `env`; it picks
    its wrong goal on its first call (from the scene the episode runs in)."""
    if flaw not in FLAWS:
        raise ValueError(f"unknown flaw {flaw!r}; choose one of {', '.join(FLAWS)}")
    base = env.unwrapped
    chosen: dict[str, TaskGoal | None] = {}

    def act(obs: Any = None, info: Any = None) -> int | None:
        if "goal" not in chosen:
            chosen["goal"] = None if flaw == "one_short" else wrong_goal(base.state, flaw, rng)
        mistake = flaw if chosen["goal"] is not None else "one_short"
        return flawed_action(base.state, mistake, chosen["goal"])

    return act


__all__ = ["FLAWS", "flawed_action", "make_flawed_expert", "wrong_goal"]
