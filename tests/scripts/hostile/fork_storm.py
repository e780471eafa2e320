"""Forks sleeping children until refused (bounded at 300)."""

import os
import time


def build(seed, params):
    for _ in range(300):
        if os.fork() == 0:
            time.sleep(params["marker_seconds"])
            os._exit(0)
    raise AssertionError("forked 300 children without being stopped")
