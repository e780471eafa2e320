"""Building the default dataset through Dagster, from the command line.

`benchgen build` registers one partition per built-in family in the persistent Dagster
instance under the data folder (the one `make dev` shows), materializes the partitions that
are out of date on all cores, then the release. A partition is up to date when its last
successful shards were made from the same request, family code, validator and settings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from benchgen_dagster import __version__

DAGSTER_YAML = """\
telemetry:
  enabled: false
"""
# The run's events stay in the Dagster instance (see `make dev`); the console shows progress.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def dagster_home(data_dir: Path) -> Path:
    """The Dagster instance folder, created with its config on first use."""
    home = Path(os.environ.get("DAGSTER_HOME") or data_dir / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@dataclass(frozen=True)
class PartitionResult:
    partition: str
    success: bool
    seconds: float
    skipped: bool = False
    error: str = ""


def materialize_partition(partition: str) -> PartitionResult:
    """Run the partitioned asset job for one partition in this process."""
    from dagster import DagsterInstance

    from benchgen_dagster.definitions import defs

    started = time.perf_counter()
    job = defs.resolve_job_def("build_partition")
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            partition_key=partition, instance=instance, run_config=QUIET, raise_on_error=False
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
) -> int:
    """Materialize the built-in catalogue and release it; the exit status for the CLI."""
    os.environ["BENCHGEN_DATA_DIR"] = str(data_dir)
    os.environ["BENCHGEN_VARIANTS"] = str(variants)
    home = dagster_home(data_dir)
    from dagster import DagsterInstance

    from benchgen_dagster.catalogue import builtin_requests
    from benchgen_dagster.definitions import defs
    from benchgen_dagster.pipeline import parallelism

    requests = [r for r in builtin_requests(variants) if not families or r.family in families]
    unknown = sorted(set(families or []) - {r.request_id for r in requests})
    if unknown:
        say(f"error: unknown families {unknown}")
        return 2
    started = time.perf_counter()
    with DagsterInstance.get() as instance:
        known = set(instance.get_dynamic_partitions("requests"))
        new = [r.request_id for r in requests if r.request_id not in known]
        if new:
            instance.add_dynamic_partitions("requests", new)
        todo = [
            r.request_id
            for r in requests
            if force or not _up_to_date(instance, r.request_id, expected_fingerprint(r))
        ]
    say(f"benchgen {__version__}: {len(requests)} families × {variants} variants")
    say(f"Dagster home: {home}")
    for skipped in sorted({r.request_id for r in requests} - set(todo)):
        say(f"  {skipped}: up to date")
    at_once, inside = parallelism([variants] * len(todo), workers)
    os.environ["BENCHGEN_WORKERS"] = str(inside)  # read by the partition runs' settings
    results = _run_all(todo, at_once, say)
    failed = [r for r in results if not r.success]
    say("releasing the dataset …")
    release = defs.resolve_job_def("release_dataset")
    with DagsterInstance.get() as instance:
        outcome = release.execute_in_process(
            instance=instance, run_config=QUIET, raise_on_error=False
        )
    if not outcome.success:
        say("error: the release failed; see `make dev` for the run's logs")
        return 1
    manifest = outcome.output_for_node("dataset_release")
    total = sum(manifest.counts["splits"].values())
    say(
        f"dataset {manifest.name} {manifest.version}: {total} scenarios "
        f"{manifest.counts['splits']} in {time.perf_counter() - started:.0f} s → "
        f"{data_dir / 'datasets' / manifest.name}"
    )
    for r in failed:
        say(f"  failed {r.partition}: {r.error}")
    return 1 if failed else 0


def expected_fingerprint(request) -> str:  # type: ignore[no-untyped-def]
    from benchgen_dagster.registry import get_family
    from benchgen_dagster.resources.settings import settings_from_environment

    return settings_from_environment().fingerprint(request, get_family(request.family).script())


def _up_to_date(instance, partition: str, expected: str) -> bool:  # type: ignore[no-untyped-def]
    from dagster import AssetKey, AssetRecordsFilter

    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("dataset_shards"), asset_partitions=[partition]),
        limit=1,
    ).records
    if not records:
        return False
    metadata = records[0].asset_materialization.metadata  # type: ignore[union-attr]
    value = metadata.get("fingerprint")
    return value is not None and value.value == expected


def _run_all(
    partitions: list[str], workers: int, say: Callable[[str], None]
) -> list[PartitionResult]:
    results: list[PartitionResult] = []
    if not partitions:
        return results
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(partitions)))) as pool:
        futures = {pool.submit(materialize_partition, p): p for p in partitions}
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            state = "ok" if result.success else f"FAILED ({result.error})"
            say(
                f"  [{len(results)}/{len(partitions)}] {result.partition}: {state} "
                f"in {result.seconds:.1f} s"
            )
    return results
