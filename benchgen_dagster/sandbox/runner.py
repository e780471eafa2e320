"""Runs a family script over a batch of seeds in a sandbox, one worker process per batch.

The runner watches the worker's per-variant markers. A variant that runs past its time limit,
crashes the worker or floods its output fails alone with a reason; the worker is stopped (its
whole process tree) and a fresh one carries on with the variants not yet tried.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from benchgen_dagster.sandbox.protocol import (
    Job,
    JobOutcome,
    ScriptFailure,
    jobs_json,
    read_outcome,
)
from benchgen_dagster.schema import Reason

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
WORKER_MODULE = "benchgen_dagster.sandbox.worker"
POLL_SECONDS = 0.02
CONSOLE_TAIL_BYTES = 8192


@dataclass(frozen=True)
class Limits:
    variant_timeout_s: float = 30.0
    startup_timeout_s: float = 120.0
    memory_mb: int = 1024
    max_processes: int = 64
    max_output_mb: int = 64
    max_triangles: int = 200_000
    cpus: float = 1.0


class WorkerProcess(Protocol):
    def poll(self) -> int | None: ...

    def kill(self) -> None:
        """Stop the worker and everything it started."""

    def console(self) -> str:
        """The tail of what the worker printed."""


class Launcher(Protocol):
    """Starts `python -m benchgen_dagster.sandbox.worker IN OUT` inside some sandbox."""

    name: str

    def start(self, workdir: Path, limits: Limits) -> WorkerProcess: ...


@dataclass(frozen=True)
class BatchResult:
    outcomes: list[JobOutcome]
    sandbox: str
    worker_starts: int
    console: str


ProgressCallback = Callable[[JobOutcome], None]


def run_batch(
    source: str,
    jobs: Sequence[Job],
    launcher: Launcher,
    limits: Limits = Limits(),
    *,
    tolerance_mm: float = 0.5,
    angular_tolerance: float = 0.3,
    on_outcome: ProgressCallback | None = None,
) -> BatchResult:
    """Run every job; each ends as a RawVariant or a ScriptFailure, in job order."""
    outcomes: dict[int, JobOutcome] = {}
    pending = list(jobs)
    starts = 0
    console = ""

    def settle(outcome: JobOutcome) -> None:
        outcomes[outcome.job.index] = outcome
        if on_outcome:
            on_outcome(outcome)

    while pending:
        starts += 1
        with tempfile.TemporaryDirectory(prefix="benchgen-batch-") as tmp:
            workdir = Path(tmp)
            _prepare(workdir, source, pending, tolerance_mm, angular_tolerance)
            worker = launcher.start(workdir, limits)
            ended, culprit_reason = _supervise(worker, workdir, pending, limits)
            console = ended.console()
            out = workdir / "out"
            started = [j for j in pending if (out / f"{j.index}.started").exists()]
            for job in pending:
                if (out / f"{job.index}.json").exists():
                    settle(read_outcome(out, job, limits.max_triangles))
            unfinished = [j for j in pending if j.index not in outcomes]
            in_flight = [j for j in started if j.index not in outcomes]
            if in_flight or not started:
                # The variant that was running when the worker ended is to blame; with none
                # started, the script's import is, and it takes every variant down.
                blamed = in_flight or unfinished
                reason, message = culprit_reason or (Reason.script_crashed, _crash_message(console))
                for job in blamed:
                    settle(ScriptFailure(job, reason, message))
            pending = [j for j in pending if j.index not in outcomes]
    return BatchResult([outcomes[j.index] for j in jobs], launcher.name, starts, console)


def _prepare(
    workdir: Path, source: str, jobs: list[Job], tolerance_mm: float, angular_tolerance: float
) -> None:
    (workdir / "in").mkdir()
    (workdir / "out").mkdir()
    (workdir / "home").mkdir()
    (workdir / "in" / "script.py").write_text(source)
    (workdir / "in" / "jobs.json").write_text(jobs_json(jobs, tolerance_mm, angular_tolerance))
    for folder in ("out", "home"):
        os.chmod(workdir / folder, 0o777)  # a worker under another uid writes here
    os.chmod(workdir, 0o755)


def _supervise(
    worker: WorkerProcess, workdir: Path, jobs: list[Job], limits: Limits
) -> tuple[WorkerProcess, tuple[Reason, str] | None]:
    """Wait for the worker; stop it when a variant overruns its time or its output bound.

    Time is the host's own clock between progress markers of known jobs, so a script cannot
    buy itself time by touching files.
    """
    out = workdir / "out"
    markers = [out / "ready"] + [
        out / f"{j.index}.{kind}" for j in jobs for kind in ("started", "json")
    ]
    progress, last_progress = 0, time.monotonic()
    max_output = limits.max_output_mb << 20
    try:
        while worker.poll() is None:
            time.sleep(POLL_SECONDS)
            seen = sum(1 for m in markers if m.exists())
            if seen != progress:
                progress, last_progress = seen, time.monotonic()
            idle = time.monotonic() - last_progress
            verdict = None
            if progress == 0 and idle > limits.startup_timeout_s:
                verdict = (
                    Reason.script_timeout,
                    f"the worker did not start in {limits.startup_timeout_s:.0f} s",
                )
            elif progress and idle > limits.variant_timeout_s:
                verdict = (
                    Reason.script_timeout,
                    f"a variant ran longer than {limits.variant_timeout_s:.0f} s",
                )
            elif _folder_bytes(out) > max_output:
                verdict = (
                    Reason.script_output_too_large,
                    f"the script wrote more than {limits.max_output_mb} MB",
                )
            if verdict:
                worker.kill()
                return worker, verdict
        return worker, None
    except BaseException:
        worker.kill()
        raise


def _folder_bytes(folder: Path) -> int:
    total = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                total += entry.stat(follow_symlinks=False).st_size
    return total


def _crash_message(console: str) -> str:
    tail = console.strip().splitlines()[-3:]
    return "the worker ended abnormally" + (f": {' | '.join(tail)}" if tail else "")


# --- the plain local sandbox --------------------------------------------------------------


def scrubbed_environment(home: Path) -> dict[str, str]:
    """The only environment a script sees: nothing of the caller's, so no secret."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "PYTHONPATH": str(PACKAGE_ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "LANG": "C.UTF-8",
    }


class SubprocessWorker:
    def __init__(self, process: subprocess.Popen[bytes], console_path: Path) -> None:
        self._process = process
        self._console_path = console_path

    def poll(self) -> int | None:
        return self._process.poll()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait()

    def console(self) -> str:
        return _tail(self._console_path)


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as file:
            file.seek(max(0, path.stat().st_size - CONSOLE_TAIL_BYTES))
            return file.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


class SubprocessLauncher:
    """A plain subprocess with resource limits: the weakest sandbox, for machines with neither
    Docker nor bubblewrap. Limits apply per process; the whole session is killed at the end."""

    name = "subprocess"

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python

    def start(self, workdir: Path, limits: Limits) -> WorkerProcess:
        console_path = workdir / "out" / "console.log"
        console = console_path.open("wb")
        process = subprocess.Popen(
            [self.python, "-m", WORKER_MODULE, str(workdir / "in"), str(workdir / "out")],
            cwd=workdir / "out",
            env=scrubbed_environment(workdir / "home"),
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: _apply_rlimits(limits),
        )
        console.close()
        return SubprocessWorker(process, console_path)


def _apply_rlimits(limits: Limits) -> None:
    import resource

    memory = limits.memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory * 4, memory * 4))  # address space, not RSS
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_output_mb << 20,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
