"""Tasks for the suite: MetaWorld, the ALFRED twin (and AI2-THOR), and real-robot clients."""

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
