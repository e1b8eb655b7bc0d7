"""Task specs: the paper's three tasks and a generic spec for any other MetaWorld v3 env.

`metaworld/drawer-open`, `metaworld/sweep-into` and `metaworld/soccer` are the reference code's
fixed layouts (layouts.py), the scenes the paper's numbers come from; `metaworld/<task>@random`
is MetaWorld v3's randomised layout, for these three and every other v3 env (whose plain name
means the same thing: only the paper's three tasks have a fixed layout). The other switches in
a name (variants.py: `@camera=reference`, `@effects=on`, `@reward_frame_size=N`) change how
frames are drawn and how large the reward model's frames are.
"""

from __future__ import annotations

from functools import partial

from envs.metaworld.cameras import REFERENCE_CAMERAS
from envs.metaworld.env import MetaWorldEnv, expert_for
from envs.metaworld.layouts import Layout, layout_for
from envs.metaworld.variants import Variant, parse_variant
from envs.registry import UnknownTaskError
from envs.spec import TaskSpec

#: a corner view that frames the table, the arm and the task objects
DEFAULT_CAMERA = {
    "lookat": [0.0, 0.70, 0.10],
    "distance": 1.25,
    "azimuth": 140.0,
    "elevation": -28.0,
}

#: ERL-VLM's MetaWorld tasks: instruction, rating levels (reference scripts), teacher accuracy
#: (the paper's measured VLM rating accuracy) and a camera framing the target object.
PAPER_TASKS: dict[str, dict] = {
    "drawer-open": {
        "instruction": "open the drawer",
        "goal_text": "a robot arm has pulled the drawer fully open",
        "levels": 3,
        "teacher_accuracy": 0.65,
        "camera": {
            "lookat": [0.0, 0.78, 0.08],
            "distance": 1.05,
            "azimuth": 135.0,
            "elevation": -30.0,
        },
    },
    "sweep-into": {
        "instruction": "place the green cube so that it lies on the square hole",
        "goal_text": "the green cube lies on the square hole",
        "levels": 2,
        "teacher_accuracy": 0.90,
        "camera": {
            "lookat": [0.05, 0.70, 0.02],
            "distance": 0.95,
            "azimuth": 150.0,
            "elevation": -45.0,
        },
    },
    "soccer": {
        "instruction": "place the soccer ball so that it lies inside the goal",
        "goal_text": "the soccer ball lies inside the goal",
        "levels": 2,
        "teacher_accuracy": 0.668,
        "camera": {
            "lookat": [0.0, 0.75, 0.05],
            "distance": 1.15,
            "azimuth": 150.0,
            "elevation": -35.0,
        },
    },
}


def _make(
    env_name: str, camera: dict, max_steps: int, layout: Layout | None, seed: int
) -> MetaWorldEnv:
    return MetaWorldEnv(env_name, camera, max_episode_steps=max_steps, seed=seed, layout=layout)


def _camera(variant: Variant, info: dict) -> dict:
    """The task's camera record: how its frames are drawn (the env renders from it)."""
    if variant.camera == "reference":
        camera = REFERENCE_CAMERAS[variant.base].settings()
    else:
        camera = {"type": "free", **info.get("camera", DEFAULT_CAMERA)}
    if variant.effects:
        camera["effects"] = True
    return camera


def _describe(variant: Variant, camera: dict) -> str:
    parts = []
    if variant.camera == "reference":
        flip = ", flipped top-bottom" if camera["flip"] else ""
        parts.append(f"the reference's camera {camera['name']}{flip} ({camera['source']})")
    if variant.effects:
        parts.append("MetaWorld's default rendering effects")
    if variant.reward_frame_size != TaskSpec.reward_frame_size:
        parts.append(f"{variant.reward_frame_size}-px frames for the reward model")
    return "".join(f"; {p}" for p in parts)


def spec_for(short: str, overrides: dict | None = None) -> TaskSpec:
    """Spec for `metaworld/<short>` (`<task>` plus the switches of variants.py, e.g.
    `<task>@random`); unknown tasks get a generic instruction from their name. Raises
    ValueError for an unknown switch or a non-canonical spelling."""
    variant = parse_variant(short)
    base = variant.base
    layout = layout_for(short)
    info = {**PAPER_TASKS.get(base, {}), **(overrides or {})}
    env_name = f"{base}-v3"
    camera = _camera(variant, info)
    words = base.replace("-", " ")
    max_steps = 500
    scene = (
        f"reference layout ({layout.describe()}; {layout.source})"
        if layout is not None
        else "randomised layout"
    )
    return TaskSpec(
        name=f"metaworld/{short}",
        suite="metaworld",
        instruction=info.get("instruction", f"complete the task: {words}"),
        levels=info.get("levels", 3),
        max_episode_steps=max_steps,
        make_env=partial(_make, env_name, camera, max_steps, layout),
        reward_frame_size=variant.reward_frame_size,
        camera=camera,
        segment_length=1,
        goal_text=info.get("goal_text", f"the robot has completed the task: {words}"),
        teacher_accuracy=info.get("teacher_accuracy", 0.7),
        make_expert=expert_for,
        backend="mujoco",
        description=f"MetaWorld v3 {env_name}, {scene}{_describe(variant, camera)}",
    )


def resolve(name: str) -> TaskSpec | None:
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS

    short = name.split("/", 1)[1] if "/" in name else name
    base = short.split("@", 1)[0]
    if f"{base}-v3" not in ALL_V3_ENVIRONMENTS:
        return None
    try:
        return spec_for(short)
    except ValueError as err:  # a switch the name gets wrong: say which and how to write it
        raise UnknownTaskError(f"Unknown task '{name}': {err}") from None
