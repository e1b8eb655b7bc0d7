"""MetaWorld v3 tasks (Farama's `metaworld`, unforked) for the suite.

`metaworld/<env-name>` works for every v3 single-task env; the paper's three tasks carry the
instructions, rating levels and teacher accuracies from ERL-VLM and, under their plain names,
the reference code's fixed layouts (layouts.py); `metaworld/<env-name>@random` is v3's
randomised layout. Suite `metaworld` = the paper's three tasks on the reference layouts.
Further switches in the name draw frames as the reference code did (variants.py):
`@camera=reference`, `@effects=on`, `@reward_frame_size=224`.
"""

from __future__ import annotations

from envs.metaworld.tasks import PAPER_TASKS, resolve, spec_for
from envs.registry import register_resolver, register_suite, register_task

for _name in PAPER_TASKS:
    register_task(spec_for(_name))
register_suite("metaworld", [f"metaworld/{n}" for n in PAPER_TASKS])
register_resolver("metaworld", resolve)

__all__ = ["PAPER_TASKS", "resolve", "spec_for"]
