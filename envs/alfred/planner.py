"""Expert planner: the next action towards the goal, recomputed from the current state.

Replanning every step (rather than replaying a fixed plan) lets the same expert recover from
the random actions of the noisy-expert datasets: whatever the state, it clears its hands of the
wrong thing, fetches what the goal needs, uses the appliance, and delivers. It reads the twin's
state directly (it is the privileged expert used to build datasets and to check ratings).

On the partially observable twin (v2) the planner plans with what the agent has seen only: it
takes objects it has seen, and while the object it needs is still unseen it searches, looking
into the receptacles it has not looked into yet (door-less ones first: one step each, then the
ones behind doors: go there and open), so its trajectories are ones an agent seeing only the
observation could have produced.
"""

from __future__ import annotations

from envs.alfred.actions import CLEAN, COOL, HEAT, OPEN, PUT, TOGGLE, encode, why_invalid
from envs.alfred.catalog import NOT_RECEPTACLE, STATE_CHANGE
from envs.alfred.goals import success
from envs.alfred.scene import NOWHERE, SceneState

_CHANGE = {"heat": HEAT, "cool": COOL, "clean": CLEAN}


class PlanningError(RuntimeError):
    """The planner found no action (a bug in the twin or the planner; tests guard against it)."""


def _goto_or(s: SceneState, recep: int, then: int) -> int:
    """Go to `recep`, open it if closed, then do `then`."""
    if s.agent != recep:
        return encode("goto", recep)
    if not s.receptacles[recep].accessible:
        return OPEN
    return then


def _deliver(s: SceneState, cls: str) -> int:
    """Put the held object on the first receptacle of class `cls`."""
    targets = s.recep_of_class(cls)
    if s.agent in targets:
        return _goto_or(s, s.agent, PUT)
    return _goto_or(s, targets[0], PUT)


def _drop_anywhere(s: SceneState, avoid: set[str]) -> int:
    """Clear the hands: put the held object here if possible, else on a nearby open surface."""
    if (
        s.agent != NOWHERE
        and why_invalid(s, PUT) is None
        and s.receptacles[s.agent].cls not in avoid
    ):
        return PUT
    # an open surface first (the old rule), then an open container, then one to open: in a
    # scene whose only open surfaces are the goal's and the appliance's, cabinets still take it
    free = [
        i for i, r in enumerate(s.receptacles) if r.cls not in NOT_RECEPTACLE and r.cls not in avoid
    ]
    if free:
        best = min(
            free, key=lambda i: (s.receptacles[i].openable, not s.receptacles[i].accessible, i)
        )
        return _goto_or(s, best, PUT)
    raise PlanningError("no receptacle to put the held object in")


def _search(s: SceneState) -> int:
    """Look into the next receptacle not looked into yet (door-less first, then lowest slot)."""
    todo = [
        i
        for i, r in enumerate(s.receptacles)
        if not s.is_searched(i) and r.cls not in NOT_RECEPTACLE
    ]
    if not todo:
        raise PlanningError("searched every receptacle and did not find what the task needs")
    best = min(todo, key=lambda i: (s.receptacles[i].openable, i))
    return _goto_or(s, best, OPEN)


def _fetch(s: SceneState, candidates: list[int], avoid: set[str]) -> int | None:
    """Action towards holding one of `candidates`; None if one is already held. Unseen ones
    are not candidates: with none seen, the hands are cleared and the search goes on."""
    if s.held in candidates:
        return None
    if s.held != NOWHERE:
        return _drop_anywhere(s, avoid)
    candidates = [o for o in candidates if s.is_known(o)]
    if not candidates:
        return _search(s)
    # nearest first: one lying where the agent stands
    target = min(candidates, key=lambda o: (s.where(o) != s.agent, o))
    loc = s.where(target)
    return _goto_or(s, loc, encode("take", target))


def expert_action(s: SceneState) -> int:
    """The expert's next action in state `s` (raises PlanningError if the task is already done)."""
    if success(s):
        raise PlanningError("the task is already solved")
    g, t = s.goal, s.goal.task_type
    objs = s.objects_of_class(g.object)
    avoid = {g.parent}
    if t == "look_at_obj_in_light":
        step = _fetch(s, objs, avoid)
        if step is not None:
            return step
        lamp = s.recep_of_class(g.toggle)[0]
        return _goto_or(s, lamp, TOGGLE)
    if t == "pick_two_obj_and_place":
        placed = [
            o
            for o in objs
            if s.where(o) != NOWHERE
            and not s.is_held(o)
            and s.receptacles[s.where(o)].cls == g.parent
        ]
        rest = [o for o in objs if o not in placed]
        step = _fetch(s, rest, avoid)
        return step if step is not None else _deliver(s, g.parent)
    if t == "pick_and_place_with_movable_recep":
        movs = s.objects_of_class(g.mrecep)
        loaded = [m for m in movs if any(s.objects[o].inside == m for o in objs)]
        if loaded:
            step = _fetch(s, loaded, avoid)
            return step if step is not None else _deliver(s, g.parent)
        step = _fetch(s, objs, avoid | {g.mrecep})
        if step is not None:
            return step
        movs = [m for m in movs if s.is_known(m)]
        if not movs:
            return _search(s)
        mov = min(movs, key=lambda m: (s.where(m) != s.agent, m))
        return _goto_or(s, s.where(mov), encode("put_in", mov))
    change = STATE_CHANGE.get(t)
    if change:
        flag = {"clean": "cleaned", "heat": "hot", "cool": "cold"}[change]
        done = [o for o in objs if getattr(s.objects[o], flag)]
        if done:
            step = _fetch(s, done, avoid)
            return step if step is not None else _deliver(s, g.parent)
        step = _fetch(s, objs, avoid | {g.appliance})
        if step is not None:
            return step
        appliance = s.recep_of_class(g.appliance)[0]
        return _goto_or(s, appliance, _CHANGE[change])
    step = _fetch(s, objs, avoid)
    return step if step is not None else _deliver(s, g.parent)


__all__ = ["PlanningError", "expert_action"]
