"""Fast off-screen rendering of MetaWorld scenes with a free camera of our own.

MetaWorld's default renderer costs ~90 ms a frame on a CPU whatever the size, mostly for
shadows, reflections and multisampling. Turning those off keeps every object visible and lit
(the picture stays honest for a VLM) at several times the speed. The camera is a free
`MjvCamera` from the task config, so no MetaWorld XML is forked.

Two switches (docs/deviations.md rows 4 and 5) draw frames as the reference code did instead:
a camera record of type "fixed" (cameras.py) re-poses one of the model's fixed cameras to the
reference's pose and may flip the frame top-bottom, and `"effects": True` in the record keeps
MetaWorld's default effects (shadows, reflections, skybox, the model's multisampling).
"""

from __future__ import annotations

import atexit
import contextlib
import weakref
from collections.abc import Mapping
from typing import Any

import mujoco
import numpy as np

from envs.metaworld.cameras import repose_camera

#: scene flags MetaWorld's renderer leaves on and the fast renderer turns off
COSTLY_FLAGS = (
    mujoco.mjtRndFlag.mjRND_SHADOW,
    mujoco.mjtRndFlag.mjRND_REFLECTION,
    mujoco.mjtRndFlag.mjRND_SKYBOX,
)


def make_camera(settings: Mapping[str, Any], model: mujoco.MjModel) -> mujoco.MjvCamera:
    """A free camera from lookat/distance/azimuth/elevation, or (type "fixed") the model's
    re-posed fixed camera at the reference's pose."""
    cam = mujoco.MjvCamera()
    if settings.get("type", "free") == "fixed":
        cam.type = mujoco.mjtCamera.mjCAMERA_FIXED
        cam.fixedcamid = repose_camera(model, dict(settings))
        return cam
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.lookat[:] = settings["lookat"]
    cam.distance = settings["distance"]
    cam.azimuth = settings["azimuth"]
    cam.elevation = settings["elevation"]
    return cam


class FastRenderer:
    """One `mujoco.Renderer` per frame size, created lazily, with costly effects disabled
    unless the camera record asks for them (`"effects": True`)."""

    def __init__(self, model: mujoco.MjModel, camera: Mapping[str, Any]) -> None:
        self.model = model
        self.camera = make_camera(camera, model)
        #: the reference flips its frames top-bottom on every task but drawer-open
        self.flip = bool(camera.get("flip", False))
        self.effects = bool(camera.get("effects", False))
        self.option = mujoco.MjvOption()
        self._renderers: dict[int, mujoco.Renderer] = {}
        if not self.effects:
            model.vis.quality.offsamples = 0  # no multisampling
        side = max(480, int(model.vis.global_.offwidth))
        model.vis.global_.offwidth = model.vis.global_.offheight = side

    def _renderer(self, size: int) -> mujoco.Renderer:
        r = self._renderers.get(size)
        if r is None:
            r = mujoco.Renderer(self.model, size, size)
            for flag in () if self.effects else COSTLY_FLAGS:
                r.scene.flags[flag] = False
            if not self._renderers:
                # mujoco registers eglTerminate with atexit when it makes its first context;
                # registering after it means (LIFO) our contexts are freed before EGL goes away
                ref = weakref.ref(self)
                atexit.register(lambda: ref() is not None and ref().close())
            self._renderers[size] = r
        return r

    def render(self, data: mujoco.MjData, size: int) -> np.ndarray:
        r = self._renderer(size)
        r.update_scene(data, camera=self.camera, scene_option=self.option)
        frame = r.render()
        return np.ascontiguousarray(frame[::-1]) if self.flip else frame

    def close(self) -> None:
        for r in self._renderers.values():
            with contextlib.suppress(Exception):  # EGL may already be gone at interpreter exit
                r.close()
        self._renderers.clear()
