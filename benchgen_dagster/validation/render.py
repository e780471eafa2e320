"""Offscreen renders of a scenario's fixed cameras, on the CPU or a GPU.

One GL context (EGL, or OSMesa when MUJOCO_GL=osmesa) is made once and reused for every
scenario; each model only uploads its own meshes. The context is chosen here explicitly, so
rendering works whatever was imported first.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager

import mujoco
import numpy as np
from PIL import Image

from benchgen_dagster.dataset.members import FILMSTRIP_FRAMES
from benchgen_dagster.schema.contract import Controls
from benchgen_dagster.validation.model import CAMERAS

WIDTH, HEIGHT = 320, 240
SCENE_MARGIN = 100  # visual geoms beyond the model's own: the skybox and any decoration


def _gl_context(width: int, height: int):  # type: ignore[no-untyped-def]
    if os.environ.get("MUJOCO_GL", "egl").lower() == "osmesa":
        from mujoco.osmesa import GLContext
    else:
        from mujoco.egl import GLContext
    return GLContext(width, height)


class SceneRenderer:
    """Renders scenarios from their MJCF; one per process, reused across scenarios."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.width, self.height = width, height
        self._gl = _gl_context(width, height)
        self._gl.make_current()
        self._viewport = mujoco.MjrRect(0, 0, width, height)
        self._option = mujoco.MjvOption()
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._pixels = np.empty((height, width, 3), dtype=np.uint8)

    def render(self, xml: str, cameras: tuple[str, ...] = CAMERAS[:2]) -> list[bytes]:
        """PNG bytes of the world at rest at its start, one per camera."""
        model = mujoco.MjModel.from_xml_string(xml)
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        return self.frames(model, data, cameras)

    def filmstrip(
        self,
        solution_xml: str,
        controls: Controls | None,
        duration_s: float,
        frames: int = FILMSTRIP_FRAMES,
        camera: str = CAMERAS[0],
    ) -> bytes:
        """One PNG of `frames` views of the reference run, left to right, evenly spaced in
        time from the start to the end of its duration: a mechanism seen moving. The model is
        uploaded once for all of them."""
        model = mujoco.MjModel.from_xml_string(solution_xml)
        data = mujoco.MjData(model)
        names = [model.actuator(k).name for k in range(model.nu)]
        images = []
        with self._uploaded(model) as (context, scene):
            for frame in range(frames):
                until = duration_s * frame / max(1, frames - 1)
                while data.time < until:
                    if controls is not None:
                        data.ctrl[:] = [controls.at(name, data.time) for name in names]
                    mujoco.mj_step(model, data)
                mujoco.mj_forward(model, data)
                images.append(self._pixels_of(model, data, camera, context, scene).copy())
        return png_bytes(np.concatenate(images, axis=1))

    def frames(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        cameras: tuple[str, ...],
        encode: bool = True,
    ) -> list:
        with self._uploaded(model) as (context, scene):
            images = []
            for camera in cameras:
                pixels = self._pixels_of(model, data, camera, context, scene)
                images.append(png_bytes(pixels) if encode else pixels.copy())
            return images

    @contextmanager
    def _uploaded(
        self, model: mujoco.MjModel
    ) -> Iterator[tuple[mujoco.MjrContext, mujoco.MjvScene]]:
        """The model's meshes and textures on the GPU and a scene for it, freed after use.
        Each costs time in proportion to its size: the offscreen buffer is the image's size
        (the MJCF asks for more, for its users), the font the smallest (no text is drawn),
        the scene holds the model's geoms and sites and room for decorations."""
        model.vis.global_.offwidth, model.vis.global_.offheight = self.width, self.height
        context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_50)
        try:
            mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, context)
            yield context, mujoco.MjvScene(model, maxgeom=model.ngeom + model.nsite + SCENE_MARGIN)
        finally:
            context.free()

    def _pixels_of(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        camera: str,
        context: mujoco.MjrContext,
        scene: mujoco.MjvScene,
    ) -> np.ndarray:
        """The camera's view, top row first (a view into a buffer the next render reuses)."""
        self._camera.fixedcamid = model.camera(camera).id
        mujoco.mjv_updateScene(
            model, data, self._option, None, self._camera, mujoco.mjtCatBit.mjCAT_ALL, scene
        )
        mujoco.mjr_render(self._viewport, scene, context)
        mujoco.mjr_readPixels(self._pixels, None, self._viewport, context)
        return np.flipud(self._pixels)

    def close(self) -> None:
        self._gl.free()

    def __enter__(self) -> SceneRenderer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def png_bytes(pixels: np.ndarray) -> bytes:
    """A deterministic PNG (no timestamps or text chunks); light compression is 3× faster to
    encode and barely larger for these flat-shaded scenes."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()
