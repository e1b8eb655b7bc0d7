"""The pure-Python half of the THOR backend: THOR metadata <-> the twin's symbolic state.

AI2-THOR (2.1.0, as ALFRED pins it) reports every object in `event.metadata["objects"]`. This
module picks which of them fill the fixed receptacle/object slots, abstracts the metadata into a
`SceneState` (so the observation, action mask, progress and expert are the twin's), maps each
high-level action to the THOR action dicts ALFRED's own env issues, and keeps ALFRED's
heated/cooled/cleaned bookkeeping. Nothing here imports ai2thor, so it is tested with a fake
controller (tests/test_alfred_thor.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from envs.alfred.actions import decode
from envs.alfred.catalog import TOGGLEABLE, TaskGoal
from envs.alfred.scene import NOWHERE, OBJECT_SLOTS, RECEP_SLOTS, Obj, Receptacle, SceneState

#: THOR receptacle types that duplicate a basin ALFRED uses instead, or are not places to go
SKIP_RECEPTACLES = frozenset({"Sink", "Bathtub", "Floor", "StoveKnob"})
#: ALFRED's movable receptacles
MOVABLE_TYPES = frozenset({"Bowl", "Box", "Cup", "Mug", "Pan", "Plate", "Pot"})
#: distance (m) the agent keeps from a receptacle when no expert pose is known
STANDOFF = 0.75


def _type_of(object_id: str) -> str:
    return object_id.split("|", 1)[0]


def _dist(a: dict[str, float], b: dict[str, float]) -> float:
    return math.hypot(a["x"] - b["x"], a["z"] - b["z"])


@dataclass
class SlotMap:
    """Which THOR object ids fill the receptacle slots and the object slots of an episode."""

    receptacles: list[str]
    objects: list[str]

    @classmethod
    def choose(cls, metadata: dict[str, Any], goal: TaskGoal) -> SlotMap:
        """Goal-relevant receptacles and objects first, then the rest in id order (deterministic)."""
        objs = metadata["objects"]
        by_id = {o["objectId"]: o for o in objs}
        goal_types = {goal.object.lower(), goal.mrecep.lower()} - {""}
        wanted_types = {goal.parent.lower(), goal.toggle.lower()} - {""}
        if goal.appliance:
            wanted_types.add(goal.appliance.lower())
        places = sorted(
            o["objectId"]
            for o in objs
            if (o.get("receptacle") and o["objectType"] not in SKIP_RECEPTACLES)
            or o["objectType"] in TOGGLEABLE
        )
        places = [p for p in places if not by_id[p].get("pickupable")]  # bowls are objects
        first = [p for p in places if _type_of(p).lower() in wanted_types]
        holders = []
        for o in objs:
            if o["objectType"].lower() in goal_types:
                holders += [p for p in (o.get("parentReceptacles") or []) if p in places]
        rest = [p for p in places if p not in first and p not in holders]
        receps = list(dict.fromkeys(first + holders + rest))[:RECEP_SLOTS]
        pick = sorted(o["objectId"] for o in objs if o.get("pickupable"))
        targets = [p for p in pick if _type_of(p).lower() in goal_types]

        def placed(pid: str) -> bool:
            return any(r in receps for r in by_id[pid].get("parentReceptacles") or [])

        others = [p for p in pick if p not in targets and placed(p)]
        return cls(receps, (targets + others)[:OBJECT_SLOTS])


@dataclass
class StateChanges:
    """ALFRED's bookkeeping of objects heated (microwave switched on with them inside), cooled
    (fridge closed on them) and cleaned (faucet switched on over the basin they are in)."""

    heated: set[str] = field(default_factory=set)
    cooled: set[str] = field(default_factory=set)
    cleaned: set[str] = field(default_factory=set)

    def observe(self, action: dict[str, Any], metadata: dict[str, Any]) -> None:
        if not metadata.get("lastActionSuccess", False):
            return
        name, oid = action.get("action", ""), action.get("objectId", "")
        objs = metadata["objects"]
        by_id = {o["objectId"]: o for o in objs}
        if name == "ToggleObjectOn" and _type_of(oid) == "Microwave":
            self.heated |= set(by_id[oid].get("receptacleObjectIds") or [])
        elif name == "CloseObject" and _type_of(oid) == "Fridge":
            self.cooled |= set(by_id[oid].get("receptacleObjectIds") or [])
        elif name == "ToggleObjectOn" and _type_of(oid) == "Faucet":
            basin = nearest_of_type(objs, "SinkBasin", by_id[oid]["position"])
            if basin is not None:
                self.cleaned |= set(basin.get("receptacleObjectIds") or [])


def nearest_of_type(
    objs: list[dict[str, Any]], obj_type: str, pos: dict[str, float]
) -> dict[str, Any] | None:
    found = [o for o in objs if o["objectType"] == obj_type]
    return min(found, key=lambda o: (_dist(o["position"], pos), o["objectId"])) if found else None


def abstract_state(
    metadata: dict[str, Any], slots: SlotMap, goal: TaskGoal, agent: int, changes: StateChanges
) -> SceneState:
    """The twin's view of a THOR state: slots, open/on flags, locations, hand, state changes."""
    by_id = {o["objectId"]: o for o in metadata["objects"]}
    receptacles: list[Receptacle] = []
    for i, rid in enumerate(slots.receptacles):
        o = by_id[rid]
        number = sum(r.cls == o["objectType"] for r in receptacles) + 1
        receptacles.append(
            Receptacle(
                o["objectType"],
                number,
                i,
                bool(o.get("isOpen", False)),
                bool(o.get("isToggled", False)),
                openable=bool(o.get("openable", False)),
                toggleable=o["objectType"] in TOGGLEABLE,
            )
        )
    held_ids = [inv["objectId"] for inv in metadata.get("inventoryObjects", [])]
    objects: list[Obj] = []
    for oid in slots.objects:
        o = by_id[oid]
        loc, inside = NOWHERE, NOWHERE
        for parent in o.get("parentReceptacles") or []:
            if parent in slots.objects and parent != oid:
                inside = slots.objects.index(parent)
                break
            if parent in slots.receptacles:
                loc = slots.receptacles.index(parent)
                break
        if oid in held_ids:
            loc, inside = NOWHERE, NOWHERE
        number = sum(x.cls == o["objectType"] for x in objects) + 1
        objects.append(
            Obj(
                o["objectType"],
                number,
                loc,
                inside,
                hot=oid in changes.heated,
                cold=oid in changes.cooled,
                dirty=bool(o.get("isDirty", False)),
                cleaned=oid in changes.cleaned,
                is_container=o["objectType"] in MOVABLE_TYPES,
            )
        )
    held = next((slots.objects.index(h) for h in held_ids if h in slots.objects), NOWHERE)
    return SceneState(goal, receptacles, objects, agent=agent, held=held)


def interaction_pose(
    target: dict[str, float], reachable: list[dict[str, float]], standoff: float = STANDOFF
) -> dict[str, Any]:
    """A grid position about `standoff` from the target, turned to face it (THOR: rotation 0
    looks along +z, 90 along +x), looking slightly down as ALFRED's interactions do."""
    if not reachable:
        raise ValueError("no reachable positions to stand on")
    best = min(
        reachable,
        key=lambda p: (abs(_dist(p, target) - standoff), round(p["x"], 3), round(p["z"], 3)),
    )
    angle = math.degrees(math.atan2(target["x"] - best["x"], target["z"] - best["z"]))
    rotation = int(round(angle / 90.0)) % 4 * 90
    return {
        "x": best["x"],
        "y": best.get("y", 0.9),
        "z": best["z"],
        "rotation": rotation,
        "horizon": 30,
    }


def teleport(pose: dict[str, Any], y: float) -> dict[str, Any]:
    return {
        "action": "TeleportFull",
        "x": pose["x"],
        "y": y,
        "z": pose["z"],
        "rotateOnTeleport": True,
        "rotation": pose["rotation"],
        "horizon": pose["horizon"],
    }


def _put(held: str, recep: str) -> dict[str, Any]:
    # ai2thor 2.1.0 (ALFRED's pin): objectId is the object in hand, receptacleObjectId the target
    return {
        "action": "PutObject",
        "objectId": held,
        "receptacleObjectId": recep,
        "forceAction": True,
        "placeStationary": True,
    }


def thor_calls(
    action: int,
    state: SceneState,
    slots: SlotMap,
    metadata: dict[str, Any],
    poses: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """THOR action dicts that carry out one (valid) high-level action.

    `poses` maps receptacle ids to teleport poses (the expert's from the task file, else
    computed from reachable positions). Heat, cool and clean expand to ALFRED's sequences:
    put in the appliance, run it (close the fridge / switch the microwave or faucet on and off),
    take the object back out.
    """
    verb, slot = decode(action)
    here = slots.receptacles[state.agent] if state.agent != NOWHERE else ""
    held = slots.objects[state.held] if state.held != NOWHERE else ""
    if verb == "goto":
        rid = slots.receptacles[slot]
        return [teleport(poses[rid], metadata["agent"]["position"]["y"])]
    if verb == "take":
        return [{"action": "PickupObject", "objectId": slots.objects[slot]}]
    if verb == "put":
        return [_put(held, here)]
    if verb == "put_in":
        return [_put(held, slots.objects[slot])]
    if verb == "open":
        return [{"action": "OpenObject", "objectId": here, "moveMagnitude": 1.0}]
    if verb == "close":
        return [{"action": "CloseObject", "objectId": here, "forceAction": True}]
    if verb == "toggle":
        on = state.receptacles[state.agent].is_on
        return [{"action": "ToggleObjectOff" if on else "ToggleObjectOn", "objectId": here}]
    take_back = {"action": "PickupObject", "objectId": held}
    if verb == "heat":
        return [
            _put(held, here),
            {"action": "CloseObject", "objectId": here, "forceAction": True},
            {"action": "ToggleObjectOn", "objectId": here},
            {"action": "ToggleObjectOff", "objectId": here},
            {"action": "OpenObject", "objectId": here, "moveMagnitude": 1.0},
            take_back,
        ]
    if verb == "cool":
        return [
            _put(held, here),
            {"action": "CloseObject", "objectId": here, "forceAction": True},
            {"action": "OpenObject", "objectId": here, "moveMagnitude": 1.0},
            take_back,
        ]
    if verb == "clean":
        basin = {o["objectId"]: o for o in metadata["objects"]}[here]
        faucet = nearest_of_type(metadata["objects"], "Faucet", basin["position"])
        if faucet is None:
            raise ValueError(f"no Faucet near {here} to clean with")
        return [
            _put(held, here),
            {"action": "ToggleObjectOn", "objectId": faucet["objectId"]},
            {"action": "ToggleObjectOff", "objectId": faucet["objectId"]},
            take_back,
        ]
    raise ValueError(f"no THOR mapping for {verb!r}")


def expert_poses(high_pddl: list[Any], objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Receptacle id -> the pose the task file's expert teleported to when it went there.

    A GotoLocation names a receptacle type ('fridge') and a pose; the instance meant is the
    receptacle of that type nearest to the pose.
    """
    from envs.alfred.traj_data import parse_location

    poses: dict[str, dict[str, Any]] = {}
    for sg in high_pddl:
        loc = sg.planner_action.get("location")
        if sg.action != "GotoLocation" or not loc or not sg.args:
            continue
        pose = parse_location(loc)
        found = nearest_of_type(
            [o for o in objects if o["objectType"].lower() == sg.args[0].lower()],
            next(
                (o["objectType"] for o in objects if o["objectType"].lower() == sg.args[0].lower()),
                "",
            ),
            pose,
        )
        if found is not None and found["objectId"] not in poses:
            poses[found["objectId"]] = pose
    return poses


def goal_conditions(
    goal: TaskGoal, metadata: dict[str, Any], changes: StateChanges
) -> tuple[int, int]:
    """ALFRED's goal-condition count (satisfied, total) for the task types, object slicing aside."""
    objs = metadata["objects"]
    t = goal.task_type

    def of(cls: str, prop: str) -> list[dict[str, Any]]:
        return [o for o in objs if o["objectType"].lower() == cls.lower() and o.get(prop)]

    def contents(o: dict[str, Any]) -> set[str]:
        return set(o.get("receptacleObjectIds") or [])

    targets = of(goal.object, "pickupable")
    ids = {o["objectId"] for o in targets}
    if t == "look_at_obj_in_light":
        inv = [i["objectId"] for i in metadata.get("inventoryObjects", [])]
        s = int(bool(inv) and inv[0] in ids)
        s += int(
            any(o.get("isToggled") and o.get("visible") for o in of(goal.toggle, "toggleable"))
        )
        return s, 2
    parents = of(goal.parent, "receptacle")
    in_place = {i for p in parents for i in contents(p) & ids}
    if t == "pick_two_obj_and_place":
        best = max((len(contents(p) & ids) for p in parents), default=0)
        return min(best, 2), 2
    if t == "pick_and_place_with_movable_recep":
        movs = of(goal.mrecep, "pickupable")
        obj_in_mov = any(contents(m) & ids for m in movs)
        mov_in_parent = any(m["objectId"] in contents(p) for m in movs for p in parents)
        both = any(
            contents(m) & ids and any(m["objectId"] in contents(p) for p in parents) for m in movs
        )
        return int(obj_in_mov) + int(mov_in_parent) + int(bool(both)), 3
    changed = {
        "pick_clean_then_place_in_recep": changes.cleaned,
        "pick_heat_then_place_in_recep": changes.heated,
        "pick_cool_then_place_in_recep": changes.cooled,
    }.get(t)
    if changed is None:  # pick_and_place_simple
        return int(bool(in_place)), 1
    done = ids & changed
    return int(bool(in_place)) + int(bool(done)) + int(bool(in_place & done)), 3
