"""Offscreen renders of a scenario's fixed cameras (MUJOCO_GL=egl or osmesa, set by the package)."""

from __future__ import annotations

import io

import mujoco
import numpy as np
from PIL import Image

from benchgen_dagster.validation.model import CAMERAS

WIDTH, HEIGHT = 320, 240


class SceneRenderer:
    """One offscreen context, reused for every scenario of a batch."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.width, self.height = width, height
        self._renderer: mujoco.Renderer | None = None
        self._model: mujoco.MjModel | None = None

    def render(self, xml: str, cameras: tuple[str, ...] = CAMERAS[:2]) -> list[bytes]:
        """PNG bytes of the world at rest at its start, one per camera."""
        model = mujoco.MjModel.from_xml_string(xml)
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        renderer = self._renderer_for(model)
        images = []
        for camera in cameras:
            renderer.update_scene(data, camera=camera)
            images.append(png_bytes(renderer.render()))
        return images

    def _renderer_for(self, model: mujoco.MjModel) -> mujoco.Renderer:
        # A renderer is tied to one model's assets; a new model needs a new renderer.
        if self._renderer is not None:
            self._renderer.close()
        self._renderer = mujoco.Renderer(model, self.height, self.width)
        self._model = model
        return self._renderer

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> SceneRenderer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def png_bytes(pixels: np.ndarray) -> bytes:
    """A deterministic PNG (no timestamps or text chunks)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
