"""Registry of reward methods by name, with entry-point discovery for external packages."""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points

from benchmark.methods.base import RewardMethod

ENTRY_POINT_GROUP = "vlmbench.methods"
_METHODS: dict[str, type[RewardMethod]] = {}
_discovered = False


def register_method(cls: type[RewardMethod]) -> type[RewardMethod]:
    """Class decorator: make a method available by its `name`."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} needs a non-empty `name` to be registered")
    _METHODS[cls.name] = cls
    return cls


def load_method_class(ref: str) -> type[RewardMethod]:
    """Import 'package.module:Class' (what a leaderboard submission points at)."""
    module_name, _, attr = ref.partition(":")
    if not attr:
        raise ValueError(f"Method reference '{ref}' must look like 'package.module:ClassName'")
    cls = getattr(importlib.import_module(module_name), attr, None)
    if not (isinstance(cls, type) and issubclass(cls, RewardMethod)):
        raise TypeError(f"'{ref}' is not a RewardMethod subclass")
    return cls


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    importlib.import_module("benchmark.methods.builtin")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        _METHODS.setdefault(getattr(cls, "name", "") or ep.name, cls)


def get_method(name: str) -> type[RewardMethod]:
    """A registered name ('erl-vlm') or an import reference ('pkg.mod:Class')."""
    if ":" in name:
        return load_method_class(name)
    _discover()
    if name not in _METHODS:
        close = difflib.get_close_matches(name, list(_METHODS), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(
            f"Unknown method '{name}'.{hint} Known: {', '.join(sorted(_METHODS))}. "
            "A new method is a RewardMethod subclass registered with @register_method "
            "or given as 'package.module:Class'."
        )
    return _METHODS[name]


def list_methods() -> dict[str, type[RewardMethod]]:
    _discover()
    return dict(sorted(_METHODS.items()))
