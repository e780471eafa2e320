"""Reads a host file the test placed outside the sandbox's folders."""

from pathlib import Path


def build(seed, params):
    content = Path(params["host_file"]).read_text()
    raise AssertionError(f"read a host file: {content}")
