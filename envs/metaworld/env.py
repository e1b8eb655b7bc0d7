"""A MetaWorld v3 task as the suite's gymnasium Env (state for the policy, frames on demand).

Resets are reproducible: with v3's randomised layout `reset(seed=k)` draws the object and goal
positions from `k`; with a fixed `Layout` (layouts.py) every reset starts from the same scene.
Either way the same seed and actions give the same states and byte-identical frames on the
same stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from envs.metaworld.layouts import Layout, apply_layout
from envs.metaworld.render import FastRenderer
from envs.spec import EnvCapabilities


class MetaWorldEnv(EnvCapabilities, gym.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        env_name: str,
        camera: Mapping[str, Any],
        max_episode_steps: int = 500,
        seed: int = 0,
        render_size: int = 224,
        layout: Layout | None = None,
    ) -> None:
        from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE

        key = f"{env_name}-goal-observable"
        if key not in ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE:
            raise KeyError(f"'{env_name}' is not a MetaWorld v3 environment")
        self._env = ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE[key](seed=seed)
        self.layout = layout
        if layout is None:
            self._env._freeze_rand_vec = False  # draw a new layout at each seeded reset
            self._env.seeded_rand_vec = True
        else:
            apply_layout(self._env, layout)
        self._env.max_path_length = max_episode_steps
        self.env_name = env_name
        self.max_episode_steps = max_episode_steps
        self.render_size = render_size
        self.model: mujoco.MjModel = self._env.model
        self.data: mujoco.MjData = self._env.data
        self._scratch = mujoco.MjData(self.model)
        self._renderer = FastRenderer(self.model, camera)
        low, high = self._env.observation_space.low, self._env.observation_space.high
        self.observation_space = gym.spaces.Box(low.astype(np.float32), high.astype(np.float32))
        self.action_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        #: object-to-goal distance at reset; None where the env reports a constant 0 instead of a
        #: distance (door-open, box-close, hammer, assembly, disassemble in MetaWorld v3)
        self._start_dist: float | None = None
        self._steps = 0
        self._seed = seed

    # --- gymnasium ------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._env.seed(self._seed if seed is None else seed)
        self._env.reset()
        obs = self._refreshed_reset_obs()
        self._steps = 0
        _, info = self._env.evaluate_state(obs, np.zeros(4, np.float32))
        start = float(info.get("obj_to_target", 0.0))
        self._start_dist = start if start > 1e-6 else None
        return obs.astype(np.float32), {}

    def _refreshed_reset_obs(self) -> np.ndarray:
        """The first observation, computed after the reset's last change to the scene.

        MetaWorld v3's `reset_model` moves task bodies (the drawer, window, faucet, lever, dial)
        after its last physics step and reads positions before any recomputation, so its first
        observation, the first frame and the start distance the progress is measured from
        showed the previous episode's layout. `mj_forward` recomputes positions without moving
        time (qpos and qvel are unchanged); the observation is then stacked as reset stacks it.
        """
        mujoco.mj_forward(self.model, self.data)
        env = self._env
        env._prev_obs = env._get_curr_obs_combined_no_goal()  # reset stacks the state twice
        return env._get_obs().astype(np.float64)

    def step(self, action: np.ndarray):
        action = np.clip(np.asarray(action, np.float32), -1.0, 1.0)
        obs, reward, _, truncated, info = self._env.step(action)
        self._steps += 1
        success = bool(info["success"])
        radius = self.layout.success_radius if self.layout is not None else None
        if radius is not None:  # the reference's threshold on v3's own object-to-goal distance
            success = float(info["obj_to_target"]) <= radius
        out = {
            "success": success,
            "gt_reward": float(reward),
            "progress": self._progress(info, success, float(reward)),
            # privileged like progress: what the camera sees (gripper, object xyz), for teachers
            # whose errors depend on the view (oracle_cache.teachers)
            "view": [float(v) for v in (*obs[0:3], *obs[4:7])],
        }
        truncated = truncated or self._steps >= self.max_episode_steps
        return obs.astype(np.float32), float(reward), False, truncated, out

    def _progress(self, info: Mapping[str, Any], success: bool, reward: float) -> float:
        """Privileged task progress in [0, 1]: how much of the start-to-goal distance is covered.

        Tasks that report no distance fall back to the staged dense reward (at most 10 in v3):
        dividing by a zero start distance would call every state 99 % done.
        """
        if success:
            return 1.0
        if self._start_dist is None:
            return float(np.clip(reward / 10.0, 0.0, 0.99))
        d = float(info.get("obj_to_target", self._start_dist))
        return float(np.clip(1.0 - d / self._start_dist, 0.0, 0.99))

    # --- FrameEnv -----------------------------------------------------------------------------
    def render_frame(self, size: int | None = None) -> np.ndarray:
        return self._renderer.render(self.data, size or self.render_size)

    def render(self) -> np.ndarray:
        return self.render_frame(self.render_size)

    def snapshot(self) -> np.ndarray:
        """Joint state, mocap and the layout (body and site positions set at reset)."""
        m, d = self.model, self.data
        return np.concatenate(
            [
                d.qpos,
                d.qvel,
                d.mocap_pos.ravel(),
                d.mocap_quat.ravel(),
                m.body_pos.ravel(),
                m.site_pos.ravel(),
            ]
        ).astype(np.float64)

    def render_snapshot(self, snapshot: np.ndarray, size: int) -> np.ndarray:
        m, s = self.model, self._scratch
        parts = np.split(snapshot, np.cumsum([m.nq, m.nv, 3 * m.nmocap, 4 * m.nmocap, 3 * m.nbody]))
        qpos, qvel, mpos, mquat, body_pos, site_pos = parts
        saved_body, saved_site = m.body_pos.copy(), m.site_pos.copy()
        try:
            m.body_pos[:] = body_pos.reshape(-1, 3)
            m.site_pos[:] = site_pos.reshape(-1, 3)
            s.qpos[:], s.qvel[:] = qpos, qvel
            s.mocap_pos[:] = mpos.reshape(-1, 3)
            s.mocap_quat[:] = mquat.reshape(-1, 4)
            mujoco.mj_forward(m, s)
            return self._renderer.render(s, size)
        finally:
            m.body_pos[:], m.site_pos[:] = saved_body, saved_site

    def close(self) -> None:
        self._renderer.close()
        self._env.close()


def expert_for(env: MetaWorldEnv):
    """MetaWorld's own scripted policy for this task (code we did not write), as obs -> action."""
    import importlib

    import metaworld.policies as policies

    camel = "".join(p.capitalize() for p in env.env_name.split("-"))
    name = f"Sawyer{camel}Policy"
    cls = getattr(policies, name, None)
    if cls is None:
        mod = importlib.import_module(
            f"metaworld.policies.sawyer_{env.env_name.replace('-', '_')}_policy"
        )
        cls = next(v for k, v in vars(mod).items() if k.endswith("Policy") and k != "Policy")
    policy = cls()
    hidden_goal = getattr(env, "layout", None) is not None and not env.layout.goal_observable

    def act(obs: np.ndarray, info: Any = None) -> np.ndarray:
        if hidden_goal:  # the expert is privileged: it reads the goal the observation hides
            obs = np.array(obs, np.float64)
            obs[-3:] = env._env._get_pos_goal()
        return np.clip(policy.get_action(obs), -1, 1).astype(np.float32)

    return act
