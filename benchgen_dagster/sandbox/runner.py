"""Runs a family script over a batch of seeds in a sandbox, one worker process per batch.

A worker is warm where the sandbox allows (`sandbox/warm.py`): its imports are already paid.

The runner watches the worker's per-variant markers. A variant that runs past its time limit,
crashes the worker or floods its output fails alone with a reason; the worker is stopped (its
whole process tree) and a fresh one carries on with the variants not yet tried.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from benchgen_dagster.sandbox.protocol import (
    Job,
    JobOutcome,
    ScriptFailure,
    jobs_json,
    read_outcome,
)
from benchgen_dagster.schema.contract import Reason

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
WORKER_MODULE = "benchgen_dagster.sandbox.worker"
POLL_SECONDS = 0.02
SIZE_CHECK_SECONDS = 0.5  # the output folder is measured this often (a scan costs per file)


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the script): a broken installation or image."""


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
    """A running worker. Leaving its context stops it and removes every trace of it."""

    def poll(self) -> int | None: ...

    def kill(self) -> None:
        """Stop the worker and everything it started."""

    def console(self) -> str:
        """The tail of what the worker printed."""

    def verdict(self) -> tuple[Reason, str] | None:
        """What the sandbox itself saw go wrong (e.g. its memory limit killed a process)."""

    def peak_memory_bytes(self) -> int:
        """The most memory the worker's whole tree used, where the sandbox can tell (else 0)."""

    def __enter__(self) -> WorkerProcess: ...

    def __exit__(self, *exc: object) -> None: ...


class WorkerSlot(Protocol):
    """A sandboxed worker a batch runs on: a warm one (`sandbox/warm.py`) or a cold one."""

    keep: bool  # set when the batch went well: the worker may serve another

    def folder(self) -> contextlib.AbstractContextManager[Path]:
        """A fresh folder for one batch (`in`, `out`, `home`), removed afterwards."""

    def start(self, workdir: Path) -> WorkerProcess:
        """Run `python -m benchgen_dagster.sandbox.worker IN OUT` on the batch's folder."""


class Launcher(Protocol):
    """Hands out workers of some sandbox; leaving `open`'s context stops the worker or, with
    `keep` set, may keep it for a later batch."""

    name: str

    def open(self, limits: Limits) -> contextlib.AbstractContextManager[WorkerSlot]: ...


@dataclass(frozen=True)
class BatchResult:
    outcomes: list[JobOutcome]
    sandbox: str
    worker_starts: int
    console: str
    peak_memory_bytes: int = 0


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
    return run_jobs(
        source,
        jobs,
        launcher,
        limits,
        describe=lambda pending: jobs_json(pending, tolerance_mm, angular_tolerance),
        read=read_outcome,
        on_outcome=on_outcome,
    )


def run_jobs(
    source: str,
    jobs: Sequence[Job],
    launcher: Launcher,
    limits: Limits,
    *,
    describe: Callable[[list[Job]], str],
    read: Callable[[Path, Job, int], Any],
    inputs: Mapping[str, bytes] | None = None,
    on_outcome: ProgressCallback | None = None,
) -> BatchResult:
    """The runner of any worker task: `describe` writes the jobs.json of the jobs still
    pending, `read` parses one finished job's output (untrusted), `inputs` are further files
    of the input folder. A job the worker never finished fails with the sandbox's reason."""
    outcomes: dict[int, Any] = {}
    pending = list(jobs)
    starts = peak = 0
    console = ""

    def settle(outcome: JobOutcome) -> None:
        outcomes[outcome.job.index] = outcome
        if on_outcome:
            on_outcome(outcome)

    while pending:
        starts += 1
        with launcher.open(limits) as slot, slot.folder() as workdir:
            _prepare(workdir, source, describe(pending), inputs or {})
            with slot.start(workdir) as worker:
                culprit_reason = _supervise(worker, workdir, pending, limits) or worker.verdict()
                console = worker.console()
                exit_code = worker.poll()
                peak = max(peak, worker.peak_memory_bytes())
            out = workdir / "out"
            started = [j for j in pending if (out / f"{j.index}.started").exists()]
            for job in pending:
                if (out / f"{job.index}.json").exists():
                    settle(read(out, job, limits.max_triangles))
            unfinished = [j for j in pending if j.index not in outcomes]
            in_flight = [j for j in started if j.index not in outcomes]
            if not (out / "ready").exists():
                raise SandboxError(f"the {launcher.name} worker did not start: {console[-2000:]}")
            if in_flight or not started:
                # The variant that was running when the worker ended is to blame; with none
                # started, the script's import is, and it takes every variant down.
                blamed = in_flight or unfinished
                crash = (Reason.script_crashed, _crash_message(exit_code, console))
                reason, message = culprit_reason or crash
                for job in blamed:
                    settle(ScriptFailure(job, reason, message))
            slot.keep = (
                exit_code == 0
                and culprit_reason is None
                and _all_produced([outcomes.get(j.index) for j in pending])
            )
            pending = [j for j in pending if j.index not in outcomes]
    return BatchResult([outcomes[j.index] for j in jobs], launcher.name, starts, console, peak)


def _all_produced(outcomes: list[Any]) -> bool:
    """Whether a batch went as a sound script's does: a worker that ran a failing script (it
    may have been hostile) is never given another batch."""
    return all(o is not None and not isinstance(o, ScriptFailure) for o in outcomes)


@contextlib.contextmanager
def temporary_folder() -> Iterator[Path]:
    """A batch folder of a cold worker."""
    from benchgen_dagster.sandbox.reaper import owned_prefix, watch_this_process

    watch_this_process()
    with tempfile.TemporaryDirectory(prefix=owned_prefix("batch")) as tmp:
        yield Path(tmp)


def _prepare(workdir: Path, source: str, jobs: str, inputs: Mapping[str, bytes]) -> None:
    (workdir / "in").mkdir()
    (workdir / "out").mkdir()
    (workdir / "home").mkdir()
    (workdir / "in" / "script.py").write_text(source)
    (workdir / "in" / "jobs.json").write_text(jobs)
    for name, data in inputs.items():
        path = workdir / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for folder in ("out", "home"):
        os.chmod(workdir / folder, 0o777)  # a worker under another uid writes here
    os.chmod(workdir, 0o755)


def _supervise(
    worker: WorkerProcess, workdir: Path, jobs: list[Job], limits: Limits
) -> tuple[Reason, str] | None:
    """Wait for the worker; stop it when it overruns its time or its output bound.

    Until the first variant starts (the worker and the script's imports are loading) the
    start-up limit applies; then each variant has the variant limit. Time is the host's own
    clock between progress markers of known jobs, so a script cannot buy itself time by
    touching files.
    """
    out = workdir / "out"
    # The worker writes these in order, so only the next one needs looking for.
    markers = [out / f"{j.index}.{kind}" for j in jobs for kind in ("started", "json")]
    progress, last_progress = 0, time.monotonic()
    next_size_check = 0.0
    max_output = limits.max_output_mb << 20
    try:
        while worker.poll() is None:
            time.sleep(POLL_SECONDS)
            now = time.monotonic()
            while progress < len(markers) and markers[progress].exists():
                progress, last_progress = progress + 1, now
            verdict = _overrun(now - last_progress, progress, limits)
            if verdict is None and now >= next_size_check:
                next_size_check = now + SIZE_CHECK_SECONDS
                if _folder_bytes(out) > max_output:
                    verdict = (
                        Reason.script_output_too_large,
                        f"the script wrote more than {limits.max_output_mb} MB",
                    )
            if verdict:
                worker.kill()
                return verdict
        return None
    except BaseException:
        worker.kill()
        raise


def _overrun(idle: float, progress: int, limits: Limits) -> tuple[Reason, str] | None:
    if progress == 0 and idle > limits.startup_timeout_s:
        return (
            Reason.script_timeout,
            f"the worker and the script did not load in {limits.startup_timeout_s:.0f} s",
        )
    if progress and idle > limits.variant_timeout_s:
        return Reason.script_timeout, f"a variant ran longer than {limits.variant_timeout_s:.0f} s"
    return None


def _folder_bytes(folder: Path) -> int:
    total = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                total += entry.stat(follow_symlinks=False).st_size
    return total


def _crash_message(exit_code: int | None, console: str) -> str:
    """How the worker ended, e.g. "was killed by SIGSEGV", and the last lines it printed."""
    signal_number = -exit_code if exit_code and exit_code < 0 else (exit_code or 0) - 128
    if signal_number in signal.valid_signals():
        how = f"was killed by {signal.Signals(signal_number).name}"
    else:
        how = f"exited with status {exit_code} before reporting"
    tail = console.strip().splitlines()[-3:]
    return f"the worker {how}" + (f": {' | '.join(tail)}" if tail else "")
