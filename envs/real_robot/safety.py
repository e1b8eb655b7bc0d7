"""Server-side action safety: what the robot is allowed to do, whatever the client sends.

The filter runs on the robot's machine, in front of the adapter, so a buggy policy, a stale
client or a corrupted packet can never command the arm outside its configured limits. Three
outcomes per action:

* refused (NaN/inf, wrong shape or dtype): the robot is not moved and the step errors;
* clipped (outside the action box, a step longer than `max_step`, a target outside the
  workspace box): the robot moves by the clipped action and the reply lists what was changed;
* passed unchanged.

Every refusal and clip is logged with its reason on the `envs.real_robot.safety` logger.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("envs.real_robot.safety")


class SafetyRefusal(ValueError):
    """An action the server will not execute; the message is the logged reason."""


@dataclass(frozen=True)
class SafetyConfig:
    """Limits a user fills in for their robot (see docs/plugging-in-your-robot.md).

    Actions are `action_dim` floats. `position_dims` name the entries that are Cartesian
    end-effector displacements, in units of `position_scale` metres per unit action; the
    workspace box and `max_step` apply to those. Leave `workspace_low/high` empty only for a
    simulated robot.
    """

    action_dim: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    #: indices of the action that move the end effector in x, y, z
    position_dims: tuple[int, ...] = (0, 1, 2)
    #: metres of end-effector motion per unit of action along each position dim
    position_scale: float = 0.01
    #: longest allowed end-effector displacement per step, metres (L2 over position dims)
    max_step: float = 0.01
    #: end-effector workspace box, metres, in the frame the adapter reports `ee_position` in
    workspace_low: tuple[float, ...] = ()
    workspace_high: tuple[float, ...] = ()
    #: stop the robot when no command arrives for this long during an episode, seconds
    watchdog_s: float = 1.0
    notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.action_low) != self.action_dim or len(self.action_high) != self.action_dim:
            raise ValueError(
                f"action_low/high need {self.action_dim} entries each "
                f"(got {len(self.action_low)} and {len(self.action_high)})"
            )
        if any(lo > hi for lo, hi in zip(self.action_low, self.action_high, strict=True)):
            raise ValueError("action_low must be <= action_high in every dimension")
        if any(not 0 <= d < self.action_dim for d in self.position_dims):
            raise ValueError(f"position_dims {self.position_dims} outside 0..{self.action_dim - 1}")
        if bool(self.workspace_low) != bool(self.workspace_high):
            raise ValueError("give both workspace_low and workspace_high, or neither")
        if self.workspace_low and not (
            len(self.workspace_low) == len(self.workspace_high) == len(self.position_dims)
        ):
            raise ValueError("workspace_low/high need one entry per position dim")
        if self.max_step <= 0 or self.position_scale <= 0 or self.watchdog_s <= 0:
            raise ValueError("max_step, position_scale and watchdog_s must be positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SafetyConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown safety setting(s) {unknown}; valid: {sorted(known)}")
        tuples = ("action_low", "action_high", "position_dims", "workspace_low", "workspace_high")
        fixed = {k: tuple(v) if k in tuples else v for k, v in data.items()}
        return cls(**fixed)

    @classmethod
    def load(cls, path: str | Path) -> SafetyConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))


class SafetyFilter:
    """Applies a SafetyConfig to each incoming action and counts what it did."""

    def __init__(self, config: SafetyConfig) -> None:
        self.config = config
        self.low = np.asarray(config.action_low, np.float64)
        self.high = np.asarray(config.action_high, np.float64)
        self.pos = np.asarray(config.position_dims, int)
        self.ws_low = np.asarray(config.workspace_low, np.float64) if config.workspace_low else None
        self.ws_high = (
            np.asarray(config.workspace_high, np.float64) if config.workspace_high else None
        )
        self.counts: Counter[str] = Counter()

    def refuse(self, reason: str) -> SafetyRefusal:
        self.counts["refused"] += 1
        log.warning("refused action: %s", reason)
        return SafetyRefusal(reason)

    def check(self, action: Any, ee_position: np.ndarray | None) -> tuple[np.ndarray, list[str]]:
        """Return the action to execute and the list of clips applied, or raise SafetyRefusal."""
        try:
            a = np.asarray(action, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise self.refuse(f"action is not numeric: {err}") from err
        if a.shape != (self.config.action_dim,):
            raise self.refuse(
                f"action has shape {a.shape}; this robot takes ({self.config.action_dim},)"
            )
        if not np.all(np.isfinite(a)):
            raise self.refuse(f"action contains NaN or inf: {a.tolist()}")
        clips: list[str] = []
        boxed = np.clip(a, self.low, self.high)
        if not np.array_equal(boxed, a):
            dims = np.flatnonzero(boxed != a).tolist()
            clips.append(f"action outside its box in dims {dims}")
        a = boxed
        if self.pos.size:
            scale = self.config.position_scale
            delta = a[self.pos] * scale
            norm = float(np.linalg.norm(delta))
            if norm > self.config.max_step:
                delta *= self.config.max_step / norm
                clips.append(f"step of {norm:.4f} m shortened to max_step {self.config.max_step} m")
            if self.ws_low is not None:
                if ee_position is None:
                    raise self.refuse(
                        "a workspace box is configured but the adapter reported no ee_position"
                    )
                ee = np.asarray(ee_position, np.float64)
                target = ee + delta
                inside = np.clip(target, self.ws_low, self.ws_high)
                if not np.allclose(inside, target, rtol=0, atol=1e-12):
                    # an end effector already outside (after a collision, at start) may only
                    # move back towards the box, never further out
                    inside = np.where(
                        (ee < self.ws_low) | (ee > self.ws_high),
                        np.clip(target, np.minimum(ee, self.ws_low), np.maximum(ee, self.ws_high)),
                        inside,
                    )
                    clips.append(
                        "target "
                        + ", ".join(f"{t:.3f}" for t in target)
                        + " outside the workspace box"
                    )
                    delta = inside - ee
            a = a.copy()
            a[self.pos] = delta / scale
        for reason in clips:
            self.counts["clipped"] += 1
            log.info("clipped action: %s", reason)
        if not all(math.isfinite(x) for x in a):  # defensive: clipping must never create NaN
            raise self.refuse("clipping produced a non-finite action")
        return a, clips
