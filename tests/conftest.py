"""Shared fixtures: real build123d in a sandboxed worker, real MuJoCo."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from tests.helpers import SCRIPTS


@pytest.fixture(scope="session")
def breakable_source() -> str:
    return (SCRIPTS / "breakable.py").read_text()
