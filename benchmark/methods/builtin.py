"""Importing this module registers the built-in methods (the registry imports it lazily)."""

from benchmark.methods import preference, rating, reference  # noqa: F401

try:  # CLIP needs `transformers` (the `clip` extra); without it the method is simply absent
    from benchmark.methods import clip_score  # noqa: F401
except ImportError:
    pass
