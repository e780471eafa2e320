"""Building the default dataset through Dagster, from the command line.

`benchgen build` registers one partition per built-in family in the persistent Dagster
instance under the data folder (the one `make dev` shows), materializes the partitions that
are out of date on all cores, then the release. A partition is up to date when its last
successful shards were made from the same request, family code, validator and settings.

A build never changes `os.environ`: its data folder, Dagster home, variants and workers reach
every run it starts as arguments (a `BuildTarget`), so two builds in one process stay apart.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from benchgen_dagster import __version__
from benchgen_dagster.assets.partitions import requests_partitions
from benchgen_dagster.orchestration.tags import BUILD_TAG
from benchgen_dagster.stores.local import LocalStore

if TYPE_CHECKING:
    from dagster import DagsterInstance, ExecuteInProcessResult

    from benchgen_dagster.resources.settings import PipelineSettings

DAGSTER_YAML = """\
telemetry:
  enabled: false
# A queued run is launched within a second (Dagster's default: every 5 s).
run_queue:
  dequeue_interval_seconds: 1
# Sensors in threads of their own: a slow one (stale_partitions) never holds up the others.
sensors:
  use_threads: true
  num_workers: 4
"""
# What earlier versions wrote: brought up to date; a file anyone edited is left alone.
EARLIER_DAGSTER_YAML = ["telemetry:\n  enabled: false\n"]
# The run's events stay in the Dagster instance (see `make dev`); the console shows progress.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def dagster_home(data_dir: Path) -> Path:
    """The Dagster instance folder ($DAGSTER_HOME, else DATA_DIR/dagster), created with its
    config on first use."""
    return init_dagster_home(Path(os.environ.get("DAGSTER_HOME") or data_dir / "dagster"))


def init_dagster_home(home: Path) -> Path:
    """`home` as a Dagster instance folder, its config written on first use; its full path."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() in EARLIER_DAGSTER_YAML:
        config.write_text(DAGSTER_YAML)
    return home


@dataclass(frozen=True)
class BuildTarget:
    """What a build hands every run it starts: where it writes, the Dagster instance that
    records it, seeds per built-in family and the workers inside one partition."""

    data_dir: Path
    home: Path
    variants: int
    workers: int = 1

    @classmethod
    def on(cls, data_dir: Path, variants: int, workers: int = 1) -> BuildTarget:
        """The target of a build into `data_dir`, with its Dagster home."""
        return cls(data_dir.resolve(), dagster_home(data_dir), variants, workers)

    def settings(self) -> PipelineSettings:
        from benchgen_dagster.resources.settings import settings_from_environment

        return settings_from_environment(
            data_dir=str(self.data_dir), builtin_variants=self.variants, workers=self.workers
        )

    def resources(self) -> dict[str, object]:
        """The resources built on this target's settings; the others stay as the definitions
        have them."""
        from benchgen_dagster.resources import settings_resources

        return settings_resources(self.settings())

    def instance(self) -> DagsterInstance:
        from dagster import DagsterInstance

        return DagsterInstance.from_config(str(self.home))


@dataclass(frozen=True)
class PartitionResult:
    partition: str
    success: bool
    seconds: float
    skipped: bool = False
    error: str = ""


def materialize_partition(partition: str, target: BuildTarget) -> PartitionResult:
    """Run the partitioned asset job for one partition in this process."""
    from benchgen_dagster.orchestration.definitions import defs

    started = time.perf_counter()
    job = defs.resolve_job_def("build_partition")
    with target.instance() as instance:
        result = job.execute_in_process(
            partition_key=partition,
            instance=instance,
            run_config=QUIET,
            resources=target.resources(),
            tags={BUILD_TAG: "true"},
            raise_on_error=False,
        )
    error = ""
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        error = (
            "; ".join(
                f"{e.step_key}: {e.step_failure_data.error.message.strip()}"  # type: ignore[union-attr]
                for e in failures
                if e.step_failure_data and e.step_failure_data.error
            )
            or "a blocking check failed"
        )
    return PartitionResult(partition, result.success, time.perf_counter() - started, error=error)


def build_dataset(
    data_dir: Path,
    variants: int,
    workers: int,
    force: bool,
    families: list[str] | None,
    say: Callable[[str], None],
    baselines: bool = False,
) -> int:
    """Materialize the built-in catalogue and release it (and, with `baselines`, score the
    built-in baselines into its leaderboard); the exit status for the CLI."""
    from benchgen_dagster.catalogue.builtin import builtin_requests
    from benchgen_dagster.catalogue.registry import get_family
    from benchgen_dagster.sandbox.select import choose_launcher, sandbox_kind_from_environment
    from benchgen_dagster.validation.steps import parallelism

    # Every check of the input comes before anything is written.
    requests = [r for r in builtin_requests(variants) if not families or r.family in families]
    for name in sorted(set(families or []) - {r.request_id for r in requests}):
        get_family(name)  # raises UnknownFamily, naming the families there are
    choose_launcher(sandbox_kind_from_environment(), warn=say)  # fail early if unavailable
    target = BuildTarget.on(data_dir, variants)
    settings = target.settings()

    started = time.perf_counter()
    with target.instance() as instance:
        for run in _interrupted_runs(instance):
            instance.report_run_failed(run, "the build running it was interrupted")
            say(f"  marked run {run.run_id[:8]} of an interrupted build as failed")
        for key in LocalStore(data_dir).clear_leftovers():
            say(f"  removed {key}, left half-written by an interrupted build")
        known = set(instance.get_dynamic_partitions(requests_partitions.name))
        new = [r.request_id for r in requests if r.request_id not in known]
        if new:
            instance.add_dynamic_partitions(requests_partitions.name, new)
        todo = [
            r.request_id
            for r in requests
            if force or not _up_to_date(instance, settings, r.request_id)
        ]
    say(f"benchgen {__version__}: {len(requests)} families × {variants} variants")
    say(f"Dagster home: {target.home}")
    for skipped in sorted({r.request_id for r in requests} - set(todo)):
        say(f"  {skipped}: up to date")
    at_once, inside = parallelism([variants] * len(todo), workers)
    results = run_partitions(todo, replace(target, workers=inside), at_once, say)
    failed = [r for r in results if not r.success]
    say("releasing the dataset …")
    outcome = run_job("release_dataset", target)
    if not outcome.success:
        say(f"error: the release failed: {_failure(outcome)}; see `make dev` for the run's logs")
        return 1
    manifest = outcome.output_for_node("dataset_release")
    total = sum(manifest.counts["splits"].values())
    say(
        f"dataset {manifest.name} {manifest.version}: {total} scenarios "
        f"{manifest.counts['splits']} in {time.perf_counter() - started:.0f} s → "
        f"{dataset_location(data_dir, manifest.name)}"
    )
    [released] = outcome.asset_materializations_for_node("dataset_release")
    curated = {k: released.metadata[k].value for k in ("policy", "staged", "awaiting_review")}
    if curated["policy"] == "review" or curated["staged"] != total:
        say(
            f"  curation ({curated['policy']}): {total} of {curated['staged']} staged scenarios "
            f"promoted, {curated['awaiting_review']} await review (`benchgen review`)"
        )
    if baselines and not _score_baselines(target, say):
        return 1
    for r in failed:
        say(f"  failed {r.partition}: {r.error}")
    return 1 if failed else 0


def _failure(outcome: ExecuteInProcessResult) -> str:
    """What the first failed step said."""
    for event in outcome.all_events:
        if event.is_step_failure and event.step_failure_data:
            data = event.step_failure_data
            if data.user_failure_data and data.user_failure_data.description:
                return data.user_failure_data.description
            return data.error.message.strip() if data.error else "unknown error"
    return "unknown error"


def run_job(name: str, target: BuildTarget) -> ExecuteInProcessResult:
    """One of the definitions' unpartitioned jobs, run here on the build's instance and
    resources."""
    from benchgen_dagster.orchestration.definitions import defs

    with target.instance() as instance:
        return defs.resolve_job_def(name).execute_in_process(
            instance=instance,
            run_config=QUIET,
            resources=target.resources(),
            tags={BUILD_TAG: "true"},
            raise_on_error=False,
        )


def _score_baselines(target: BuildTarget, say: Callable[[str], None]) -> bool:
    say("scoring the baselines …")
    started = time.perf_counter()
    outcome = run_job("score_baselines", target)
    if not outcome.success:
        say("error: scoring the baselines failed; see `make dev` for the run's logs")
        return False
    say(f"leaderboard written in {time.perf_counter() - started:.0f} s")
    return True


def dataset_location(data_dir: Path, name: str) -> str:
    from benchgen_dagster.stores.s3 import store_from_environment

    s3 = store_from_environment()
    return s3.uri(f"datasets/{name}") if s3 else str(data_dir / "datasets" / name)


def _interrupted_runs(instance):  # type: ignore[no-untyped-def]
    """Runs of earlier builds that never finished: their process is gone (builds run one at
    a time per data folder)."""
    from dagster import DagsterRunStatus, RunsFilter

    filters = RunsFilter(statuses=[DagsterRunStatus.STARTED], tags={BUILD_TAG: "true"})
    return instance.get_runs(filters=filters)


def _up_to_date(instance: DagsterInstance, settings: PipelineSettings, partition: str) -> bool:
    from benchgen_dagster.orchestration.staleness import current_fingerprint, recorded_fingerprint

    return recorded_fingerprint(instance, partition) == current_fingerprint(settings, partition)


def run_partitions(
    partitions: list[str],
    target: BuildTarget,
    at_once: int,
    say: Callable[[str], None],
    run: Callable[[str, BuildTarget], PartitionResult] = materialize_partition,
) -> list[PartitionResult]:
    """Materialize every partition (or `run` it), `at_once` at a time, in a pool of processes:
    one that fails or crashes is reported and the others go on."""
    results: list[PartitionResult] = []
    if not partitions:
        return results
    workers = max(1, min(at_once, len(partitions)))

    def report(result: PartitionResult) -> None:
        results.append(result)
        state = "ok" if result.success else f"FAILED ({result.error})"
        done = f"[{len(results)}/{len(partitions)}] {result.partition}"
        say(f"  {done}: {state} in {result.seconds:.1f} s")

    log = partition_log(target)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"")
    for partition in in_pool(partitions, target, workers, report, run, log):
        # Again alone, so that only the partition whose process crashed fails.
        if in_pool([partition], target, 1, report, run, log):
            crash = f"the partition's process ended abruptly (it crashed or was killed; see {log})"
            report(PartitionResult(partition, False, 0.0, error=crash))
    return results


def partition_log(target: BuildTarget) -> Path:
    """What the partitions' processes print (MuJoCo's warnings, a crash's last words): the
    build's own output stays its progress."""
    return target.home / "build-partitions.log"


def in_pool(
    partitions: list[str],
    target: BuildTarget,
    workers: int,
    report: Callable[[PartitionResult], None],
    run: Callable[[str, BuildTarget], PartitionResult] = materialize_partition,
    log: Path | None = None,
) -> list[str]:
    """Materialize the partitions in `workers` processes, each importing the stack once and
    keeping its warm sandbox worker from partition to partition; the partitions whose process
    died under them. The processes are spawned, never forked: a fork of a process that has
    rendered inherits Mesa's rasterizer without its threads and hangs at its first render."""
    crashed = []
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=spawn, initializer=_start_pool_process, initargs=(os.getpid(), log)
    ) as pool:
        futures = {pool.submit(_guarded, run, p, target): p for p in partitions}
        for future in as_completed(futures):
            try:
                report(future.result())
            except BrokenProcessPool:
                crashed.append(futures[future])
    return crashed


def _start_pool_process(build: int, log: Path | None) -> None:
    import warnings

    from dagster import BetaWarning, PreviewWarning

    from benchgen_dagster.sandbox.reaper import end_with
    from benchgen_dagster.sandbox.warm import keep_warm

    end_with(build)
    keep_warm()
    if log is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        output = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        for stream in (1, 2):
            os.dup2(output, stream)
        os.close(output)
    # Notes on Dagster's own API for its developers, not news for the build's user.
    for category in (BetaWarning, PreviewWarning):
        warnings.filterwarnings("ignore", category=category)


def _guarded(
    run: Callable[[str, BuildTarget], PartitionResult], partition: str, target: BuildTarget
) -> PartitionResult:
    started = time.perf_counter()
    try:
        return run(partition, target)
    except Exception as error:
        return PartitionResult(partition, False, time.perf_counter() - started, error=str(error))
