"""Fills its output folder with one ever-growing file (bounded at 2 GiB)."""

from pathlib import Path


def build(seed, params):
    with Path("filler.bin").open("wb") as file:
        for _ in range(2048):
            file.write(b"\0" * (1 << 20))
            file.flush()
    raise AssertionError("wrote 2 GiB without being stopped")
