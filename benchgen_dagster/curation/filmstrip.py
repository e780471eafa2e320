"""A filmstrip of a scenario's reference run: the world with its reference solution, simulated
from the payload's start and rendered at evenly spaced moments, side by side in one PNG."""

from __future__ import annotations

import io

import mujoco
import numpy as np
from PIL import Image

from benchgen_dagster.validation.render import SceneRenderer, png_bytes

FRAMES = 6
WIDTH, HEIGHT = 192, 144


def filmstrip(
    renderer: SceneRenderer, solution_xml: str, duration_s: float, frames: int = FRAMES
) -> bytes:
    """`frames` moments from 0 to `duration_s` of the solution world, from its `iso` camera."""
    model = mujoco.MjModel.from_xml_string(solution_xml)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    images = []
    for moment in np.linspace(0.0, duration_s, frames):
        while data.time < moment:
            mujoco.mj_step(model, data)
        [png] = renderer.frames(model, data, ("iso",))
        images.append(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")))
    return png_bytes(np.concatenate(images, axis=1))
