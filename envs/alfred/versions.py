"""Versions of the ALFRED twin: what differs between the first twin and the harder one.

v1 (task names `alfred/...`) is the twin the first ALFRED board ran on: the observation shows
every object, even inside closed receptacles. v2 (`alfred-v2/...`) follows ALFWorld's rule that
the agent knows only what it has seen (a closed receptacle hides its contents until opened, and
the contents of any receptacle are seen by standing at it), has more receptacles and objects,
and hides the goal's object behind a door more often, so finding it is part of the task. Each
version also names the logged-data mix its offline runs default to (benchmark/loops/offline_data.py):
the first board's mix had 35 % successful episodes, enough for a success-only reward; v2's
default is failure-heavy (see docs/alfred.md for the measurement behind it).

A version is a value, not a flag spread over the code: the scene generator, the observation,
the frames and the planner read its fields, and v1's fields reproduce the first twin exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TwinVersion:
    name: str
    #: ALFWorld's perception rule: the agent knows only the receptacles it has looked into
    partial: bool
    #: receptacles per scene, inclusive range (the twin has 12 receptacle slots)
    receptacles: tuple[int, int]
    #: least number of objects per scene (at most 10 object slots)
    min_objects: int
    #: chance that each goal object starts behind a door (cabinet, drawer, ...); 0 = as placed
    hidden_goal: float
    #: episode length cap of the task (the expert's longest plan must fit well inside it)
    max_episode_steps: int
    #: default logged-data mix of offline runs (source -> share); None = the suite's old default
    offline_mix: dict[str, float] | None = field(default=None, hash=False)


V1 = TwinVersion(
    name="v1",
    partial=False,
    receptacles=(7, 12),
    min_objects=4,
    hidden_goal=0.0,
    max_episode_steps=30,
)
V2 = TwinVersion(
    name="v2",
    partial=True,
    receptacles=(10, 12),
    min_objects=7,
    hidden_goal=0.5,
    max_episode_steps=40,
    offline_mix={
        "expert": 0.02,
        "noisy": 0.1,
        "random": 0.28,
        "wrong_object": 0.2,
        "wrong_appliance": 0.2,
        "one_short": 0.2,
    },
)
VERSIONS: dict[str, TwinVersion] = {v.name: v for v in (V1, V2)}


def get_version(name: str | TwinVersion) -> TwinVersion:
    """A version by name ('v1', 'v2'); ValueError naming the known ones otherwise."""
    if isinstance(name, TwinVersion):
        return name
    if name not in VERSIONS:
        raise ValueError(
            f"unknown ALFRED twin version {name!r}; choose one of {', '.join(VERSIONS)}"
        )
    return VERSIONS[name]
