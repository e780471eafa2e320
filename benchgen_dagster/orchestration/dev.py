"""`benchgen dev`: `dagster dev` with a warm sandbox worker kept ready for the next run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def run_dev(dagster_args: list[str], say: Callable[[str], None]) -> int:
    """Run `dagster dev DAGSTER_ARGS` until it ends; with the Docker sandbox, a keeper in this
    process holds a warm worker for the run that asks first (`sandbox/keeper.py`). The exit
    status is dagster dev's."""
    from benchgen_dagster.resources import SandboxResource
    from benchgen_dagster.sandbox.docker import DockerLauncher
    from benchgen_dagster.sandbox.keeper import KEEPER_ENV, keeping
    from benchgen_dagster.sandbox.select import choose_launcher, sandbox_kind_from_environment

    sandbox = SandboxResource(kind=sandbox_kind_from_environment())
    launcher = choose_launcher(sandbox.kind, warn=say)
    environment = dict(os.environ)
    with contextlib.ExitStack() as stack:
        if isinstance(launcher, DockerLauncher):
            keeper = stack.enter_context(keeping(launcher, sandbox.limits(), say))
            environment[KEEPER_ENV] = str(keeper.path)
        dagster = str(Path(sys.executable).parent / "dagster")
        process = subprocess.Popen([dagster, "dev", *dagster_args], env=environment)
        # dagster dev stops on SIGINT and SIGTERM alike: pass a SIGTERM on, and wait for it
        # (a Ctrl-C reaches it from the terminal already).
        signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGTERM))
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                continue
