"""The policy's observation: a fixed-size float32 vector of the symbolic state.

Per receptacle slot and per object slot a block of one-hots and flags, in slot order, so that
slot i's features line up with the actions that name slot i. Goal-relational flags (is this the
target class, the target receptacle, the appliance the task needs) make the vector readable
without parsing the instruction, as ALFRED's agents get the goal from language.
"""

from __future__ import annotations

import numpy as np

from envs.alfred.catalog import (
    OBJECT_CLASSES,
    OBJECT_INDEX,
    RECEP_INDEX,
    RECEPTACLE_CLASSES,
    TASK_TYPE_INDEX,
)
from envs.alfred.scene import NOWHERE, OBJECT_SLOTS, RECEP_SLOTS, SceneState

_NR, _NO = len(RECEPTACLE_CLASSES), len(OBJECT_CLASSES)
_AGENT = RECEP_SLOTS + 1 + 1  # location one-hot (+ "nowhere"), hand full
_RECEP = 1 + _NR + 6  # present, class, openable, open, toggleable, on, agent here, goal role
_OBJ = 1 + _NO + RECEP_SLOTS + 1 + OBJECT_SLOTS + 4 + 2
_TASK = len(TASK_TYPE_INDEX)
OBS_DIM = _AGENT + RECEP_SLOTS * _RECEP + OBJECT_SLOTS * _OBJ + _TASK


def encode_observation(s: SceneState) -> np.ndarray:
    v = np.zeros(OBS_DIM, np.float32)
    g = s.goal
    v[s.agent if s.agent != NOWHERE else RECEP_SLOTS] = 1.0
    v[RECEP_SLOTS + 1] = float(s.held != NOWHERE)
    base = _AGENT
    tools = {g.appliance, g.toggle} - {""}
    for i, r in enumerate(s.receptacles):
        j = base + i * _RECEP
        v[j] = 1.0
        if r.cls in RECEP_INDEX:  # THOR classes outside the twin's list keep only their flags
            v[j + 1 + RECEP_INDEX[r.cls]] = 1.0
        k = j + 1 + _NR
        v[k : k + 6] = [
            r.openable,
            r.is_open,
            r.toggleable,
            r.is_on,
            i == s.agent,
            1.0 if r.cls == g.parent else (0.5 if r.cls in tools else 0.0),
        ]
    base += RECEP_SLOTS * _RECEP
    for i, o in enumerate(s.objects):
        j = base + i * _OBJ
        v[j] = 1.0
        if o.cls in OBJECT_INDEX:
            v[j + 1 + OBJECT_INDEX[o.cls]] = 1.0
        k = j + 1 + _NO
        loc = s.where(i)
        if loc != NOWHERE:
            v[k + loc] = 1.0
        k += RECEP_SLOTS
        v[k] = float(s.is_held(i))
        k += 1
        if o.inside != NOWHERE:
            v[k + o.inside] = 1.0
        k += OBJECT_SLOTS
        v[k : k + 6] = [
            o.hot,
            o.cold,
            o.dirty,
            o.cleaned,
            o.cls == g.object,
            bool(g.mrecep) and o.cls == g.mrecep,
        ]
    base += OBJECT_SLOTS * _OBJ
    v[base + TASK_TYPE_INDEX[g.task_type]] = 1.0
    return v
