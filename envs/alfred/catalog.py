"""ALFRED's vocabulary as the twin uses it: classes, their affordances, task types and goals.

Class names are ALFRED's (AI2-THOR object types), so a task defined here means the same thing
on the THOR backend. Only the subset the twin draws is listed; the order of each tuple fixes
the one-hot layout of observations and the codes stored in snapshots, so append, never reorder.
"""

from __future__ import annotations

from dataclasses import dataclass

RECEPTACLE_CLASSES: tuple[str, ...] = (
    "CounterTop",
    "DiningTable",
    "Shelf",
    "Cabinet",
    "Drawer",
    "Fridge",
    "Microwave",
    "SinkBasin",
    "StoveBurner",
    "CoffeeMachine",
    "GarbageCan",
    "SideTable",
    "Desk",
    "DeskLamp",
    "Dresser",
    "Bed",
)
OBJECT_CLASSES: tuple[str, ...] = (
    "Apple",
    "Potato",
    "Tomato",
    "Egg",
    "Lettuce",
    "Bread",
    "Mug",
    "Cup",
    "Plate",
    "Bowl",
    "Pan",
    "Knife",
    "Spoon",
    "Book",
    "AlarmClock",
    "CellPhone",
    "KeyChain",
    "Pen",
)
RECEP_INDEX = {c: i for i, c in enumerate(RECEPTACLE_CLASSES)}
OBJECT_INDEX = {c: i for i, c in enumerate(OBJECT_CLASSES)}

#: receptacles with a door: their contents are reachable (and drawn) only while open
OPENABLE = frozenset({"Cabinet", "Drawer", "Fridge", "Microwave"})
#: fixtures one can switch on; not receptacles (nothing can be put on them in the twin)
TOGGLEABLE = frozenset({"DeskLamp", "FloorLamp"})
NOT_RECEPTACLE = frozenset({"DeskLamp", "FloorLamp"})
#: the appliance each state-changing action needs (ALFRED: microwave heats, fridge cools,
#: sink basin cleans)
APPLIANCE = {"heat": "Microwave", "cool": "Fridge", "clean": "SinkBasin"}

FOOD = frozenset({"Apple", "Potato", "Tomato", "Egg", "Lettuce", "Bread"})
DISHES = frozenset({"Mug", "Cup", "Plate", "Bowl", "Pan"})
HEATABLE = FOOD | DISHES
COOLABLE = FOOD | DISHES
CLEANABLE = (FOOD - {"Bread"}) | DISHES | {"Knife", "Spoon"}
#: objects that can hold another object (ALFRED's movable receptacles)
MOVABLE_RECEPTACLES = frozenset({"Mug", "Cup", "Plate", "Bowl", "Pan"})

KITCHEN_RECEPTACLES: tuple[str, ...] = (
    "CounterTop",
    "DiningTable",
    "Shelf",
    "Cabinet",
    "Drawer",
    "Fridge",
    "Microwave",
    "SinkBasin",
    "StoveBurner",
    "CoffeeMachine",
    "GarbageCan",
    "SideTable",
)
BEDROOM_RECEPTACLES: tuple[str, ...] = (
    "Desk",
    "DeskLamp",
    "Dresser",
    "Bed",
    "Shelf",
    "Drawer",
    "SideTable",
    "GarbageCan",
    "Cabinet",
)
KITCHEN_OBJECTS: tuple[str, ...] = tuple(
    c for c in OBJECT_CLASSES if c in FOOD | DISHES | {"Knife", "Spoon"}
)
BEDROOM_OBJECTS: tuple[str, ...] = ("Book", "AlarmClock", "CellPhone", "KeyChain", "Pen", "Mug")
#: at most this many instances of a class in one scene (cabinet 1..3, drawer 1..2)
MAX_INSTANCES = {"Cabinet": 3, "Drawer": 2, "CounterTop": 2}

#: words used in instructions and frame labels
DISPLAY = {
    "CounterTop": "counter",
    "DiningTable": "dining table",
    "SinkBasin": "sink",
    "StoveBurner": "stove burner",
    "CoffeeMachine": "coffee maker",
    "GarbageCan": "garbage can",
    "SideTable": "side table",
    "DeskLamp": "desk lamp",
    "FloorLamp": "floor lamp",
    "AlarmClock": "alarm clock",
    "CellPhone": "cell phone",
    "KeyChain": "key chain",
}
IN_RECEPTACLES = frozenset(
    {"Cabinet", "Drawer", "Fridge", "Microwave", "SinkBasin", "GarbageCan", "CoffeeMachine"}
)


def display(cls: str) -> str:
    return DISPLAY.get(cls, cls.lower())


def plural(cls: str) -> str:
    word = display(cls)
    return word + ("es" if word.endswith(("o", "sh", "ch")) else "s")


def preposition(recep: str) -> str:
    return "in" if recep in IN_RECEPTACLES else "on"


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


# --- task types ---------------------------------------------------------------------------
#: ALFRED task type -> short name used in task names (alfred/<short>)
TASK_TYPES: dict[str, str] = {
    "pick_and_place_simple": "pick-and-place",
    "look_at_obj_in_light": "look-at-in-light",
    "pick_clean_then_place_in_recep": "pick-clean-then-place",
    "pick_heat_then_place_in_recep": "pick-heat-then-place",
    "pick_cool_then_place_in_recep": "pick-cool-then-place",
    "pick_two_obj_and_place": "pick-two-and-place",
    "pick_and_place_with_movable_recep": "pick-and-place-movable",
}
SHORT_TO_TYPE = {v: k for k, v in TASK_TYPES.items()}
TASK_TYPE_INDEX = {t: i for i, t in enumerate(TASK_TYPES)}
#: the state-changing action each "pick_X_then_place" type needs
STATE_CHANGE = {
    "pick_clean_then_place_in_recep": "clean",
    "pick_heat_then_place_in_recep": "heat",
    "pick_cool_then_place_in_recep": "cool",
}


@dataclass(frozen=True)
class TaskGoal:
    """What one task asks for, in ALFRED's pddl_params terms (any instance of a class counts)."""

    task_type: str
    object: str
    parent: str = ""
    mrecep: str = ""
    toggle: str = ""

    @property
    def short(self) -> str:
        return TASK_TYPES[self.task_type]

    @property
    def variant(self) -> str:
        parts = [self.object, self.mrecep, self.toggle or self.parent]
        return "-".join(p.lower() for p in parts if p)

    @property
    def appliance(self) -> str:
        """The receptacle the state change needs ('' for tasks without one)."""
        change = STATE_CHANGE.get(self.task_type)
        return APPLIANCE[change] if change else ""

    @property
    def room(self) -> str:
        return "bedroom" if self.task_type == "look_at_obj_in_light" else "kitchen"

    def instruction(self) -> str:
        """ALFRED-style goal directive, e.g. 'Put a cold apple on the counter.'"""
        obj, t = display(self.object), self.task_type
        where = f"{preposition(self.parent)} the {display(self.parent)}" if self.parent else ""
        if t == "look_at_obj_in_light":
            return f"Examine {article(obj)} {obj} under the {display(self.toggle)}."
        if t == "pick_two_obj_and_place":
            return f"Put two {plural(self.object)} {where}."
        if t == "pick_and_place_with_movable_recep":
            m = display(self.mrecep)
            return f"Put {article(obj)} {obj} in {article(m)} {m} and place it {where}."
        adjective = {"clean": "clean", "heat": "hot", "cool": "cold"}.get(
            STATE_CHANGE.get(t, ""), ""
        )
        noun = f"{adjective} {obj}" if adjective else obj
        return f"Put {article(noun)} {noun} {where}."

    def goal_text(self) -> str:
        """A sentence describing the goal state (for CLIP-style rewards)."""
        obj, where = display(self.object), f"{preposition(self.parent)} the {display(self.parent)}"
        t = self.task_type
        if t == "look_at_obj_in_light":
            return (
                f"a person holding {article(obj)} {obj} next to a {display(self.toggle)} that is on"
            )
        if t == "pick_two_obj_and_place":
            return f"two {plural(self.object)} {where}"
        if t == "pick_and_place_with_movable_recep":
            return f"{article(obj)} {obj} in {article(self.mrecep.lower())} {display(self.mrecep)} {where}"
        adjective = {"clean": "clean", "heat": "hot", "cool": "cold"}.get(
            STATE_CHANGE.get(t, ""), ""
        )
        noun = f"{adjective} {obj}".strip()
        return f"{article(noun)} {noun} {where}"

    def validate(self) -> None:
        """Raise ValueError if the twin cannot build this goal (unknown class, wrong affordance)."""
        t = self.task_type
        if t not in TASK_TYPES:
            raise ValueError(f"unknown ALFRED task type {t!r}; known: {', '.join(TASK_TYPES)}")
        if self.object not in OBJECT_INDEX:
            raise ValueError(
                f"unknown object class {self.object!r}; known: {', '.join(OBJECT_CLASSES)}"
            )
        if t == "look_at_obj_in_light":
            if self.toggle not in TOGGLEABLE:
                raise ValueError(f"look-at-in-light needs a lamp, got {self.toggle!r}")
            if self.object not in BEDROOM_OBJECTS:
                raise ValueError(
                    f"{self.object} is not found in the twin's bedrooms: {BEDROOM_OBJECTS}"
                )
            return
        if self.parent not in RECEP_INDEX or self.parent in NOT_RECEPTACLE:
            raise ValueError(f"unknown target receptacle {self.parent!r}")
        change = STATE_CHANGE.get(t)
        allowed = {"heat": HEATABLE, "cool": COOLABLE, "clean": CLEANABLE}.get(change or "")
        if allowed is not None and self.object not in allowed:
            raise ValueError(f"a {self.object} cannot be {change}ed in ALFRED")
        if self.parent not in KITCHEN_RECEPTACLES:
            raise ValueError(f"{self.parent} is not in the twin's kitchens: {KITCHEN_RECEPTACLES}")
        if self.object not in KITCHEN_OBJECTS:
            raise ValueError(f"{self.object} is not in the twin's kitchens: {KITCHEN_OBJECTS}")
        if change and self.parent == self.appliance:
            raise ValueError(f"the target receptacle cannot be the {self.appliance} itself")
        if t == "pick_and_place_with_movable_recep":
            if self.mrecep not in MOVABLE_RECEPTACLES:
                raise ValueError(
                    f"{self.mrecep!r} is not a movable receptacle: {sorted(MOVABLE_RECEPTACLES)}"
                )
            if self.mrecep == self.object or self.object in MOVABLE_RECEPTACLES:
                raise ValueError("the object must not itself be a movable receptacle")


#: the default variant of each task type: its goal classes
DEFAULT_GOALS: dict[str, TaskGoal] = {
    "pick_and_place_simple": TaskGoal("pick_and_place_simple", "Mug", "Shelf"),
    "look_at_obj_in_light": TaskGoal("look_at_obj_in_light", "Book", toggle="DeskLamp"),
    "pick_clean_then_place_in_recep": TaskGoal(
        "pick_clean_then_place_in_recep", "Mug", "CoffeeMachine"
    ),
    "pick_heat_then_place_in_recep": TaskGoal(
        "pick_heat_then_place_in_recep", "Potato", "DiningTable"
    ),
    "pick_cool_then_place_in_recep": TaskGoal(
        "pick_cool_then_place_in_recep", "Apple", "CounterTop"
    ),
    "pick_two_obj_and_place": TaskGoal("pick_two_obj_and_place", "Tomato", "Fridge"),
    "pick_and_place_with_movable_recep": TaskGoal(
        "pick_and_place_with_movable_recep", "Apple", parent="DiningTable", mrecep="Bowl"
    ),
}

_LOWER = {c.lower(): c for c in (*OBJECT_CLASSES, *RECEPTACLE_CLASSES)}


def parse_variant(task_type: str, variant: str) -> TaskGoal:
    """'tomato-diningtable' -> TaskGoal; movable: 'apple-bowl-diningtable'; look-at: 'book-desklamp'."""
    parts = variant.lower().split("-")
    try:
        classes = [_LOWER[p] for p in parts]
    except KeyError as err:
        raise ValueError(
            f"unknown class {err.args[0]!r} in variant {variant!r}; "
            f"classes are written in lower case without spaces, e.g. 'apple-countertop'"
        ) from None
    if task_type == "look_at_obj_in_light" and len(classes) == 2:
        goal = TaskGoal(task_type, classes[0], toggle=classes[1])
    elif task_type == "pick_and_place_with_movable_recep" and len(classes) == 3:
        goal = TaskGoal(task_type, classes[0], classes[2], mrecep=classes[1])
    elif len(classes) == 2 and task_type not in (
        "look_at_obj_in_light",
        "pick_and_place_with_movable_recep",
    ):
        goal = TaskGoal(task_type, classes[0], classes[1])
    else:
        shape = {
            "look_at_obj_in_light": "<object>-<lamp>",
            "pick_and_place_with_movable_recep": "<object>-<movable>-<receptacle>",
        }.get(task_type, "<object>-<receptacle>")
        raise ValueError(f"variant {variant!r} of {TASK_TYPES[task_type]} must look like {shape}")
    goal.validate()
    return goal
