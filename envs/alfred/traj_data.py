"""ALFRED task files (`traj_data.json`): parsing and discovery, in pure Python.

ALFRED's dataset (json_2.1.0/<split>/<task-dir>/<trial>/traj_data.json) describes each task by
its type, scene (floor plan, object poses, toggles, the agent's initial teleport), goal classes
(`pddl_params`), the expert's high-level plan (`plan.high_pddl`) and people's instructions
(`turk_annotations`). This module turns one into an `AlfredTrajTask` the THOR backend runs; it
never imports ai2thor. Field names follow the published dataset.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.alfred.catalog import TASK_TYPES, TaskGoal

#: ALFRED's navigation grid: positions in `loc|x|z|rotation|horizon` strings are in 0.25 m
#: steps and rotations in quarter turns
GRID_SIZE = 0.25


@dataclass(frozen=True)
class HighSubgoal:
    """One entry of `plan.high_pddl`: e.g. ('GotoLocation', ['fridge'])."""

    index: int
    action: str
    args: tuple[str, ...]
    planner_action: dict[str, Any]


@dataclass(frozen=True)
class AlfredTrajTask:
    task_id: str
    task_type: str
    goal: TaskGoal
    scene_num: int
    floor_plan: str
    object_poses: list[dict[str, Any]]
    object_toggles: list[dict[str, Any]]
    dirty_and_empty: bool
    init_action: dict[str, Any]
    high_pddl: list[HighSubgoal]
    instructions: list[str] = field(default_factory=list)
    object_sliced: bool = False
    path: str = ""

    @property
    def subgoals(self) -> list[str]:
        """ALFRED's subgoal list (the final NoOp/End excluded, as ALFRED's evaluation does)."""
        return [
            " ".join([sg.action, *sg.args])
            for sg in self.high_pddl
            if sg.action not in ("NoOp", "End")
        ]


def parse_location(loc: str) -> dict[str, Any]:
    """'loc|x|z|rotation|horizon' (grid units, quarter turns) -> TeleportFull arguments."""
    parts = loc.split("|")
    if len(parts) != 5 or parts[0] != "loc":
        raise ValueError(f"not an ALFRED location string: {loc!r} (expected 'loc|x|z|rot|horizon')")
    x, z, rot, horizon = (int(p) for p in parts[1:])
    return {
        "x": x * GRID_SIZE,
        "z": z * GRID_SIZE,
        "rotation": (rot % 4) * 90,
        "horizon": horizon,
    }


def _goal_from(task_type: str, params: dict[str, Any]) -> TaskGoal:
    def val(key: str) -> str:
        v = params.get(key) or ""
        return "" if v in ("None", "none") else str(v)

    if task_type == "look_at_obj_in_light":
        return TaskGoal(task_type, val("object_target"), toggle=val("toggle_target"))
    return TaskGoal(
        task_type,
        val("object_target"),
        parent=val("parent_target"),
        mrecep=val("mrecep_target"),
    )


def parse_traj_data(source: dict[str, Any] | str | os.PathLike[str]) -> AlfredTrajTask:
    """Parse a traj_data.json (a path or its loaded dict); KeyError/ValueError name what is missing."""
    path = ""
    if not isinstance(source, dict):
        path = str(source)
        with open(source, encoding="utf-8") as fh:
            source = json.load(fh)
    d: dict[str, Any] = source
    task_type = d["task_type"]
    if task_type not in TASK_TYPES:
        raise ValueError(f"unknown ALFRED task_type {task_type!r} in {path or 'traj_data'}")
    scene = d["scene"]
    high = []
    for i, entry in enumerate(d.get("plan", {}).get("high_pddl", [])):
        disc = entry.get("discrete_action", {})
        high.append(
            HighSubgoal(
                int(entry.get("high_idx", i)),
                str(disc.get("action", entry.get("planner_action", {}).get("action", ""))),
                tuple(str(a) for a in disc.get("args", [])),
                dict(entry.get("planner_action", {})),
            )
        )
    anns = d.get("turk_annotations", {}).get("anns", [])
    params = d.get("pddl_params", {})
    return AlfredTrajTask(
        task_id=str(d.get("task_id", "")),
        task_type=task_type,
        goal=_goal_from(task_type, params),
        scene_num=int(scene["scene_num"]),
        floor_plan=str(scene.get("floor_plan", f"FloorPlan{scene['scene_num']}")),
        object_poses=list(scene.get("object_poses", [])),
        object_toggles=list(scene.get("object_toggles", [])),
        dirty_and_empty=bool(scene.get("dirty_and_empty", False)),
        init_action=dict(scene.get("init_action", {})),
        high_pddl=high,
        instructions=[a["task_desc"] for a in anns if a.get("task_desc")],
        object_sliced=bool(params.get("object_sliced", False)),
        path=path,
    )


def find_task_files(
    root: str | os.PathLike[str], goal: TaskGoal, match_classes: bool
) -> list[Path]:
    """Sorted traj_data.json files under `root` of the goal's task type (and its classes if
    `match_classes`), using ALFRED's directory names '<type>-<object>-<mrecep>-<parent>-<scene>'."""
    root = Path(root)
    files = sorted(root.glob(f"**/{goal.task_type}-*/*/traj_data.json"))
    if not match_classes:
        return files
    want = (goal.object, goal.mrecep or "None", goal.toggle or goal.parent)
    out = []
    for f in files:
        parts = f.parent.parent.name.split("-")
        if len(parts) >= 4 and tuple(p.lower() for p in parts[1:4]) == tuple(
            w.lower() for w in want
        ):
            out.append(f)
    return out
