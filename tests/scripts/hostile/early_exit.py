"""Exits the worker process before it can report."""

import os


def build(seed, params):
    os._exit(0)
