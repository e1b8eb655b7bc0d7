"""ALFRED on AI2-THOR (`alfred-thor/<task-type>[/<variant>]`, or BACKEND=thor).

The same task and action interface as the twin: the same `Discrete` action set, observation,
action mask, subgoal progress and expert, computed on the twin's abstraction of THOR's metadata
(thor_bridge.py), while THOR executes the actions and renders the ego-centric frames. Scenes and
goals come from ALFRED's task files: set ALFRED_DATA to the json_2.1.0 directory (ALFRED_SPLIT
picks the split, default valid_seen). `reset(seed=s)` runs task file number `s mod n` of the
task type (and of the variant's classes when the name gives one).

ai2thor is imported only when an env is built: it needs `pip install ai2thor==2.1.0` (ALFRED's
pin; the `alfred-thor` extra), an X server (DISPLAY, or x_display=) and downloads its Unity
build on first start. None of that exists on the CI machine, which tests this module with a
fake controller. Snapshots are the episode's task index and action history; a frame not in the
in-memory cache is redrawn by replaying that history and then the live episode's.

`alfred-thor-v2/...` (partial=True) applies the partially observable twin's rule to the
observation: what the slots hold counts only once the agent has stood at the receptacle with
its door open (observation.py; the agent's memory of what it saw is kept across steps), and
the planner searches for what it has not seen. THOR's ego frames show only what is in view
anyway.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from PIL import Image

from envs.alfred import goals
from envs.alfred.actions import (
    N_ACTIONS,
    InvalidActionError,
    action_mask,
    decode,
    describe,
    why_invalid,
)
from envs.alfred.catalog import TaskGoal
from envs.alfred.experts import make_expert
from envs.alfred.observation import STRUCTURE, encode_observation, obs_dim, structure
from envs.alfred.thor_bridge import (
    SlotMap,
    StateChanges,
    abstract_state,
    expert_poses,
    goal_conditions,
    interaction_pose,
    thor_calls,
)
from envs.alfred.traj_data import AlfredTrajTask, find_task_files, parse_traj_data
from envs.alfred.versions import V1, TwinVersion, get_version
from envs.spec import EnvCapabilities, TaskSpec

THOR_VERSION = "2.1.0"
FRAME_SIZE = 300  # ALFRED's frames are 300 x 300
SNAPSHOT_VERSION = 2.0


class ThorUnavailableError(RuntimeError):
    """ai2thor (or its display, or ALFRED's task files) is missing; the message says what to do."""


def default_controller(
    width: int = FRAME_SIZE, height: int = FRAME_SIZE, x_display: str | None = None
) -> Any:
    """Start ai2thor's Unity controller the way ALFRED's env does (imported here, lazily)."""
    try:
        from ai2thor.controller import Controller
    except ImportError as err:
        raise ThorUnavailableError(
            "the THOR backend needs ai2thor==2.1.0 (ALFRED's pin): "
            "pip install 'vlm-feedback-bench[alfred-thor]', an X server (DISPLAY) and a one-time "
            "Unity download; or use the embedded twin (task names alfred/..., the default)"
        ) from err
    display = x_display or os.environ.get("DISPLAY", ":0").lstrip(":")
    # ai2thor 2.1.0: the constructor takes only quality/fullscreen/headless; the display and the
    # player's size go to start(), as ALFRED's own env does it
    controller = Controller(quality="MediumCloseFitShadows")
    controller.start(x_display=display, player_screen_width=width, player_screen_height=height)
    return controller


def restore_calls(task: AlfredTrajTask) -> list[dict[str, Any]]:
    """Set a THOR scene to a task file's initial state (ALFRED's restore sequence for 2.1.0)."""
    calls: list[dict[str, Any]] = [
        {
            "action": "Initialize",
            "gridSize": 0.25,
            "cameraY": 0.675,
            "renderImage": True,
            "renderDepthImage": False,
            "renderClassImage": False,
            "renderObjectImage": False,
            "visibility_distance": 1.5,
            "makeAgentsVisible": False,
        }
    ]
    if task.object_toggles:
        calls.append({"action": "SetObjectToggles", "objectToggles": task.object_toggles})
    if task.dirty_and_empty:
        calls.append(
            {"action": "SetStateOfAllObjects", "StateChange": "CanBeDirty", "forceAction": True}
        )
        calls.append(
            {"action": "SetStateOfAllObjects", "StateChange": "CanBeFilled", "forceAction": False}
        )
    calls.append({"action": "SetObjectPoses", "objectPoses": task.object_poses})
    if task.init_action:
        calls.append(dict(task.init_action))
    return calls


class ThorAlfredEnv(EnvCapabilities, gym.Env):
    """ALFRED task files on AI2-THOR behind the twin's interface (see module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}
    obs_structure = STRUCTURE

    def __init__(
        self,
        task_files: list[str | os.PathLike[str]],
        seed: int = 0,
        max_episode_steps: int = 30,
        strict: bool = False,
        controller_factory: Callable[[], Any] | None = None,
        frame_cache: int = 1024,
        partial: bool = False,
    ) -> None:
        if not task_files:
            raise ThorUnavailableError("no ALFRED task files given")
        self.task_files = [str(f) for f in task_files]
        self.max_episode_steps = max_episode_steps
        self.strict = strict
        self._factory = controller_factory or default_controller
        self._controller: Any = None
        self.partial = partial
        self.observation_space = spaces.Box(0.0, 1.0, (obs_dim(partial),), np.float32)
        self.obs_structure = structure(partial)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self.action_space.seed(seed)
        self._scene_rng = np.random.default_rng(seed)
        self._frames: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._frame_cache = frame_cache
        self.task: AlfredTrajTask | None = None
        self.task_index = -1
        self.history: list[int] = []

    # --- THOR plumbing ------------------------------------------------------------------------
    @property
    def controller(self) -> Any:
        if self._controller is None:
            self._controller = self._factory()
        return self._controller

    def _do(self, call: dict[str, Any]) -> dict[str, Any]:
        event = self.controller.step(call)
        self.event = event
        self.changes.observe(call, event.metadata)
        return event.metadata

    def _load(self, index: int) -> None:
        """Start task file `index` from its initial state."""
        self.task_index = index
        self.task = parse_traj_data(self.task_files[index])
        self.goal = self.task.goal
        self.changes = StateChanges()
        self.controller.reset(self.task.floor_plan)
        for call in restore_calls(self.task):
            meta = self._do(call)
        meta = self._do({"action": "GetReachablePositions"})
        reachable = meta.get("actionReturn") or meta.get("reachablePositions") or []
        self.slots = SlotMap.choose(meta, self.goal)
        by_id = {o["objectId"]: o for o in meta["objects"]}
        known = expert_poses(self.task.high_pddl, meta["objects"])
        self.poses = {
            rid: known.get(rid) or interaction_pose(by_id[rid]["position"], reachable)
            for rid in self.slots.receptacles
        }
        self.agent = -1
        self.steps = 0
        self.history = []
        self._seen = (0, 0)  # what the agent has looked into / seen (partial observation)
        self._sync()

    def _sync(self) -> None:
        meta = self.event.metadata
        self.state = abstract_state(meta, self.slots, self.goal, self.agent, self.changes)
        if self.partial:
            self.state.partial = True
            self.state.searched, self.state.known = self._seen
            self.state.look()
            self._seen = (self.state.searched, self.state.known)
        self._remember_frame()

    # --- gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        pick = seed if seed is not None else int(self._scene_rng.integers(2**31))
        self._load(int(pick) % len(self.task_files))
        info = self._info(0.0, None, "")
        info.update(
            task_file=self.task_files[self.task_index],
            subgoals=self.task.subgoals,
            task_desc=self.task.instructions[:1],
        )
        return encode_observation(self.state), info

    def step(self, action: Any):
        a = int(action)
        before = goals.progress(self.state)
        text = describe(self.state, a)
        reason = why_invalid(self.state, a)
        if reason is not None and self.strict:
            raise InvalidActionError(f"cannot '{text}': {reason}")
        if reason is None:
            for call in thor_calls(a, self.state, self.slots, self.event.metadata, self.poses):
                meta = self._do(call)
                if not meta.get("lastActionSuccess", False):
                    reason = f"THOR refused {call['action']}: {meta.get('errorMessage', '')}"
                    break
            else:
                verb, slot = decode(a)
                if verb == "goto":
                    self.agent = slot
        self.steps += 1
        self.history.append(a)
        self._sync()
        info = self._info(goals.progress(self.state) - before, reason, text)
        terminated = bool(info["success"])
        truncated = not terminated and self.steps >= self.max_episode_steps
        return encode_observation(self.state), float(info["gt_reward"]), terminated, truncated, info

    def _info(self, delta: float, reason: str | None, text: str) -> dict[str, Any]:
        done = goals.stage(self.state)
        total = goals.num_subgoals(self.goal)
        s, ts = goal_conditions(self.goal, self.event.metadata, self.changes)
        return {
            "success": done == total,
            "gt_reward": float(delta),
            "sparse_reward": float(done == total),
            "progress": done / total,
            "subgoals_done": done,
            "goal_conditions": s / ts,
            "action_mask": action_mask(self.state),
            "invalid_action": reason is not None,
            "invalid_reason": reason or "",
            "action_text": text,
        }

    def action_masks(self) -> np.ndarray:
        return action_mask(self.state)

    # --- frames -------------------------------------------------------------------------------
    def _remember_frame(self) -> None:
        key = self.snapshot().tobytes()
        self._frames[key] = np.asarray(self.event.frame, dtype=np.uint8)
        self._frames.move_to_end(key)
        while len(self._frames) > self._frame_cache:
            self._frames.popitem(last=False)

    @staticmethod
    def _resize(frame: np.ndarray, size: int) -> np.ndarray:
        if frame.shape[:2] == (size, size):
            return frame.copy()
        return np.asarray(
            Image.fromarray(frame).resize((size, size), Image.BILINEAR), dtype=np.uint8
        )

    def render_frame(self, size: int) -> np.ndarray:
        return self._resize(np.asarray(self.event.frame, dtype=np.uint8), size)

    def render(self) -> np.ndarray:
        return self.render_frame(FRAME_SIZE)

    def snapshot(self) -> np.ndarray:
        v = np.full(4 + self.max_episode_steps, -1.0)
        v[:4] = [SNAPSHOT_VERSION, self.task_index, len(self.history), 0.0]
        v[4 : 4 + len(self.history)] = self.history
        return v

    def render_snapshot(self, snapshot: np.ndarray, size: int) -> np.ndarray:
        key = np.asarray(snapshot, dtype=np.float64).tobytes()
        if key not in self._frames:
            self._replay(np.asarray(snapshot))
        return self._resize(self._frames[key], size)

    def _replay(self, snap: np.ndarray) -> None:
        """Redraw a state by replaying its history, then put the live episode back the same way."""
        if snap[0] != SNAPSHOT_VERSION:
            raise ValueError("not a THOR-backend snapshot")
        live_index, live_history, live_steps = self.task_index, list(self.history), self.steps
        for index, actions in (
            (int(snap[1]), [int(a) for a in snap[4 : 4 + int(snap[2])]]),
            (live_index, live_history),
        ):
            self._load(index)
            for a in actions:
                self.step(a)
        self.steps = live_steps


# --- task specs -------------------------------------------------------------------------------
def data_root() -> Path:
    root = os.environ.get("ALFRED_DATA")
    if not root:
        raise ThorUnavailableError(
            "set ALFRED_DATA to ALFRED's json_2.1.0 directory (from askforalfred/alfred's "
            "download scripts) to run alfred-thor tasks"
        )
    return Path(root) / os.environ.get("ALFRED_SPLIT", "valid_seen")


def make_thor_env(
    goal: TaskGoal,
    match_classes: bool,
    seed: int,
    max_episode_steps: int = 30,
    version: str | TwinVersion = V1,
) -> gym.Env:
    files = find_task_files(data_root(), goal, match_classes)
    if not files:
        every = find_task_files(data_root(), goal, match_classes=False)
        variants = sorted({"-".join(f.parent.parent.name.split("-")[1:4]).lower() for f in every})
        raise ThorUnavailableError(
            f"no ALFRED task files for {goal.task_type} with {goal.variant} under {data_root()}; "
            f"variants there (object-mrecep-parent): {', '.join(variants[:20]) or 'none'}"
        )
    partial = get_version(version).partial
    return ThorAlfredEnv(files, seed=seed, max_episode_steps=max_episode_steps, partial=partial)


def thor_spec(
    name: str, goal: TaskGoal, match_classes: bool = True, version: str | TwinVersion = V1
) -> TaskSpec:
    """Spec of an alfred-thor task; building it imports nothing from ai2thor. `version` sets
    the observation rule (v2: partially observable) and the episode length cap."""
    v = get_version(version)
    steps = v.max_episode_steps
    return TaskSpec(
        name=name,
        suite="alfred-thor" + ("-v2" if v.partial else ""),
        instruction=goal.instruction(),
        levels=3,
        max_episode_steps=steps,
        make_env=partial(make_thor_env, goal, match_classes, max_episode_steps=steps, version=v),
        action_kind="discrete",
        reward_frame_size=64,
        oracle_frame_size=224,
        camera={"view": "ego", "simulator": f"ai2thor {THOR_VERSION}", "frame": FRAME_SIZE},
        segment_length=0,
        goal_text=goal.goal_text(),
        make_expert=make_expert,
        backend="thor",
        description=f"ALFRED {goal.task_type} on AI2-THOR from ALFRED's task files (ALFRED_DATA)",
    )
