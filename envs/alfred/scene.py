"""The twin's world state, its seeded generator, and the snapshot codec.

A scene is a handful of receptacles (fixed slots, sorted by class so that `cabinet 1` keeps its
slot across seeds of similar layouts) and objects lying in or on them. Everything the frame shows
and everything the dynamics need lives in `SceneState`; `to_snapshot`/`from_snapshot` turn it into
a flat float64 vector and back exactly, which is how the oracle's large frames are redrawn later.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from envs.alfred.catalog import (
    BEDROOM_OBJECTS,
    BEDROOM_RECEPTACLES,
    KITCHEN_OBJECTS,
    KITCHEN_RECEPTACLES,
    MAX_INSTANCES,
    MOVABLE_RECEPTACLES,
    NOT_RECEPTACLE,
    OBJECT_CLASSES,
    OBJECT_INDEX,
    OPENABLE,
    RECEP_INDEX,
    RECEPTACLE_CLASSES,
    TASK_TYPE_INDEX,
    TASK_TYPES,
    TOGGLEABLE,
    TaskGoal,
    display,
)
from envs.alfred.versions import V1, TwinVersion

#: fixed sizes: every ALFRED twin task has the same observation and action spaces
RECEP_SLOTS = 12
OBJECT_SLOTS = 10
#: layout cells of the frame (4 columns x 3 rows), one per receptacle slot
GRID_COLS, GRID_ROWS = 4, 3
SNAPSHOT_VERSION = 1.0
#: snapshots of the partially observable twin (v2): the header's spare field holds what was seen
PARTIAL_SNAPSHOT_VERSION = 2.0
NOWHERE = -1  # agent in the middle of the room; object held or inside another object


@dataclass
class Receptacle:
    cls: str
    number: int  # 1-based instance number within its class ("cabinet 2")
    cell: int  # where the frame draws it (0 .. GRID_COLS*GRID_ROWS-1)
    is_open: bool = False
    is_on: bool = False
    #: None = the class decides (the twin); THOR sets them from the object's metadata
    openable: bool = None  # type: ignore[assignment]
    toggleable: bool = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.openable is None:
            self.openable = self.cls in OPENABLE
        if self.toggleable is None:
            self.toggleable = self.cls in TOGGLEABLE

    @property
    def accessible(self) -> bool:
        """Contents reachable (and visible): no door, or the door is open."""
        return not self.openable or self.is_open

    @property
    def name(self) -> str:
        return f"{display(self.cls)} {self.number}"


@dataclass
class Obj:
    cls: str
    number: int
    loc: int  # receptacle slot, or NOWHERE when held or inside another object
    inside: int = NOWHERE  # object slot of the movable receptacle holding it
    hot: bool = False
    cold: bool = False
    dirty: bool = False
    cleaned: bool = False
    #: can hold another object (a movable receptacle); None = the class decides
    is_container: bool = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.is_container is None:
            self.is_container = self.cls in MOVABLE_RECEPTACLES

    @property
    def name(self) -> str:
        return f"{display(self.cls)} {self.number}"


@dataclass
class SceneState:
    goal: TaskGoal
    receptacles: list[Receptacle]
    objects: list[Obj]
    agent: int = NOWHERE  # receptacle slot the agent stands at
    held: int = NOWHERE  # object slot in hand
    seed: int = 0
    extra: dict[str, float] = field(default_factory=dict)
    #: ALFWorld's perception rule (twin v2): only what the agent has seen is observed
    partial: bool = False
    #: bit r: receptacle slot r has been looked into; bit o: object slot o has been seen
    searched: int = 0
    known: int = 0

    def copy(self) -> SceneState:
        return copy.deepcopy(self)

    def is_searched(self, r: int) -> bool:
        """The agent has seen what is in/on receptacle `r` (always, on the fully observed twin)."""
        return not self.partial or bool(self.searched >> r & 1)

    def is_known(self, o: int) -> bool:
        """The agent has seen object `o`; objects move only with the agent, so it stays known."""
        return not self.partial or bool(self.known >> o & 1)

    def look(self) -> None:
        """Standing at an open or door-less receptacle shows everything in/on it (ALFWorld)."""
        if not self.partial:
            return
        if self.held != NOWHERE:
            self.known |= 1 << self.held
        if self.agent == NOWHERE or not self.receptacles[self.agent].accessible:
            return
        self.searched |= 1 << self.agent
        for o in range(len(self.objects)):
            if not self.is_held(o) and self.where(o) == self.agent:
                self.known |= 1 << o

    def where(self, o: int) -> int:
        """Receptacle slot an object is at, following containers and the agent's hand."""
        obj = self.objects[o]
        if o == self.held:
            return self.agent
        if obj.inside != NOWHERE:
            return self.where(obj.inside)
        return obj.loc

    def is_held(self, o: int) -> bool:
        """In hand, directly or inside the held container."""
        if o == self.held:
            return True
        inside = self.objects[o].inside
        return inside != NOWHERE and self.is_held(inside)

    def contents(self, o: int) -> list[int]:
        return [i for i, ob in enumerate(self.objects) if ob.inside == o]

    def reachable(self, o: int) -> bool:
        """The object lies at the agent's receptacle, which is open (not in hand)."""
        if self.agent == NOWHERE or self.is_held(o):
            return False
        return self.where(o) == self.agent and self.receptacles[self.agent].accessible

    def recep_of_class(self, cls: str) -> list[int]:
        return [i for i, r in enumerate(self.receptacles) if r.cls == cls]

    def objects_of_class(self, cls: str) -> list[int]:
        return [i for i, o in enumerate(self.objects) if o.cls == cls]


# --- generation -------------------------------------------------------------------------------
def _required_receptacles(goal: TaskGoal) -> list[str]:
    need = [goal.parent] if goal.parent else []
    if goal.appliance:
        need.append(goal.appliance)
    if goal.toggle:
        need += [goal.toggle, "Desk"]
    return need


def generate_scene(goal: TaskGoal, seed: int, version: TwinVersion = V1) -> SceneState:
    """A random household around `goal`: same (goal, seed, version), same scene, on every
    machine. v1's scenes are the first twin's, draw for draw; other versions use their own
    generator key, counts, and may start goal objects behind doors."""
    key = [int(seed), TASK_TYPE_INDEX[goal.task_type], 0xA1F]
    rng = np.random.default_rng(key if version.name == "v1" else [*key, int(version.name[1:])])
    kitchen = goal.room == "kitchen"
    pool = KITCHEN_RECEPTACLES if kitchen else BEDROOM_RECEPTACLES
    classes = list(dict.fromkeys(_required_receptacles(goal)))
    n_recep = int(rng.integers(version.receptacles[0], version.receptacles[1] + 1))
    while len(classes) < n_recep:
        c = str(pool[int(rng.integers(len(pool)))])
        if classes.count(c) < MAX_INSTANCES.get(c, 1):
            classes.append(c)
    classes.sort(key=lambda c: RECEP_INDEX[c])  # stable slots: same class, similar slot
    cells = rng.permutation(GRID_COLS * GRID_ROWS)[: len(classes)]
    receptacles: list[Receptacle] = []
    for cls, cell in zip(classes, cells, strict=True):
        number = sum(r.cls == cls for r in receptacles) + 1
        receptacles.append(Receptacle(cls, number, int(cell)))
    for r in receptacles:
        r.is_open = r.openable and bool(rng.random() < 0.15)

    # objects: the goal's, then distractors of other classes
    targets = [goal.object] * (2 if goal.task_type == "pick_two_obj_and_place" else 1)
    if goal.mrecep:
        targets.append(goal.mrecep)
    obj_pool = [c for c in (KITCHEN_OBJECTS if kitchen else BEDROOM_OBJECTS) if c not in targets]
    n_obj = int(rng.integers(max(version.min_objects, len(targets) + 2), OBJECT_SLOTS + 1))
    n_distract = min(n_obj - len(targets), len(obj_pool))
    distractors = [str(c) for c in rng.choice(obj_pool, size=n_distract, replace=False)]
    obj_classes = sorted(targets + distractors, key=lambda c: OBJECT_INDEX[c])

    forbidden_goal_locs = {i for i, r in enumerate(receptacles) if r.cls == goal.parent}
    forbidden_goal_locs |= {i for i, r in enumerate(receptacles) if r.cls == goal.appliance}
    placeable = [i for i, r in enumerate(receptacles) if r.cls not in NOT_RECEPTACLE]
    goal_starts = [i for i in placeable if i not in forbidden_goal_locs]
    behind_doors = [i for i in goal_starts if receptacles[i].openable] or goal_starts
    objects: list[Obj] = []
    for cls in obj_classes:
        number = sum(o.cls == cls for o in objects) + 1
        is_goal = cls in (goal.object, goal.mrecep)
        choices = goal_starts if is_goal else placeable
        if is_goal and version.hidden_goal > 0 and rng.random() < version.hidden_goal:
            choices = behind_doors
        objects.append(Obj(cls, number, int(choices[int(rng.integers(len(choices)))])))
    for o in objects:
        if goal.task_type == "pick_clean_then_place_in_recep" and o.cls == goal.object:
            o.dirty = True
        elif o.cls in MOVABLE_RECEPTACLES or o.cls in ("Apple", "Potato", "Tomato"):
            o.dirty = bool(rng.random() < 0.3)
    state = SceneState(goal, receptacles, objects, seed=int(seed), partial=version.partial)
    state.look()
    return state


# --- snapshot codec -------------------------------------------------------------------------
_HEADER = 12
_RECEP_FIELDS = 5  # class, number, cell, open, on
_OBJ_FIELDS = 8  # class, number, loc, inside, hot, cold, dirty, cleaned
SNAPSHOT_DIM = _HEADER + RECEP_SLOTS * _RECEP_FIELDS + OBJECT_SLOTS * _OBJ_FIELDS
_TASK_TYPES = list(TASK_TYPES)


def _code(table: dict[str, int], name: str) -> float:
    return float(table[name]) if name else -1.0


def to_snapshot(s: SceneState) -> np.ndarray:
    """Flat float64 vector that fully determines the state (and so the frame)."""
    v = np.full(SNAPSHOT_DIM, -1.0)
    g = s.goal
    v[:_HEADER] = [
        PARTIAL_SNAPSHOT_VERSION if s.partial else SNAPSHOT_VERSION,
        TASK_TYPE_INDEX[g.task_type],
        OBJECT_INDEX[g.object],
        _code(RECEP_INDEX, g.parent),
        _code(OBJECT_INDEX, g.mrecep),
        _code(RECEP_INDEX, g.toggle),
        len(s.receptacles),
        len(s.objects),
        s.agent,
        s.held,
        s.seed,
        float(s.searched | s.known << RECEP_SLOTS) if s.partial else 0.0,
    ]
    base = _HEADER
    for i, r in enumerate(s.receptacles):
        j = base + i * _RECEP_FIELDS
        v[j : j + _RECEP_FIELDS] = [RECEP_INDEX[r.cls], r.number, r.cell, r.is_open, r.is_on]
    base += RECEP_SLOTS * _RECEP_FIELDS
    for i, o in enumerate(s.objects):
        j = base + i * _OBJ_FIELDS
        v[j : j + _OBJ_FIELDS] = [
            OBJECT_INDEX[o.cls],
            o.number,
            o.loc,
            o.inside,
            o.hot,
            o.cold,
            o.dirty,
            o.cleaned,
        ]
    return v


def from_snapshot(v: np.ndarray) -> SceneState:
    """Inverse of `to_snapshot`."""
    v = np.asarray(v, dtype=np.float64)
    if v.shape != (SNAPSHOT_DIM,) or v[0] not in (SNAPSHOT_VERSION, PARTIAL_SNAPSHOT_VERSION):
        raise ValueError(
            f"not an ALFRED-twin snapshot (shape {v.shape}, version {v[0] if v.size else None}); "
            f"expected shape ({SNAPSHOT_DIM},) and version {SNAPSHOT_VERSION} or "
            f"{PARTIAL_SNAPSHOT_VERSION}"
        )
    h = [int(x) for x in v[:_HEADER]]
    goal = TaskGoal(
        _TASK_TYPES[h[1]],
        OBJECT_CLASSES[h[2]],
        RECEPTACLE_CLASSES[h[3]] if h[3] >= 0 else "",
        OBJECT_CLASSES[h[4]] if h[4] >= 0 else "",
        RECEPTACLE_CLASSES[h[5]] if h[5] >= 0 else "",
    )
    receptacles = []
    for i in range(h[6]):
        j = _HEADER + i * _RECEP_FIELDS
        c, n, cell, op, on = v[j : j + _RECEP_FIELDS]
        receptacles.append(
            Receptacle(RECEPTACLE_CLASSES[int(c)], int(n), int(cell), bool(op), bool(on))
        )
    objects = []
    base = _HEADER + RECEP_SLOTS * _RECEP_FIELDS
    for i in range(h[7]):
        j = base + i * _OBJ_FIELDS
        c, n, loc, inside, hot, cold, dirty, cleaned = v[j : j + _OBJ_FIELDS]
        objects.append(
            Obj(
                OBJECT_CLASSES[int(c)],
                int(n),
                int(loc),
                int(inside),
                bool(hot),
                bool(cold),
                bool(dirty),
                bool(cleaned),
            )
        )
    partial = v[0] == PARTIAL_SNAPSHOT_VERSION
    seen = h[11] if partial else 0
    return SceneState(
        goal,
        receptacles,
        objects,
        agent=h[8],
        held=h[9],
        seed=h[10],
        partial=bool(partial),
        searched=seen & (1 << RECEP_SLOTS) - 1,
        known=seen >> RECEP_SLOTS,
    )
