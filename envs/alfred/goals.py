"""Subgoal bookkeeping: how far along a task a state is (privileged progress) and success.

ALFRED splits every task into the subgoals of its high-level plan (GotoLocation, PickupObject,
CoolObject, PutObject, ...). Progress here is a function of the *state*, not of the action
history: the number of those subgoals the state shows as done, counted in plan order, divided by
their number. It cannot be gamed by repeating an action, it falls if the agent undoes work (drops
the apple elsewhere), and it rises by one subgoal at a time along the expert's plan. Success is
ALFRED's goal test (any instance of the object class counts, as in ALFRED's goal conditions).
"""

from __future__ import annotations

from envs.alfred.catalog import STATE_CHANGE, TaskGoal, display
from envs.alfred.scene import NOWHERE, SceneState

_CHANGE_ACTION = {"clean": "CleanObject", "heat": "HeatObject", "cool": "CoolObject"}


def subgoal_names(goal: TaskGoal) -> list[str]:
    """ALFRED-style high-level plan of the task, one entry per subgoal."""
    o, p = display(goal.object), display(goal.parent) if goal.parent else ""
    t = goal.task_type
    if t == "look_at_obj_in_light":
        lamp = display(goal.toggle)
        return [
            f"GotoLocation {o}",
            f"PickupObject {o}",
            f"GotoLocation {lamp}",
            f"ToggleObject {lamp}",
        ]
    if t == "pick_two_obj_and_place":
        one = [f"GotoLocation {o}", f"PickupObject {o}", f"GotoLocation {p}", f"PutObject {o} {p}"]
        return one + one
    if t == "pick_and_place_with_movable_recep":
        m = display(goal.mrecep)
        return [
            f"GotoLocation {o}",
            f"PickupObject {o}",
            f"GotoLocation {m}",
            f"PutObject {o} {m}",
            f"PickupObject {m}",
            f"GotoLocation {p}",
            f"PutObject {m} {p}",
        ]
    change = STATE_CHANGE.get(t)
    if change:
        a = display(goal.appliance)
        return [
            f"GotoLocation {o}",
            f"PickupObject {o}",
            f"GotoLocation {a}",
            f"{_CHANGE_ACTION[change]} {o}",
            f"GotoLocation {p}",
            f"PutObject {o} {p}",
        ]
    return [f"GotoLocation {o}", f"PickupObject {o}", f"GotoLocation {p}", f"PutObject {o} {p}"]


def num_subgoals(goal: TaskGoal) -> int:
    return len(subgoal_names(goal))


def _changed(s: SceneState, o: int) -> bool:
    change = STATE_CHANGE.get(s.goal.task_type)
    obj = s.objects[o]
    return {"clean": obj.cleaned, "heat": obj.hot, "cool": obj.cold}.get(change or "", True)


def _at_class(s: SceneState, cls: str) -> bool:
    return s.agent != NOWHERE and s.receptacles[s.agent].cls == cls


def _in_class(s: SceneState, o: int, cls: str) -> bool:
    """Lies in/on a receptacle of `cls` (not in hand)."""
    loc = s.where(o)
    return not s.is_held(o) and loc != NOWHERE and s.receptacles[loc].cls == cls


def _fetch_stage(s: SceneState, candidates: list[int]) -> int:
    """0 = nothing yet, 1 = standing where a candidate lies, 2 = holding one."""
    if any(s.is_held(o) for o in candidates):
        return 2
    if any(s.where(o) == s.agent != NOWHERE for o in candidates):
        return 1
    return 0


def stage(s: SceneState) -> int:
    """Number of plan subgoals the state shows as completed (0 .. num_subgoals)."""
    g, t = s.goal, s.goal.task_type
    objs = s.objects_of_class(g.object)
    if t == "look_at_obj_in_light":
        held = [o for o in objs if s.held == o]
        if held and _at_class(s, g.toggle):
            lamp_on = s.receptacles[s.agent].is_on
            return 4 if lamp_on else 3
        return _fetch_stage(s, objs)
    if t == "pick_two_obj_and_place":
        placed = [o for o in objs if _in_class(s, o, g.parent)]
        if len(placed) >= 2:
            return 8
        rest = [o for o in objs if o not in placed]
        sub = _fetch_stage(s, rest)
        if sub == 2 and _at_class(s, g.parent):
            sub = 3
        return 4 * len(placed) + sub
    if t == "pick_and_place_with_movable_recep":
        movs = s.objects_of_class(g.mrecep)
        loaded = [m for m in movs if any(s.objects[o].inside == m for o in objs)]
        if any(_in_class(s, m, g.parent) for m in loaded):
            return 7
        if any(s.held == m for m in loaded):
            return 6 if _at_class(s, g.parent) else 5
        if loaded:
            return 4
        sub = _fetch_stage(s, objs)
        if sub == 2 and s.agent != NOWHERE and any(s.where(m) == s.agent for m in movs):
            return 3
        return sub
    change = STATE_CHANGE.get(t)
    if change:
        if any(_changed(s, o) and _in_class(s, o, g.parent) for o in objs):
            return 6
        done = [o for o in objs if _changed(s, o)]
        if done:
            return 5 if any(s.held == o for o in done) and _at_class(s, g.parent) else 4
        sub = _fetch_stage(s, objs)
        if sub == 2 and _at_class(s, g.appliance):
            return 3
        return sub
    # pick_and_place_simple
    if any(_in_class(s, o, g.parent) for o in objs):
        return 4
    sub = _fetch_stage(s, objs)
    if sub == 2 and _at_class(s, g.parent):
        return 3
    return sub


def progress(s: SceneState) -> float:
    """Fraction of the task's subgoals completed, in [0, 1] (privileged)."""
    return stage(s) / num_subgoals(s.goal)


def success(s: SceneState) -> bool:
    return stage(s) == num_subgoals(s.goal)
