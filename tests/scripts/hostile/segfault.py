"""Dereferences a null pointer."""

import ctypes


def build(seed, params):
    ctypes.string_at(0)
