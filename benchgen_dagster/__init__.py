"""benchgen: datasets of physics benchmark scenarios, built as a Dagster asset graph."""

import os

# Offscreen rendering needs the GL backend chosen before MuJoCo is first imported.
os.environ.setdefault("MUJOCO_GL", "egl")

__version__ = "0.1.0"
