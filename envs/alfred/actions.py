"""The discrete high-level action set and the twin's rules for each action.

In the spirit of ALFWorld's text commands, over a FIXED enumeration of scene slots so the
action space is the same `Discrete(N_ACTIONS)` for every task and seed:

    [0, R)            goto <receptacle slot r>
    [R, R+O)          take <object slot o>           (from the receptacle the agent stands at)
    [R+O, R+2O)       put the held object in <object slot o>   (a movable receptacle: bowl, mug…)
    R+2O + 0 .. 6     put (in/on the receptacle here), open, close, heat, cool, clean, toggle

`put`, `open`, `close`, `heat`, `cool`, `clean` and `toggle` act on the receptacle the agent
stands at, which is what ALFRED's interaction actions do after a GotoLocation. `why_invalid`
gives the reason an action cannot run (None when it can); `action_mask` is that test for all
actions at once; `apply` performs a valid action in place.
"""

from __future__ import annotations

import numpy as np

from envs.alfred.catalog import (
    APPLIANCE,
    CLEANABLE,
    COOLABLE,
    HEATABLE,
    NOT_RECEPTACLE,
    OBJECT_INDEX,
)
from envs.alfred.scene import NOWHERE, OBJECT_SLOTS, RECEP_SLOTS, SceneState

GOTO, TAKE, PUT_IN = 0, RECEP_SLOTS, RECEP_SLOTS + OBJECT_SLOTS
_VERBS = ("put", "open", "close", "heat", "cool", "clean", "toggle")
_BASE = RECEP_SLOTS + 2 * OBJECT_SLOTS
PUT, OPEN, CLOSE, HEAT, COOL, CLEAN, TOGGLE = range(_BASE, _BASE + len(_VERBS))
N_ACTIONS = _BASE + len(_VERBS)
_CHANGEABLE = {"heat": HEATABLE, "cool": COOLABLE, "clean": CLEANABLE}


class InvalidActionError(ValueError):
    """Raised by the twin in strict mode when an action cannot be performed."""


def decode(a: int) -> tuple[str, int]:
    """Action id -> (verb, slot); slot is -1 for verbs acting on the current receptacle."""
    if not 0 <= a < N_ACTIONS:
        raise InvalidActionError(f"action {a} is outside Discrete({N_ACTIONS})")
    if a < TAKE:
        return "goto", a
    if a < PUT_IN:
        return "take", a - TAKE
    if a < _BASE:
        return "put_in", a - PUT_IN
    return _VERBS[a - _BASE], -1


def encode(verb: str, slot: int = -1) -> int:
    """(verb, slot) -> action id; the inverse of `decode`."""
    if verb == "goto":
        return GOTO + slot
    if verb == "take":
        return TAKE + slot
    if verb == "put_in":
        return PUT_IN + slot
    return _BASE + _VERBS.index(verb)


def describe(s: SceneState, a: int) -> str:
    """Readable ALFWorld-like command for an action in this scene ('go to fridge 1')."""
    verb, slot = decode(a)
    here = s.receptacles[s.agent].name if s.agent != NOWHERE else "nothing"
    held = s.objects[s.held].name if s.held != NOWHERE else "nothing"

    def recep(i: int) -> str:
        return s.receptacles[i].name if i < len(s.receptacles) else f"<empty receptacle slot {i}>"

    def obj(i: int) -> str:
        if i < len(s.objects) and not s.is_known(i):
            return f"<unseen object slot {i}>"
        return s.objects[i].name if i < len(s.objects) else f"<empty object slot {i}>"

    return {
        "goto": lambda: f"go to {recep(slot)}",
        "take": lambda: f"take {obj(slot)} from {here}",
        "put_in": lambda: f"put {held} in {obj(slot)}",
        "put": lambda: f"put {held} in/on {here}",
        "open": lambda: f"open {here}",
        "close": lambda: f"close {here}",
        "heat": lambda: f"heat {held} with {here}",
        "cool": lambda: f"cool {held} with {here}",
        "clean": lambda: f"clean {held} with {here}",
        "toggle": lambda: f"toggle {here}",
    }[verb]()


def why_invalid(s: SceneState, a: int) -> str | None:
    """None if the action can be performed in `s`, otherwise a sentence saying why not."""
    verb, slot = decode(a)
    here = s.receptacles[s.agent] if s.agent != NOWHERE else None
    held = s.objects[s.held] if s.held != NOWHERE else None
    if verb == "goto":
        if slot >= len(s.receptacles):
            return f"receptacle slot {slot} is empty in this scene"
        if slot == s.agent:
            return f"already at {here.name}"
        return None
    if verb in ("take", "put_in"):
        if slot >= len(s.objects):
            return f"object slot {slot} is empty in this scene"
        target = s.objects[slot]
        if not s.is_known(slot):  # partially observable twin: say nothing about unseen objects
            return f"nothing seen in object slot {slot} yet; look into receptacles first"
        if verb == "take":
            if held is not None:
                return f"hands are full (holding {held.name})"
            if here is None:
                return "not at any receptacle; go to one first"
            if s.where(slot) != s.agent:
                return f"{target.name} is not at {here.name}"
            if not here.accessible:
                return f"{target.name} is inside the closed {here.name}; open it first"
            return None
        if held is None:
            return "holding nothing to put"
        if slot == s.held:
            return f"cannot put {held.name} in itself"
        if not target.is_container:
            return f"{target.name} is not a receptacle"
        if held.is_container:
            return f"{held.name} does not fit in {target.name}"
        if here is None or s.where(slot) != s.agent or s.is_held(slot):
            return f"{target.name} is not here"
        if not here.accessible:
            return f"{target.name} is inside the closed {here.name}; open it first"
        return None
    if verb == "put" and held is None:
        return "holding nothing to put"
    if here is None:
        return f"cannot {verb}: not at any receptacle; go to one first"
    if verb == "put":
        if here.cls in NOT_RECEPTACLE:
            return f"cannot put things on the {here.name}"
        if not here.accessible:
            return f"{here.name} is closed; open it first"
        return None
    if verb in ("open", "close"):
        if not here.openable:
            return f"{here.name} cannot be opened or closed"
        if verb == "open" and here.is_open:
            return f"{here.name} is already open"
        if verb == "close" and not here.is_open:
            return f"{here.name} is already closed"
        return None
    if verb == "toggle":
        if not here.toggleable:
            return f"{here.name} cannot be switched on or off"
        return None
    # heat / cool / clean
    appliance = APPLIANCE[verb]
    if here.cls != appliance:
        return f"{verb} needs the {appliance.lower()}; the agent is at {here.name}"
    if held is None:
        return f"holding nothing to {verb}"
    if held.cls in OBJECT_INDEX and held.cls not in _CHANGEABLE[verb]:  # THOR judges others
        return f"a {held.cls.lower()} cannot be {'heated' if verb == 'heat' else verb + 'ed'}"
    if not here.accessible:
        return f"{here.name} is closed; open it to put {held.name} inside"
    return None


def action_mask(s: SceneState) -> np.ndarray:
    """Boolean mask over all actions: True where `why_invalid` is None."""
    return np.fromiter((why_invalid(s, a) is None for a in range(N_ACTIONS)), bool, N_ACTIONS)


def apply(s: SceneState, a: int) -> None:
    """Perform a valid action in place (callers check `why_invalid` first)."""
    verb, slot = decode(a)
    if verb == "goto":
        s.agent = slot
    elif verb == "take":
        obj = s.objects[slot]
        obj.loc, obj.inside = NOWHERE, NOWHERE
        s.held = slot
    elif verb == "put_in":
        s.objects[s.held].inside = slot
        s.objects[s.held].loc = NOWHERE
        s.held = NOWHERE
    elif verb == "put":
        s.objects[s.held].loc = s.agent
        s.held = NOWHERE
    elif verb in ("open", "close"):
        s.receptacles[s.agent].is_open = verb == "open"
    elif verb == "toggle":
        lamp = s.receptacles[s.agent]
        lamp.is_on = not lamp.is_on
    else:
        obj = s.objects[s.held]
        if verb == "heat":
            obj.hot, obj.cold = True, False
        elif verb == "cool":
            obj.cold, obj.hot = True, False
        else:
            obj.dirty, obj.cleaned = False, True
