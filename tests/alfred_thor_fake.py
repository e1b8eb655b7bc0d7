"""A tiny stand-in for ai2thor's Controller, enough to drive the THOR backend in tests.

It keeps a list of objects with THOR's metadata fields and applies the handful of actions the
backend issues with THOR's preconditions (hand empty to pick up, door open to reach inside, the
agent within 1.5 m of what it touches), so a wrong pose or a wrong action dict fails like the
real simulator would. Frames are a colour derived from the metadata, so they change with state.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

REACH = 1.5


def _obj(oid: str, **flags: Any) -> dict[str, Any]:
    t, x, y, z = oid.split("|")
    base = {
        "objectId": oid,
        "objectType": t,
        "position": {"x": float(x), "y": float(y), "z": float(z)},
        "visible": True,
        "receptacle": False,
        "openable": False,
        "isOpen": False,
        "toggleable": False,
        "isToggled": False,
        "pickupable": False,
        "dirtyable": False,
        "isDirty": False,
        "receptacleObjectIds": None,
        "parentReceptacles": None,
    }
    base.update(flags)
    if base["receptacle"]:
        base["receptacleObjectIds"] = []  # a fresh list each
    return base


def kitchen() -> list[dict[str, Any]]:
    """FloorPlan1 of the fake: a kitchen with an apple on the dining table."""
    r = {"receptacle": True}
    return [
        _obj("CounterTop|-1.00|+0.90|+1.00", **r),
        _obj("DiningTable|+1.50|+0.70|+1.50", **r),
        _obj("Fridge|-2.00|+0.00|-1.00", openable=True, **r),
        _obj("Microwave|+0.50|+0.90|-2.00", openable=True, toggleable=True, **r),
        _obj("SinkBasin|+2.00|+0.80|-1.00", **r),
        _obj("Sink|+2.00|+0.80|-1.00", **r),
        _obj("Faucet|+2.20|+1.00|-1.00", toggleable=True),
        _obj("Cabinet|-1.50|+0.50|+2.50", openable=True, **r),
        _obj("DeskLamp|+0.00|+0.90|+2.50", toggleable=True),
        _obj("Apple|+1.40|+0.80|+1.45", pickupable=True, dirtyable=True),
        _obj("Mug|-0.90|+0.95|+1.05", pickupable=True, **r),
        _obj("Potato|-1.10|+0.95|+0.95", pickupable=True),
        _obj("Bowl|-1.50|+0.50|+2.40", pickupable=True, **r),
    ]


INITIAL_PARENTS = {
    "Apple|+1.40|+0.80|+1.45": "DiningTable|+1.50|+0.70|+1.50",
    "Mug|-0.90|+0.95|+1.05": "CounterTop|-1.00|+0.90|+1.00",
    "Potato|-1.10|+0.95|+0.95": "CounterTop|-1.00|+0.90|+1.00",
    "Bowl|-1.50|+0.50|+2.40": "Cabinet|-1.50|+0.50|+2.50",
}


@dataclass
class FakeEvent:
    metadata: dict[str, Any]
    frame: np.ndarray


class FakeController:
    """Records every action dict it receives in `calls`."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.scenes: list[str] = []

    def reset(self, scene: str) -> FakeEvent:
        self.scenes.append(scene)
        self.objects = kitchen()
        self.by_id = {o["objectId"]: o for o in self.objects}
        for child, parent in INITIAL_PARENTS.items():
            self._place(child, parent)
        self.agent = {
            "position": {"x": 0.0, "y": 0.9, "z": 0.0},
            "rotation": {"y": 0},
            "cameraHorizon": 0,
        }
        self.inventory: list[str] = []
        return self._event(True, "")

    # --- world helpers ----------------------------------------------------------------------
    def _place(self, child: str, parent: str) -> None:
        self.by_id[parent]["receptacleObjectIds"].append(child)
        self.by_id[child]["parentReceptacles"] = [parent]

    def _unplace(self, child: str) -> None:
        for p in self.by_id[child]["parentReceptacles"] or []:
            self.by_id[p]["receptacleObjectIds"].remove(child)
        self.by_id[child]["parentReceptacles"] = None

    def _near(self, oid: str) -> bool:
        a, p = self.agent["position"], self.by_id[oid]["position"]
        return math.hypot(a["x"] - p["x"], a["z"] - p["z"]) <= REACH

    def _reachable_inside(self, oid: str) -> bool:
        """Inside a closed container (directly or via a bowl in it) is out of reach."""
        for p in self.by_id[oid]["parentReceptacles"] or []:
            if self.by_id[p]["openable"] and not self.by_id[p]["isOpen"]:
                return False
            if not self._reachable_inside(p):
                return False
        return True

    def _event(self, ok: bool, error: str, extra: dict[str, Any] | None = None) -> FakeEvent:
        meta = {
            "objects": copy.deepcopy(self.objects),
            "agent": copy.deepcopy(self.agent),
            "inventoryObjects": [
                {"objectId": i, "objectType": i.split("|")[0]} for i in self.inventory
            ],
            "lastActionSuccess": ok,
            "errorMessage": error,
            **(extra or {}),
        }
        digest = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).digest()
        frame = np.zeros((300, 300, 3), np.uint8)
        frame[:, :] = np.frombuffer(digest[:3], np.uint8)
        frame[: len(self.inventory) * 50, :50] = 255
        return FakeEvent(meta, frame)

    # --- actions ----------------------------------------------------------------------------
    def step(self, action: dict[str, Any]) -> FakeEvent:
        self.calls.append(dict(action))
        name = action["action"]
        oid = action.get("objectId", "")
        if name in ("Initialize", "SetObjectToggles", "SetStateOfAllObjects", "SetObjectPoses"):
            return self._event(True, "")
        if name == "TeleportFull":
            self.agent["position"] = {"x": action["x"], "y": action["y"], "z": action["z"]}
            self.agent["rotation"] = {"y": action["rotation"]}
            self.agent["cameraHorizon"] = action["horizon"]
            return self._event(True, "")
        if name == "GetReachablePositions":
            grid = [
                {"x": x * 0.25, "y": 0.9, "z": z * 0.25}
                for x in range(-6, 7)
                for z in range(-6, 7)
                if abs(x * 0.25) < 1.8 and abs(z * 0.25) < 1.8
            ]
            return self._event(True, "", {"actionReturn": grid})
        if oid not in self.by_id:
            return self._event(False, f"unknown object {oid}")
        o = self.by_id[oid]
        if oid not in self.inventory and not self._near(oid):  # what is in hand moves along
            return self._event(False, f"{oid} is not within reach")
        if name in ("OpenObject", "CloseObject"):
            if not o["openable"]:
                return self._event(False, f"{oid} is not openable")
            o["isOpen"] = name == "OpenObject"
            return self._event(True, "")
        if name in ("ToggleObjectOn", "ToggleObjectOff"):
            if not o["toggleable"]:
                return self._event(False, f"{oid} is not toggleable")
            o["isToggled"] = name == "ToggleObjectOn"
            if name == "ToggleObjectOn" and o["objectType"] == "Faucet":
                for inside in self.by_id["SinkBasin|+2.00|+0.80|-1.00"]["receptacleObjectIds"]:
                    self.by_id[inside]["isDirty"] = False
            return self._event(True, "")
        if name == "PickupObject":
            if self.inventory:
                return self._event(False, "hand is full")
            if not o["pickupable"] or not self._reachable_inside(oid):
                return self._event(False, f"cannot pick up {oid}")
            self._unplace(oid)
            self.inventory = [oid]
            return self._event(True, "")
        if name == "PutObject":
            target = action.get("receptacleObjectId", "")
            if self.inventory != [oid]:
                return self._event(False, f"not holding {oid}")
            if target not in self.by_id or not self.by_id[target]["receptacle"]:
                return self._event(False, f"{target} is not a receptacle")
            t = self.by_id[target]
            if (t["openable"] and not t["isOpen"]) or not self._near(target):
                return self._event(False, f"cannot reach into {target}")
            self.inventory = []
            self._place(oid, target)
            o["position"] = dict(t["position"])
            return self._event(True, "")
        return self._event(False, f"the fake does not know {name}")
