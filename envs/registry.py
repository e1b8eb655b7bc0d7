"""Task registry: names such as `metaworld/drawer-open` map to `TaskSpec`s.

Families register lazily: a *resolver* per prefix builds a spec on first use, so
`metaworld/<any-v3-env>` works without listing every MetaWorld env up front, and a family
whose simulator is missing (AI2-THOR) fails only when one of its tasks is asked for.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable

from envs.spec import TaskSpec

_TASKS: dict[str, TaskSpec] = {}
_SUITES: dict[str, list[str]] = {}
_RESOLVERS: dict[str, Callable[[str], TaskSpec | None]] = {}
_UNMEMOIZED: set[str] = set()

#: modules that register task families on import; imported on first registry access
FAMILY_MODULES: tuple[str, ...] = ("envs.metaworld", "envs.alfred", "envs.real_robot")
_loaded = False
_FAMILY_ERRORS: dict[str, str] = {}


class UnknownTaskError(KeyError):
    """Raised for a task or suite name nobody registered; the message lists close matches."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def register_task(spec: TaskSpec) -> TaskSpec:
    _TASKS[spec.name] = spec
    return spec


def register_suite(name: str, task_names: list[str]) -> None:
    _SUITES[name] = list(task_names)


def register_resolver(
    prefix: str, resolver: Callable[[str], TaskSpec | None], memoize: bool = True
) -> None:
    """`resolver(full_name)` returns a spec for names under `prefix/`, or None if unknown.

    memoize=False asks again on every lookup, for specs read from a file that can change while
    a process runs (robots.json).
    """
    _RESOLVERS[prefix] = resolver
    if not memoize:
        _UNMEMOIZED.add(prefix)


def _load_families() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in FAMILY_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            # A family whose optional dependency is absent contributes no tasks; asking for one
            # of its tasks reports why below instead of failing every other family.
            _FAMILY_ERRORS[module] = f"{module}: {err}"


def get_task(name: str) -> TaskSpec:
    _load_families()
    if name in _TASKS:
        return _TASKS[name]
    prefix = name.split("/", 1)[0]
    if prefix in _RESOLVERS:
        spec = _RESOLVERS[prefix](name)
        if spec is not None:
            if prefix not in _UNMEMOIZED:
                _TASKS[name] = spec
            return spec
    known = sorted(set(_TASKS) | set(_SUITES))
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    if _FAMILY_ERRORS:
        hint += " (Families that failed to load: " + "; ".join(_FAMILY_ERRORS.values()) + ".)"
    raise UnknownTaskError(
        f"Unknown task or suite '{name}'.{hint} "
        f"Run `python -m benchmark tasks` to list them (known: {', '.join(known) or 'none'})."
    )


def expand_tasks(names: str | list[str]) -> list[str]:
    """Turn 'metaworld,alfred/pick-cool-then-place' into concrete task names, suites expanded."""
    _load_families()
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out: list[str] = []
    for name in names:
        members = _SUITES.get(name)
        for task in members if members is not None else [name]:
            get_task(task)  # validate early, with the helpful error
            if task not in out:
                out.append(task)
    return out


def list_tasks() -> dict[str, TaskSpec]:
    _load_families()
    return dict(sorted(_TASKS.items()))


def list_suites() -> dict[str, list[str]]:
    _load_families()
    return dict(sorted(_SUITES.items()))
