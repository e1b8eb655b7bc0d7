"""The scenes the paper ran: ERL-VLM's MetaWorld fork fixes its three tasks' layouts.

The reference code (github.com/tunglm2203/erlvlm) trains on a fork of MetaWorld v2 in which
drawer-open, sweep-into and soccer draw no random positions (`obj_low == obj_high`), the hand
starts next to the object, the observation hides the goal (the env's default), and the frames
show neither the robot nor the goal marker (its XML makes them transparent). `metaworld/<task>`
is that scene, built on Farama's MetaWorld v3 through the env's own task API (`set_task` with a
fixed `rand_vec`, as MetaWorld's benchmarks fix a task) and its public model attributes; no
MetaWorld file is forked. `metaworld/<task>@random` is v3's randomised scene, unchanged.

Every value below cites the fork's file and line (paths under `metaworld/envs/` there).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any

import mujoco
import numpy as np

#: the robot's root body in MetaWorld's Sawyer model: the pedestal, arm and gripper hang off it
ROBOT_ROOT_BODY = "base"


@dataclass(frozen=True)
class Layout:
    """A fixed MetaWorld scene: where things start, what the policy sees, what a frame shows."""

    #: object position at reset (the first part of v3's random-reset vector)
    obj_pos: tuple[float, float, float]
    #: hand (mocap) position the reset drives the gripper to
    hand_pos: tuple[float, float, float]
    #: goal position, for envs whose random-reset vector carries one (sweep-into, soccer)
    goal_pos: tuple[float, float, float] | None = None
    #: object-to-goal distance counted as success where the fork changed v3's threshold
    success_radius: float | None = None
    #: False: the observation's last 3 entries (the goal) are zeros, as in the fork's envs
    goal_observable: bool = False
    #: draw no robot geometry (the fork's xyz_base.xml gives every robot geom alpha 0)
    hide_robot: bool = True
    #: sites made transparent (the fork removes or hides the goal marker and the finger sites)
    hidden_sites: tuple[str, ...] = ("goal", "rightEndEffector", "leftEndEffector")
    #: materials drawn as a plain colour instead of their texture (name -> RGBA)
    plain_materials: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    #: where the values come from in the reference code
    source: str = ""

    def rand_vec(self) -> np.ndarray:
        """The vector v3's `reset_model` would otherwise draw from `_random_reset_space`."""
        parts = [self.obj_pos] + ([self.goal_pos] if self.goal_pos is not None else [])
        return np.concatenate([np.asarray(p, np.float64) for p in parts])

    def describe(self) -> str:
        goal = f", goal {self.goal_pos}" if self.goal_pos is not None else ""
        return f"object {self.obj_pos}{goal}, hand {self.hand_pos}"


_FORK = "tunglm2203/erlvlm metaworld/envs/mujoco/sawyer_xyz/v2/"

#: the paper's three tasks as the reference code ran them
REFERENCE_LAYOUTS: dict[str, Layout] = {
    "drawer-open": Layout(
        obj_pos=(0.0, 0.9, 0.0),  # sawyer_drawer_open_v2.py:21-22 (v3: x in [-0.1, 0.1])
        hand_pos=(0.0, 0.75, 0.15),  # :43 (v3: (0, 0.6, 0.2))
        source=_FORK + "sawyer_drawer_open_v2.py:21-22,43",
    ),
    "sweep-into": Layout(
        obj_pos=(0.0, 0.65, 0.02),  # sawyer_sweep_into_goal_v2.py:24-25 (v3: x, y random)
        goal_pos=(0.0, 0.84, 0.02),  # :21-22,42 (v3 too: the goal is fixed there)
        hand_pos=(0.0, 0.53, 0.05),  # :40 (v3: (0, 0.6, 0.2))
        success_radius=0.06,  # :72 (v3: 0.05)
        # assets_v2/objects/assets/block_dependencies.xml:4 textures the cube with green.png,
        # one flat colour (0, 240, 0); v3 uses a wood texture for the "green cube"
        plain_materials={"block_wood": (0.0, 240 / 255, 0.0, 1.0)},
        source=_FORK + "sawyer_sweep_into_goal_v2.py:21-25,40,72",
    ),
    "soccer": Layout(
        obj_pos=(0.0, 0.65, 0.03),  # sawyer_soccer_v2.py:26-27 (v3: x, y random)
        goal_pos=(0.0, 0.85, 0.0),  # :28-29 (v3: x, y random)
        hand_pos=(0.0, 0.56, 0.05),  # :45 (v3: (0, 0.6, 0.2))
        source=_FORK + "sawyer_soccer_v2.py:26-29,45",
    ),
}


def layout_for(short: str) -> Layout | None:
    """The fixed layout a task name means, or None for v3's randomised one.

    Raises ValueError for a name `variants.parse_variant` refuses (an unknown switch such as
    `@fixed`, or a spelling other than the canonical one).
    """
    from envs.metaworld.variants import parse_variant

    variant = parse_variant(short)
    return None if variant.random else REFERENCE_LAYOUTS.get(variant.base)


def apply_layout(env: Any, layout: Layout) -> None:
    """Fix a v3 env's scene to `layout` (call once, before the first reset that should use it)."""
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS
    from metaworld.types import Task

    vec = layout.rand_vec()
    size = env._random_reset_space.low.size
    if vec.size != size:
        raise ValueError(f"layout gives {vec.size} reset values; {type(env).__name__} takes {size}")
    # a Task names the env's class as MetaWorld's registry holds it (the goal-observable
    # variant is made on the fly and cannot be pickled)
    name, cls = next((n, c) for n, c in ALL_V3_ENVIRONMENTS.items() if isinstance(env, c))
    data = {"env_cls": cls, "rand_vec": vec, "partially_observable": not layout.goal_observable}
    # set_task drops the cached observation space when the observability changes; the
    # goal-observable constructor already dropped it, so it must be computed before
    _ = env.sawyer_observation_space
    env.set_task(Task(env_name=name, data=pickle.dumps(data)))
    env.hand_init_pos = np.asarray(layout.hand_pos, np.float64)
    _restyle(env.model, layout)


def _restyle(model: mujoco.MjModel, layout: Layout) -> None:
    """What a frame shows: transparent robot and markers, flat-coloured materials."""
    if layout.hide_robot:
        root = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, ROBOT_ROOT_BODY)
        robot = np.zeros(model.nbody, bool)
        robot[root] = True
        for b in range(root + 1, model.nbody):  # MuJoCo numbers a parent before its children
            robot[b] = robot[model.body_parentid[b]]
        model.geom_rgba[robot[model.geom_bodyid], 3] = 0.0
    for name in layout.hidden_sites:
        site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, name)
        if site >= 0:
            model.site_rgba[site, 3] = 0.0
    for name, rgba in layout.plain_materials.items():
        mat = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_MATERIAL, name)
        if mat < 0:
            raise ValueError(f"the model has no material '{name}'")
        model.mat_texid[mat] = -1
        model.mat_rgba[mat] = rgba
