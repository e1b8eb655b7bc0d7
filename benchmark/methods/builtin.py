"""Importing this module registers the built-in methods (the registry imports it lazily)."""

import importlib.util

from benchmark.methods import preference, rating, reference  # noqa: F401

# CLIP needs `transformers` (the `clip` extra); without it the method is simply not listed
if importlib.util.find_spec("transformers") is not None:
    from benchmark.methods import clip_score  # noqa: F401
