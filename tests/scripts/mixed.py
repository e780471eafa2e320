"""Sound variants and failing ones in one batch: `params["mode"]` chooses."""

import ctypes
import time

from benchgen_dagster.families.ball_sideways import build as sound_build


def build(seed, params):
    mode = params.pop("mode")
    if mode == "crash":
        ctypes.string_at(0)
    if mode == "hang":
        time.sleep(10**6)
    if mode == "memory":
        hoard = [bytearray(50 << 20) for _ in range(60)]
        raise AssertionError(f"allocated {len(hoard) * 50} MiB")
    return sound_build(seed, params)
