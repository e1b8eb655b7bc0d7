"""The reference code's fixed cameras, rebuilt on MetaWorld v3 without forking its XML.

ERL-VLM's fork (tunglm2203/erlvlm) adds one fixed camera per task to
`metaworld/envs/assets_v2/objects/assets/xyz_base.xml` (lines 26-30), renders each task from the
camera named after it (`utils.py:207`, `env.camera_name = env_name`) and flips every frame
except drawer-open's top-bottom (`train_PEBBLE_VLM.py:329-330`), because those cameras are
rolled upside down. v3's model has no such cameras, so one of its own world-fixed cameras
(`topview`, which nothing in this suite renders from) is re-posed through the model's
`cam_pos`, `cam_quat` and `cam_fovy`, with the reference's Euler angles converted the way
MuJoCo's XML compiler converts them (`euler_to_quat`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

#: the v3 camera that is re-posed: world-fixed in every MetaWorld v3 model (xyz_base.xml)
REPOSED_CAMERA = "topview"

_XML = "tunglm2203/erlvlm metaworld/envs/assets_v2/objects/assets/xyz_base.xml"


@dataclass(frozen=True)
class ReferenceCamera:
    """One `<camera mode="fixed">` of the fork, in its own units (the fork compiles radians)."""

    name: str
    pos: tuple[float, float, float]
    euler: tuple[float, float, float]
    fovy: float
    #: the frame is flipped top-bottom before anyone sees it (every task but drawer-open)
    flip: bool
    source: str

    def settings(self) -> dict[str, Any]:
        """The task's camera record (TaskSpec.camera and every run's config.json)."""
        return {
            "type": "fixed",
            "name": self.name,
            "pos": list(self.pos),
            "euler": list(self.euler),
            "fovy": self.fovy,
            "flip": self.flip,
            "source": self.source,
        }


#: the fork's compiler settings for these cameras: `xyz_base_dependencies.xml:2` sets
#: angle="radian"; no file sets eulerseq, so MuJoCo's default "xyz" (rotating axes) holds
EULER_SEQ = "xyz"

#: task (v3 name without "-v3") -> the fork's camera for it
REFERENCE_CAMERAS: dict[str, ReferenceCamera] = {
    "sweep-into": ReferenceCamera(
        "sweep-into-v2", (-0.3, 0.8, 0.45), (0.0, -0.6, 1.57), 50.0, True, _XML + ":26"
    ),
    "drawer-open": ReferenceCamera(
        "drawer-open-v2", (0.0, 0.5, 0.5), (0.5, 0.0, 0.0), 60.0, False, _XML + ":27"
    ),
    "door-open": ReferenceCamera(
        "door-open-v2", (0.7, 0.35, 0.6), (3.9, 2.3, 0.6), 60.0, True, _XML + ":28"
    ),
    "soccer": ReferenceCamera(
        "soccer-v2", (0.2, 0.55, 0.4), (3.7, 2.7, 0.55), 55.0, True, _XML + ":29"
    ),
    "button-press": ReferenceCamera(
        "button-press-v2", (-0.3, 0.75, 0.5), (0.0, -0.6, 1.57), 60.0, True, _XML + ":30"
    ),
}


def euler_to_quat(euler: tuple[float, float, float], seq: str = EULER_SEQ) -> np.ndarray:
    """MuJoCo's compiler rule for `euler="a b c"` (radians): a rotation about each axis of
    `seq` in turn, post-multiplied for a lower-case (rotating) axis and pre-multiplied for an
    upper-case (fixed) one; quaternions are (w, x, y, z)."""
    quat = np.array([1.0, 0.0, 0.0, 0.0])
    for angle, axis in zip(euler, seq, strict=True):
        rot = np.zeros(4)
        rot[0] = np.cos(angle / 2)
        rot[1 + "xyz".index(axis.lower())] = np.sin(angle / 2)
        out = np.zeros(4)
        if axis.islower():
            mujoco.mju_mulQuat(out, quat, rot)
        else:
            mujoco.mju_mulQuat(out, rot, quat)
        quat = out
    return quat / np.linalg.norm(quat)


def repose_camera(model: mujoco.MjModel, settings: dict[str, Any]) -> int:
    """Put `REPOSED_CAMERA` where the reference camera in `settings` is; returns its id.

    The camera hangs off the world body in fixed mode, so its model pose is its world pose;
    the next `mj_forward` (every reset and snapshot render runs one) places it.
    """
    cam = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, REPOSED_CAMERA)
    if cam < 0:
        raise ValueError(f"the model has no camera '{REPOSED_CAMERA}' to re-pose")
    if model.cam_bodyid[cam] != 0 or model.cam_mode[cam] != mujoco.mjtCamLight.mjCAMLIGHT_FIXED:
        raise ValueError(f"camera '{REPOSED_CAMERA}' is not fixed to the world")
    model.cam_pos[cam] = settings["pos"]
    model.cam_quat[cam] = euler_to_quat(tuple(settings["euler"]))
    model.cam_fovy[cam] = settings["fovy"]
    return cam
