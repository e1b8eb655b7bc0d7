"""ALFRED tasks: the embedded twin (default) and the AI2-THOR backend.

Names: `alfred/<short-type>[/<variant>]` run on the twin, e.g. `alfred/pick-cool-then-place`
(= `alfred/pick-cool-then-place/apple-countertop`), `alfred/pick-heat-then-place/egg-diningtable`.
The same names under `alfred-thor/` run on AI2-THOR (needs ai2thor 2.1.0, ALFRED's task files and
an X server; see envs/alfred/README.md); `get_alfred_task(name, backend="thor")` maps one to the
other. Suite `alfred`: the four compositional tasks (cool, heat, clean, pick-two).

Twin versions (versions.py): the prefixes above are v1, the first twin. `alfred-v2/...` (suite
`alfred-v2`) is the partially observable twin with more distractors, and `alfred-thor-v2/...` runs
THOR with the same observation rule; `get_alfred_task(name, backend, version="v2")` picks one.
Importing this package never imports ai2thor.
"""

from __future__ import annotations

from functools import partial

import gymnasium as gym

from envs.alfred.catalog import DEFAULT_GOALS, SHORT_TO_TYPE, TASK_TYPES, TaskGoal, parse_variant
from envs.alfred.experts import make_expert
from envs.alfred.goals import subgoal_names
from envs.alfred.twin import AlfredTwinEnv
from envs.alfred.versions import V1, V2, TwinVersion, get_version
from envs.registry import register_resolver, register_suite, register_task
from envs.spec import TaskSpec

#: rating levels: the paper rates ALFRED trajectories as Bad / Average / Good
DEFAULT_LEVELS = 3
MAX_EPISODE_STEPS = V1.max_episode_steps
_SUITE_TYPES = [
    "pick-cool-then-place",
    "pick-heat-then-place",
    "pick-clean-then-place",
    "pick-two-and-place",
]
SUITE = [f"alfred/{t}" for t in _SUITE_TYPES]
SUITE_V2 = [f"alfred-v2/{t}" for t in _SUITE_TYPES]
BACKENDS = ("twin", "thor")
#: name prefix -> (backend, twin version)
PREFIXES: dict[str, tuple[str, TwinVersion]] = {
    "alfred": ("twin", V1),
    "alfred-v2": ("twin", V2),
    "alfred-thor": ("thor", V1),
    "alfred-thor-v2": ("thor", V2),
}


def prefix_for(backend: str, version: str | TwinVersion) -> str:
    """The task-name prefix of (backend, version): ('thor', 'v2') -> 'alfred-thor-v2'."""
    v = get_version(version)
    return next(p for p, (b, w) in PREFIXES.items() if b == backend and w == v)


def make_twin_env(
    goal: TaskGoal,
    seed: int,
    max_episode_steps: int | None = None,
    version: str | TwinVersion = "v1",
) -> gym.Env:
    return AlfredTwinEnv(goal, seed=seed, max_episode_steps=max_episode_steps, version=version)


def parse_name(name: str) -> tuple[str, TaskGoal]:
    """'alfred/pick-cool-then-place[/apple-countertop]' -> (prefix, goal); ValueError if unknown."""
    parts = name.split("/")
    if len(parts) not in (2, 3) or parts[0] not in PREFIXES:
        raise ValueError(f"not an ALFRED task name: {name!r}")
    short = parts[1]
    if short not in SHORT_TO_TYPE:
        raise ValueError(
            f"unknown ALFRED task type {short!r}; known: {', '.join(TASK_TYPES.values())}"
        )
    task_type = SHORT_TO_TYPE[short]
    goal = parse_variant(task_type, parts[2]) if len(parts) == 3 else DEFAULT_GOALS[task_type]
    return parts[0], goal


def thor_goal(task_type: str, variant: str) -> TaskGoal:
    """A THOR variant may name any ALFRED class (e.g. 'butterknife-countertop'): THOR decides
    what exists, so only the shape is checked here; task files are matched case-insensitively."""
    parts = variant.split("-")
    shape = {"look_at_obj_in_light": 2, "pick_and_place_with_movable_recep": 3}.get(task_type, 2)
    if len(parts) != shape or not all(p.isalpha() for p in parts):
        raise ValueError(
            f"variant {variant!r} of {TASK_TYPES[task_type]} needs {shape} class names"
        )
    if task_type == "look_at_obj_in_light":
        return TaskGoal(task_type, parts[0], toggle=parts[1])
    if shape == 3:
        return TaskGoal(task_type, parts[0], parent=parts[2], mrecep=parts[1])
    return TaskGoal(task_type, parts[0], parent=parts[1])


def twin_spec(name: str, goal: TaskGoal, version: str | TwinVersion = "v1") -> TaskSpec:
    v = get_version(version)
    return TaskSpec(
        name=name,
        suite=prefix_for("twin", v),
        instruction=goal.instruction(),
        levels=DEFAULT_LEVELS,
        max_episode_steps=v.max_episode_steps,
        make_env=partial(make_twin_env, goal, version=v),
        action_kind="discrete",
        reward_frame_size=64,
        oracle_frame_size=224,
        camera={
            "view": "top-down schematic",
            "renderer": "PIL",
            "grid": "4x3",
            "text_from_px": 128,
            **({"twin": v.name, "shows": "only what the agent has seen"} if v.partial else {}),
        },
        segment_length=0,
        goal_text=goal.goal_text(),
        make_expert=make_expert,
        backend="twin",
        description=f"ALFRED {goal.task_type} on the embedded twin"
        + (f" {v.name} (partially observable)" if v.partial else "")
        + "; plan: "
        + ", ".join(subgoal_names(goal)),
        offline_mix=dict(v.offline_mix) if v.offline_mix else None,
    )


def _resolve(name: str) -> TaskSpec | None:
    """None for an unknown task type (the registry then suggests close names); a bad variant
    raises ValueError saying what is wrong with it."""
    parts = name.split("/")
    if len(parts) not in (2, 3) or parts[1] not in SHORT_TO_TYPE or parts[0] not in PREFIXES:
        return None
    backend, version = PREFIXES[parts[0]]
    if backend == "thor":
        from envs.alfred.thor import thor_spec  # imports no ai2thor

        task_type = SHORT_TO_TYPE[parts[1]]
        goal = thor_goal(task_type, parts[2]) if len(parts) == 3 else DEFAULT_GOALS[task_type]
        return thor_spec(name, goal, version=version)
    return twin_spec(name, parse_name(name)[1], version)


def get_alfred_task(
    name: str, backend: str = "twin", version: str | TwinVersion | None = None
) -> TaskSpec:
    """The spec of an ALFRED task on a backend: 'alfred/x' with backend='thor' -> 'alfred-thor/x'.
    The twin version is the name's ('alfred-v2/x' is v2) unless `version` says otherwise."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown ALFRED backend {backend!r}; choose one of {BACKENDS}")
    prefix, rest = name.split("/", 1)
    if prefix not in PREFIXES:
        raise ValueError(f"not an ALFRED task name: {name!r}")
    full = f"{prefix_for(backend, version or PREFIXES[prefix][1])}/{rest}"
    spec = _resolve(full)
    if spec is None:
        parse_name(full)  # raises with the reason
    return spec  # type: ignore[return-value]


for _type, _short in TASK_TYPES.items():
    register_task(twin_spec(f"alfred/{_short}", DEFAULT_GOALS[_type]))
    register_task(twin_spec(f"alfred-v2/{_short}", DEFAULT_GOALS[_type], V2))
register_suite("alfred", SUITE)
register_suite("alfred-v2", SUITE_V2)
for _prefix in PREFIXES:
    register_resolver(_prefix, _resolve)

__all__ = [
    "SUITE_V2",
    "AlfredTwinEnv",
    "TaskGoal",
    "get_alfred_task",
    "make_twin_env",
    "parse_name",
    "twin_spec",
]
