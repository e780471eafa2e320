"""Prints without end (bounded at 2 GiB) through Python and through the raw descriptor."""

import os


def build(seed, params):
    chunk = "x" * (1 << 20)
    for _ in range(1024):
        print(chunk)
        os.write(2, chunk.encode())
    raise AssertionError("printed 2 GiB without being stopped")
