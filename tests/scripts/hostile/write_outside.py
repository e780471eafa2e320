"""Writes into the benchgen package it can see: the code that will judge it."""

from pathlib import Path

import benchgen_dagster


def build(seed, params):
    target = Path(benchgen_dagster.__file__).parent / params["file_name"]
    target.write_text("written from the sandbox")
    raise AssertionError(f"wrote {target}")
