"""Sleeps forever: stopped by the variant time limit."""

import time


def build(seed, params):
    time.sleep(10**6)
