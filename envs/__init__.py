"""Tasks for the suite: MetaWorld, the ALFRED twin (and AI2-THOR), and real-robot clients."""

import os

# MuJoCo picks its GL backend at first import: headless EGL unless the user chose otherwise.
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])

from envs.registry import (
    UnknownTaskError,
    expand_tasks,
    get_task,
    list_suites,
    list_tasks,
    register_resolver,
    register_suite,
    register_task,
)
from envs.spec import PRIVILEGED_INFO_KEYS, FrameEnv, TaskSpec

__all__ = [
    "PRIVILEGED_INFO_KEYS",
    "FrameEnv",
    "TaskSpec",
    "UnknownTaskError",
    "expand_tasks",
    "get_task",
    "list_suites",
    "list_tasks",
    "register_resolver",
    "register_suite",
    "register_task",
]
