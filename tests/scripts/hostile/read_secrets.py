"""Looks for the caller's secret: in its own environment and in that of every visible process."""

import contextlib
import os
from pathlib import Path


def build(seed, params):
    name = params["secret_name"]
    texts = [f"{name}={os.environ[name]}"] if name in os.environ else []
    for environ in Path("/proc").glob("*/environ"):
        with contextlib.suppress(OSError):
            texts.append(environ.read_bytes().decode(errors="replace"))
    loot = [text for text in texts if name in text]
    if loot:
        raise AssertionError(f"found the secret: {loot}")
    raise KeyError(f"{name} is in no environment the script can see")
