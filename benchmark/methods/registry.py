"""Reward methods by name: a static table of the built-ins, plus plug-ins.

The built-ins are a name -> "module:Class" table (as lm-evaluation-harness maps model names),
so listing names imports nothing and the method modules never import the registry. External
packages add names through an entry point in the `vlmbench.methods` group, a script through
`register_method`, and anyone can name a class directly as "package.module:Class".
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from importlib.metadata import entry_points

from benchmark.methods.base import RewardMethod

ENTRY_POINT_GROUP = "vlmbench.methods"

#: the built-in methods; a new one is one module plus one line here
BUILTIN: dict[str, str] = {
    "erl-vlm": "benchmark.methods.rating:ERLVLM",
    "rbrl": "benchmark.methods.rating:RbRL",
    "rl-vlm-f": "benchmark.methods.preference:RLVLMF",
    "gt-reward": "benchmark.methods.reference:GroundTruthReward",
    "sparse": "benchmark.methods.reference:SparseReward",
    "clip-score": "benchmark.methods.clip_score:ClipScore",
}
#: built-ins that need an optional extra; without it they are not listed
NEEDS: dict[str, str] = {"clip-score": "transformers"}

_REGISTERED: dict[str, str | type[RewardMethod]] = {}


def register_method(cls: type[RewardMethod]) -> type[RewardMethod]:
    """Class decorator for plug-ins: make a method available by its `name`."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} needs a non-empty `name` to be registered")
    _REGISTERED[cls.name] = cls
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


def _table() -> dict[str, str | type[RewardMethod]]:
    """Every known name: built-ins whose extras are installed, entry points, registrations."""
    table: dict[str, str | type[RewardMethod]] = {
        name: ref
        for name, ref in BUILTIN.items()
        if name not in NEEDS or importlib.util.find_spec(NEEDS[name]) is not None
    }
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        table.setdefault(ep.name, ep.value)
    table.update(_REGISTERED)
    return table


def _load(entry: str | type[RewardMethod]) -> type[RewardMethod]:
    return entry if isinstance(entry, type) else load_method_class(entry)


def get_method(name: str) -> type[RewardMethod]:
    """A registered name ('erl-vlm') or an import reference ('pkg.mod:Class')."""
    if ":" in name:
        return load_method_class(name)
    table = _table()
    if name not in table:
        close = difflib.get_close_matches(name, list(table), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise KeyError(
            f"Unknown method '{name}'.{hint} Known: {', '.join(sorted(table))}. "
            "A new method is a RewardMethod subclass given as 'package.module:Class', "
            "or named by an entry point in the 'vlmbench.methods' group."
        )
    return _load(table[name])


def list_methods() -> dict[str, type[RewardMethod]]:
    return {name: _load(entry) for name, entry in sorted(_table().items())}
