"""The embedded ALFRED twin as a gymnasium Env (and the suite's `FrameEnv`).

`reset(seed=s)` builds the scene `generate_scene(goal, s)`; `reset()` without a seed draws the
next scene seed from the env's own generator (seeded by the constructor), so a run is
reproducible either way. Observation: `encode_observation` (float32, OBS_DIM). Action:
`Discrete(N_ACTIONS)` with invalid actions masked.

`version` picks the twin (envs/alfred/versions.py): "v1", the first, fully observed twin (the
default), or "v2", partially observable as in ALFWorld with more distractors; v2's observation
is longer (observation.PARTIAL_OBS_DIM) and `obs_structure` follows it.

Invalid actions. By default (`strict=False`) an invalid action is *rejected*: the state does
not change, the step still counts towards the time limit, the reward is 0 and `info` carries
`invalid_action=True` and `invalid_reason` (e.g. "apple 1 is inside the closed fridge 1; open it
first"). With `strict=True` it raises `InvalidActionError` with that reason instead.

`info` every step: success (bool), gt_reward (float, the change of progress: a dense shaped
reward whose sum over an episode is its final progress), sparse_reward (1.0 on success),
progress (fraction of plan subgoals done, ALFRED's goal-condition measure), subgoals_done,
action_mask (bool [N_ACTIONS]), invalid_action, invalid_reason, action_text. success,
gt_reward, sparse_reward, progress and subgoals_done are privileged. The episode terminates on
success and is truncated after `max_episode_steps`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.alfred import goals
from envs.alfred.actions import (
    N_ACTIONS,
    InvalidActionError,
    action_mask,
    apply,
    describe,
    why_invalid,
)
from envs.alfred.catalog import TaskGoal
from envs.alfred.observation import STRUCTURE, encode_observation, obs_dim, structure
from envs.alfred.render import draw_state
from envs.alfred.scene import SceneState, from_snapshot, generate_scene, to_snapshot
from envs.alfred.versions import TwinVersion, get_version
from envs.spec import EnvCapabilities


class AlfredTwinEnv(EnvCapabilities, gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}
    #: slot layout of observation and actions (see observation.STRUCTURE); per version
    obs_structure = STRUCTURE

    def __init__(
        self,
        goal: TaskGoal,
        seed: int = 0,
        max_episode_steps: int | None = None,
        strict: bool = False,
        render_size: int = 300,
        version: str | TwinVersion = "v1",
    ) -> None:
        goal.validate()
        self.goal = goal
        self.version = get_version(version)
        self.max_episode_steps = max_episode_steps or self.version.max_episode_steps
        self.strict = strict
        self.render_mode = "rgb_array"
        self.render_size = render_size
        dim = obs_dim(self.version.partial)
        self.observation_space = spaces.Box(0.0, 1.0, (dim,), np.float32)
        self.obs_structure = structure(self.version.partial)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self._scene_rng = np.random.default_rng(seed)
        self.action_space.seed(seed)
        self.state: SceneState = self._scene(int(self._scene_rng.integers(2**31)))
        self.steps = 0

    # --- gymnasium API ------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        scene_seed = seed if seed is not None else int(self._scene_rng.integers(2**31))
        self.state = self._scene(int(scene_seed))
        self.steps = 0
        info = self._info(0.0, None, None)
        info["scene_seed"] = int(scene_seed)
        info["subgoals"] = goals.subgoal_names(self.goal)
        return encode_observation(self.state), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = int(action)
        before = goals.progress(self.state)
        reason = why_invalid(self.state, a)
        text = describe(self.state, a)
        if reason is not None and self.strict:
            raise InvalidActionError(f"cannot '{text}': {reason}")
        if reason is None:
            apply(self.state, a)
            self.state.look()
        self.steps += 1
        after = goals.progress(self.state)
        info = self._info(after - before, reason, text)
        terminated = bool(info["success"])
        truncated = not terminated and self.steps >= self.max_episode_steps
        return encode_observation(self.state), float(info["gt_reward"]), terminated, truncated, info

    def _scene(self, scene_seed: int) -> SceneState:
        return generate_scene(self.goal, scene_seed, self.version)

    def _info(self, delta: float, reason: str | None, text: str | None) -> dict[str, Any]:
        done = goals.stage(self.state)
        success = done == goals.num_subgoals(self.goal)
        return {
            "success": success,
            "gt_reward": float(delta),
            "sparse_reward": float(success),
            "progress": done / goals.num_subgoals(self.goal),
            "subgoals_done": done,
            "action_mask": action_mask(self.state),
            "invalid_action": reason is not None,
            "invalid_reason": reason or "",
            "action_text": text or "",
        }

    def action_masks(self) -> np.ndarray:
        """Valid actions now (the MaskablePPO convention, same as info['action_mask'])."""
        return action_mask(self.state)

    def render(self) -> np.ndarray:
        return self.render_frame(self.render_size)

    # --- FrameEnv -----------------------------------------------------------------------------
    def render_frame(self, size: int) -> np.ndarray:
        return draw_state(self.state, size)

    def snapshot(self) -> np.ndarray:
        return to_snapshot(self.state)

    def render_snapshot(self, snapshot: np.ndarray, size: int) -> np.ndarray:
        return draw_state(from_snapshot(snapshot), size)

    # --- helpers ------------------------------------------------------------------------------
    @property
    def instruction(self) -> str:
        return self.goal.instruction()

    def describe_action(self, action: int) -> str:
        return describe(self.state, int(action))
