"""Latency of one request through the UI's own path, against the CLI build of it in the same run.

The UI's path is what `make dev` runs: `dagster dev` on 127.0.0.1 (webserver, daemon, code
server) with a Dagster home and a data folder of its own. A request file for a few variants of a
built-in family is dropped into the requests folder; the `new_requests` sensor turns it into a
`build_partition` run, `release_after_build` into a `release_dataset` run. The stages come from
the instance's own records (run creation, start and end, step events), measured from the moment
the file was written. The baseline is `benchgen build --family F --variants N` into an empty
data folder, in a fresh process, as a user would run it.

With `deployment`, the path measured is the production stack of `deploy/` instead (PostgreSQL,
S3, the code server, the daemon, the web server, each run and each step in a container), started
in a folder of its own, with its start-up time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchgen_dagster import __version__

if TYPE_CHECKING:
    from dagster import DagsterInstance, RunRecord

DEFINITIONS = "benchgen_dagster.orchestration.definitions"
PARTITION_TAG = "dagster/partition"
RUN_KEY_TAG = "dagster/run_key"
# Each stage: (key, what it is, as the table says it).
STAGES = [
    ("tick", "file dropped → build run requested (new_requests tick)"),
    ("build_start", "build run requested → started (queue, launch, imports)"),
    ("build_steps", "build run started → succeeded (its steps)"),
    ("release_tick", "build run succeeded → release run requested (release_after_build)"),
    ("release_start", "release run requested → started"),
    ("release_run", "release run started → succeeded"),
]


class LatencyError(RuntimeError):
    """The UI's path did not release the request (a run failed, or it took too long)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def environment(data_dir: Path, home: Path) -> dict[str, str]:
    """The environment of every process of a measurement: its own data folder and Dagster home
    (PYTHONPATH and the rest are passed on, so the daemon's runs import this tree)."""
    return {**os.environ, "BENCHGEN_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(home)}


@contextmanager
def dagster_dev(data_dir: Path, log: Path) -> Iterator[DagsterInstance]:
    """`dagster dev` on 127.0.0.1 as `make dev` starts it, on `data_dir`; the instance it
    records into, once its daemon has ticked the `new_requests` sensor. Stopped (its whole
    process group) on the way out."""
    from dagster import DagsterInstance

    from benchgen_dagster.orchestration.build import init_dagster_home
    from benchgen_dagster.sandbox.keeper import READY_LINE

    home = init_dagster_home(data_dir / "dagster")
    # As `make dev`: SIGINT and SIGTERM at their defaults, so that dagster dev stops on them.
    command = ["env", "--default-signal=INT,TERM", _bin("benchgen"), "dev", "-h", "127.0.0.1"]
    command += ["-p", str(_free_port()), "-m", DEFINITIONS]
    # The instance's storage is made here, before dagster dev's processes would race to.
    with DagsterInstance.from_config(str(home)) as instance:
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                env=environment(data_dir, home),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            check = lambda: _ticked(instance, "new_requests")  # noqa: E731
            wait_until(check, 300, "the daemon's first tick", log)
            if keeps_a_warm_worker():  # as `make dev` has, once it is up
                warm = lambda: READY_LINE in log.read_text(errors="replace")  # noqa: E731
                wait_until(warm, 300, "benchgen dev's warm sandbox worker", log)
            yield instance
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def keeps_a_warm_worker() -> bool:
    """Whether `benchgen dev` keeps a warm worker here: the sandbox is Docker's."""
    from benchgen_dagster.sandbox.docker import DockerLauncher
    from benchgen_dagster.sandbox.select import choose_launcher, sandbox_kind_from_environment

    launcher = choose_launcher(sandbox_kind_from_environment(), warn=lambda _: None)
    return isinstance(launcher, DockerLauncher)


def wait_until(check: Callable[[], Any], timeout: float, what: str, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log else ""
    raise LatencyError(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}".rstrip())


def _ticked(instance: DagsterInstance, sensor: str) -> bool:
    """Whether the daemon has evaluated `sensor` at least once."""
    for state in instance.all_instigator_state():
        if state.name == sensor:
            origin, selector = state.instigator_origin_id, state.selector_id
            if instance.get_ticks(origin, selector, limit=1):
                return True
    return False


def drop_request(requests_dir: Path, family: str, variants: int) -> str:
    """Write a request file as `benchgen request` does; its request id."""
    from benchgen_dagster.catalogue.builtin import DEFAULT_VARIANTS
    from benchgen_dagster.catalogue.requests import RequestBook

    book = RequestBook(requests_dir, DEFAULT_VARIANTS)
    verdict = book.check({"prompt": f"latency {family}", "family": family, "variants": variants})
    assert verdict.ok and verdict.request is not None, verdict.problems
    book.submit(verdict.request)
    return verdict.request.request_id


def _finished(record: RunRecord | None) -> RunRecord | None:
    from dagster import DagsterRunStatus

    if record is None or not record.dagster_run.is_finished:
        return None
    if record.dagster_run.status != DagsterRunStatus.SUCCESS:
        run = record.dagster_run
        raise LatencyError(f"run {run.run_id} of {run.job_name} ended {run.status.value}")
    return record


def build_run(instance: DagsterInstance, request_id: str) -> RunRecord | None:
    """The request's `build_partition` run, once it has finished."""
    from dagster import RunsFilter

    filters = RunsFilter(job_name="build_partition", tags={PARTITION_TAG: request_id})
    records = instance.get_run_records(filters=filters, limit=1)
    return _finished(records[0] if records else None)


def release_run(instance: DagsterInstance, build_run_id: str) -> RunRecord | None:
    """The `release_dataset` run that `release_after_build` asked for after `build_run_id`,
    once it has finished."""
    from dagster import RunsFilter

    tags = {RUN_KEY_TAG: f"release-after:{build_run_id}"}
    records = instance.get_run_records(RunsFilter(job_name="release_dataset", tags=tags), limit=1)
    return _finished(records[0] if records else None)


def step_seconds(instance: DagsterInstance, run_id: str) -> dict[str, float]:
    """Each step of a run, start to end, from its events."""
    from dagster import DagsterEventType

    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type == DagsterEventType.STEP_SUCCESS and event.step_key in started:
            seconds[event.step_key] = entry.timestamp - started[event.step_key]
    return seconds


def stages(
    dropped_at: float, build: RunRecord, release: RunRecord, steps: dict[str, float]
) -> dict[str, Any]:
    """The stages of one request's way to its release, in seconds, from the runs' records."""
    b, r = build, release
    assert b.start_time and b.end_time and r.start_time and r.end_time
    marks = [
        dropped_at,
        b.create_timestamp.timestamp(),
        b.start_time,
        b.end_time,
        r.create_timestamp.timestamp(),
        r.start_time,
        r.end_time,
    ]
    seconds = {
        key: later - earlier
        for (key, _), earlier, later in zip(STAGES, marks[:-1], marks[1:], strict=True)
    }
    return {
        "seconds": seconds,
        "total_s": marks[-1] - dropped_at,
        "build_steps_s": steps,
        "runs": {"build": b.dagster_run.run_id, "release": r.dagster_run.run_id},
    }


def follow_request(  # type: ignore[no-untyped-def]
    instance: Any, requests: Path, family: str, variants: int, timeout: float, say
) -> tuple[str, dict[str, Any]]:
    """Drop a request into `requests` and follow it on `instance` until its release: the
    request's id and the stages' seconds."""
    dropped_at = time.time()
    request_id = drop_request(requests, family, variants)
    say(f"  dropped {request_id} ({variants} variant(s) of {family})")
    deadline = time.monotonic() + timeout
    build = wait_until(lambda: build_run(instance, request_id), timeout, "the build run")
    left = max(1.0, deadline - time.monotonic())
    release = wait_until(
        lambda: release_run(instance, build.dagster_run.run_id), left, "the release"
    )
    steps = step_seconds(instance, build.dagster_run.run_id)
    return request_id, stages(dropped_at, build, release, steps)


def measure_ui(family: str, variants: int, work: Path, timeout: float, say) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    data = work / "ui"
    say(f"  UI path: dagster dev on 127.0.0.1, data in {data}")
    with dagster_dev(data, work / "dagster-dev.log") as instance:
        request_id, result = follow_request(
            instance, data / "requests", family, variants, timeout, say
        )
    manifest = json.loads((data / "datasets" / "default" / "manifest.json").read_text())
    if request_id not in [p["request_id"] for p in manifest["partitions"]]:
        raise LatencyError(f"the released manifest does not hold {request_id}")
    return {"request_id": request_id, **result}


@contextmanager
def environment_of(values: dict[str, str]) -> Iterator[None]:
    """`os.environ` with `values` for the duration: the instance's configuration reads its
    database's address and password from it."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def measure_deployment(  # type: ignore[no-untyped-def]
    family: str, variants: int, work: Path, timeout: float, say
) -> dict[str, Any]:
    """The request through the production stack, started for it in `work` and stopped after."""
    from dagster import DagsterInstance

    from benchgen_dagster.stack.s3server import free_ports
    from benchgen_dagster.stack.services import Stack, stack_environment

    work.chmod(0o755)  # PostgreSQL runs as `postgres`, which must reach its folder
    pg, s3, code, web = free_ports(4)
    overrides = {
        "BENCHGEN_STACK_DIR": str(work / "stack"),
        "BENCHGEN_DATA_DIR": str(work / "deployment"),
        "BENCHGEN_PG_PORT": str(pg),
        "BENCHGEN_S3_ENDPOINT": f"http://127.0.0.1:{s3}",
        "BENCHGEN_CODE_PORT": str(code),
        "BENCHGEN_WEB_PORT": str(web),
    }
    stack = Stack(stack_environment({**os.environ, **overrides}), say=lambda line: say(f"  {line}"))
    started = time.perf_counter()
    try:
        stack.up()
        startup = time.perf_counter() - started
        say(f"  deployment: stack up in {startup:.1f} s")
        with environment_of(stack.env), DagsterInstance.from_config(str(stack.home)) as instance:
            requests = Path(stack.env["BENCHGEN_DATA_DIR"]) / "requests"
            request_id, result = follow_request(instance, requests, family, variants, timeout, say)
    finally:
        stack.down()
    return {"request_id": request_id, "startup_s": startup, **result}


def measure_cli(family: str, variants: int, work: Path) -> dict[str, Any]:
    """`benchgen build --family F --variants N` into an empty data folder, a fresh process."""
    data = work / "cli"
    env = environment(data, data / "dagster")
    command = [_bin("benchgen"), "build", "--family", family, "--variants", str(variants)]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate()
    finally:
        if process.poll() is None:  # interrupted: the build's partition processes go too
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise LatencyError(f"benchgen build failed:\n{output}")
    return {"total_s": seconds, "command": " ".join(command[1:])}


def run_latency(
    family: str,
    variants: int,
    timeout: float,
    say: Callable[[str], None],
    deployment: bool = False,
) -> dict[str, Any]:
    """Both paths, the CLI first (so the idle webserver does not slow it), and their ratio; the
    UI's path is the production stack's with `deployment`."""
    flag = " --deployment" if deployment else ""
    say(
        f"benchgen bench --latency{flag}: {variants} variant(s) of {family}, "
        f"{os.cpu_count()} core(s)"
    )
    # A SIGTERM stops the measurement as Ctrl-C does: dagster dev is stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="benchgen-latency-") as tmp:
        work = Path(tmp)
        say("  CLI: benchgen build into an empty data folder")
        cli = measure_cli(family, variants, work)
        say(f"  CLI: {cli['total_s']:.1f} s")
        measure = measure_deployment if deployment else measure_ui
        ui = measure(family, variants, work, timeout, say)
    return {
        "benchgen": __version__,
        "cores": os.cpu_count(),
        "load_average": {"start": load_at_start, "end": os.getloadavg()[0]},
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "family": family,
        "variants": variants,
        "path": "deployment" if deployment else "ui",
        "ui": ui,
        "cli": cli,
        "ui_to_cli": ui["total_s"] / cli["total_s"],
    }


def latency_table(result: dict[str, Any]) -> str:
    """The stages as a plain-text table, with the CLI and the ratio."""
    ui = result["ui"]
    lines = [f"{'stage':<72}{'s':>8}"]
    if "startup_s" in ui:
        lines.append(f"{'the stack started (not in the total)':<72}{ui['startup_s']:>8.1f}")
    for key, what in STAGES:
        lines.append(f"{what:<72}{ui['seconds'][key]:>8.1f}")
        if key == "build_steps":
            lines += [f"    {step:<68}{s:>8.1f}" for step, s in ui["build_steps_s"].items()]
    lines += [
        f"{'total: file dropped → released':<72}{ui['total_s']:>8.1f}",
        f"{'CLI: ' + result['cli']['command'] + ' (empty data folder)':<72}"
        f"{result['cli']['total_s']:>8.1f}",
        f"{'deployment' if result.get('path') == 'deployment' else 'UI path'} / CLI: "
        f"{result['ui_to_cli']:.2f}× "
        f"({result['variants']} variant(s) of {result['family']}; load average "
        f"{result['load_average']['start']:.1f} at the start, {result['load_average']['end']:.1f} "
        f"at the end, on {result['cores']} core(s))",
    ]
    return "\n".join(lines)
