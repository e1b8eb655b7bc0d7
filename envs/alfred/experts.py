"""The twin's scripted experts, as TaskSpec.make_expert hands them out: the planner's, or one
with a deliberate flaw (for the logged data's failure sources).

Its own module because the flawed experts are built on the planner: `planner` cannot import
`flaws` without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from envs.alfred.flaws import DEFAULT_DAWDLE, DEFAULT_FORK_ERROR, make_flawed_expert
from envs.alfred.planner import expert_action


def make_expert(
    env: gym.Env,
    flaw: str | None = None,
    rng: np.random.Generator | None = None,
    fork_error: float | Mapping[str, float] = DEFAULT_FORK_ERROR,
    dawdle: float = DEFAULT_DAWDLE,
) -> Callable[..., Any]:
    """TaskSpec.make_expert: a callable (obs, info) -> action reading `env`'s live state.

    `flaw` asks for the expert with one deliberate mistake instead (envs/alfred/flaws.py:
    wrong_object, wrong_appliance, one_short, forks, decoys, dawdle), made for the episode just
    reset; it returns None when it stops. `rng` draws its wrong choice; `fork_error` is the
    forks and decoys flaws' chance of a wrong turn at each fork (one for all, or per fork),
    `dawdle` the dawdle flaw's chance of a detour at each step."""
    if flaw is not None:
        rng = rng if rng is not None else np.random.default_rng()
        return make_flawed_expert(env, flaw, rng, fork_error, dawdle)
    base = env.unwrapped

    def act(obs: Any = None, info: Any = None) -> int:
        return expert_action(base.state)

    return act
