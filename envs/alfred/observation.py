"""The policy's observation: a compact, goal-relational float32 vector of the symbolic state.

Layout (OBS_DIM = 26 + 12 x 11 + 10 x 13 = 288; v2: PARTIAL_OBS_DIM = 302):

    global      agent location one-hot (12 receptacle slots + "middle of the room"), hand full,
                holding a goal object, holding a loaded goal container, a goal object has the
                required state change, goal objects placed (0, .5, 1), goal lamp on,
                task-type one-hot (7)
    receptacle  per slot: present, openable, open, switched on, agent here, is the target
                receptacle class, is the appliance the task needs, is the goal lamp, goal objects
                lying here (0, .5, 1), goal container here, loaded goal container here
    object      per slot: present, held, at the agent's receptacle, reachable now, is a goal
                object, is a goal container, hot, cold, dirty, cleaned, holds a goal object,
                can hold objects, lies on a target receptacle

Features are *roles* relative to the task (ALFRED's agents get the goal from the instruction),
not class identities, and each slot's block lines up with the actions naming that slot: this is
what lets a small MLP trained offline generalise across procedurally generated layouts. The
frames, not this vector, carry the class names and colours the reward model and the VLM see.

Partially observable twin (v2, ALFWorld's rule): objects the agent has not seen are absent from
the vector (their slots read as empty) and every role feature counts seen objects only; a flag
per receptacle says whether it has been looked into, which is the agent's memory of its search.
"""

from __future__ import annotations

import numpy as np

from envs.alfred.catalog import STATE_CHANGE, TASK_TYPE_INDEX
from envs.alfred.scene import NOWHERE, OBJECT_SLOTS, RECEP_SLOTS, SceneState

_GLOBAL = RECEP_SLOTS + 1 + 6 + len(TASK_TYPE_INDEX)
_RECEP = 11
_OBJ = 13
OBS_DIM = _GLOBAL + RECEP_SLOTS * _RECEP + OBJECT_SLOTS * _OBJ
#: the partially observable twin (v2) adds: global "share of receptacles looked into" and "a goal
#: object has been seen", per receptacle "looked into"
_PARTIAL_GLOBAL, _PARTIAL_RECEP = 2, 1
PARTIAL_OBS_DIM = OBS_DIM + _PARTIAL_GLOBAL + RECEP_SLOTS * _PARTIAL_RECEP
_FLAG = {"clean": "cleaned", "heat": "hot", "cool": "cold"}


def obs_dim(partial: bool) -> int:
    return PARTIAL_OBS_DIM if partial else OBS_DIM


def encode_observation(s: SceneState) -> np.ndarray:
    """The vector above. On the partially observable twin (`s.partial`) every feature is
    computed from the objects the agent has seen only; an unseen object's block is all zeros."""
    seen = [i for i in range(len(s.objects)) if s.is_known(i)]
    g = s.goal
    targets = [i for i in seen if s.objects[i].cls == g.object]
    movables = [i for i in seen if g.mrecep and s.objects[i].cls == g.mrecep]
    loaded = [m for m in movables if any(s.objects[t].inside == m for t in targets)]
    change = _FLAG.get(STATE_CHANGE.get(g.task_type, ""), "")
    parents = {i for i, r in enumerate(s.receptacles) if r.cls == g.parent}

    def in_parent(o: int) -> bool:
        return not s.is_held(o) and s.where(o) in parents

    # global
    glob = np.zeros(_GLOBAL + (_PARTIAL_GLOBAL if s.partial else 0), np.float32)
    glob[s.agent if s.agent != NOWHERE else RECEP_SLOTS] = 1.0
    k = RECEP_SLOTS + 1
    glob[k : k + 6] = [
        s.held != NOWHERE,
        s.held in targets,
        s.held in loaded,
        any(getattr(s.objects[t], change) for t in targets) if change else 0.0,
        min(2, sum(in_parent(t) for t in targets)) / 2.0,
        any(r.is_on for r in s.receptacles if r.cls == g.toggle) if g.toggle else 0.0,
    ]
    glob[k + 6 + TASK_TYPE_INDEX[g.task_type]] = 1.0
    if s.partial:
        looked = sum(s.is_searched(i) for i in range(len(s.receptacles)))
        glob[_GLOBAL:] = [looked / len(s.receptacles), bool(targets)]
    # receptacles
    width = _RECEP + (_PARTIAL_RECEP if s.partial else 0)
    receps = np.zeros((RECEP_SLOTS, width), np.float32)
    for i, r in enumerate(s.receptacles):
        here = [o for o in targets if not s.is_held(o) and s.where(o) == i]
        receps[i, :_RECEP] = [
            1.0,
            r.openable,
            r.is_open,
            r.is_on,
            i == s.agent,
            r.cls == g.parent,
            bool(g.appliance) and r.cls == g.appliance,
            bool(g.toggle) and r.cls == g.toggle,
            min(2, len(here)) / 2.0,
            any(not s.is_held(m) and s.where(m) == i for m in movables),
            any(not s.is_held(m) and s.where(m) == i for m in loaded),
        ]
        if s.partial:
            receps[i, _RECEP] = s.is_searched(i)
    # objects
    objs = np.zeros((OBJECT_SLOTS, _OBJ), np.float32)
    for i in seen:
        o = s.objects[i]
        at_agent = not s.is_held(i) and s.agent != NOWHERE and s.where(i) == s.agent
        objs[i] = [
            1.0,
            s.is_held(i),
            at_agent,
            s.reachable(i),
            i in targets,
            i in movables,
            o.hot,
            o.cold,
            o.dirty,
            o.cleaned,
            i in loaded,
            o.is_container,
            in_parent(i),
        ]
    return np.concatenate([glob, receps.ravel(), objs.ravel()])


#: How the vector and the action space line up, for slot-structured networks (benchmark IQL):
#: a global block, then sets of equally sized slot blocks; the actions are, in order, one per
#: slot of a set ("slot" heads) or a fixed number of global verbs ("global" heads).
def structure(partial: bool) -> dict:
    """The layout below for the fully (v1) or partially (v2) observable twin."""
    recep = _RECEP + (_PARTIAL_RECEP if partial else 0)
    return {
        "global": _GLOBAL + (_PARTIAL_GLOBAL if partial else 0),
        "sets": [("receptacles", RECEP_SLOTS, recep), ("objects", OBJECT_SLOTS, _OBJ)],
        "actions": [
            ("slot", "receptacles"),  # goto r
            ("slot", "objects"),  # take o
            ("slot", "objects"),  # put in o
            ("global", 7),  # put, open, close, heat, cool, clean, toggle
        ],
    }


STRUCTURE: dict = structure(False)
PARTIAL_STRUCTURE: dict = structure(True)
