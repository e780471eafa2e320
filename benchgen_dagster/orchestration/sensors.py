"""Sensors: requests dropped in the requests folder, stale partitions, releases after builds,
and bounded repairs of failed partitions."""

from __future__ import annotations

import json

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)

from benchgen_dagster.assets import requests_partitions
from benchgen_dagster.orchestration.jobs import build_partition, release_dataset
from benchgen_dagster.orchestration.staleness import stale_partitions
from benchgen_dagster.orchestration.tags import BUILD_TAG, REPAIR_TAG, TRIGGER_TAG
from benchgen_dagster.resources.settings import PipelineSettings

MAX_REPAIRS = 2


@sensor(
    job=build_partition,
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches the requests folder (`data/requests/`, or `$BENCHGEN_DATA_DIR/requests`) "
    "for YAML generation requests (`benchgen request` writes one). A valid request becomes a "
    "partition and a run; a bad file is moved to `rejected/` with the reason beside it. The "
    "cursor lists the requests already run, so a restart neither loses nor repeats one.",
)
def new_requests(context: SensorEvaluationContext, settings: PipelineSettings) -> SensorResult:
    book = settings.requests
    intake = book.intake()
    for name, reason in intake.rejected:
        context.log.warning(f"rejected {name}: {reason} (moved to {book.rejected_folder})")
    for request in intake.accepted:
        context.log.info(f"accepted {request.request_id}: {request.prompt!r}")
    requested = set(json.loads(context.cursor)) if context.cursor else set()
    pending = [rid for rid in book.accepted_ids() if rid not in requested]
    known = set(context.instance.get_dynamic_partitions(requests_partitions.name))
    new_partitions = [rid for rid in pending if rid not in known]
    return SensorResult(
        run_requests=[
            RunRequest(partition_key=rid, run_key=f"request:{rid}", tags={TRIGGER_TAG: "request"})
            for rid in pending
        ],
        dynamic_partitions_requests=(
            [requests_partitions.build_add_request(new_partitions)] if new_partitions else []
        ),
        cursor=json.dumps(sorted(requested | set(pending))),
    )


@sensor(
    name="stale_partitions",
    job=build_partition,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Re-runs exactly the partitions whose inputs changed since their shards were "
    "built: their family script, the modules it imports, the validator or the settings.",
)
def stale_partitions_sensor(
    context: SensorEvaluationContext, settings: PipelineSettings
) -> SensorResult | SkipReason:
    stale = stale_partitions(context.instance, settings)
    if not stale:
        return SkipReason("every materialized partition is up to date")
    context.log.info(f"stale: {', '.join(sorted(stale))}")
    return SensorResult(
        run_requests=[
            RunRequest(
                partition_key=partition,
                run_key=f"stale:{partition}:{fingerprint}",
                tags={TRIGGER_TAG: "stale"},
            )
            for partition, fingerprint in sorted(stale.items())
        ]
    )


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[build_partition],
    request_job=release_dataset,
    default_status=DefaultSensorStatus.RUNNING,
    description="Releases the dataset again after a partition is built from the UI or a sensor.",
)
def release_after_build(context: RunStatusSensorContext) -> RunRequest | SkipReason:
    if context.dagster_run.tags.get(BUILD_TAG):
        return SkipReason("`benchgen build` releases by itself")
    return RunRequest(run_key=f"release-after:{context.dagster_run.run_id}")


@run_failure_sensor(
    monitored_jobs=[build_partition],
    request_job=build_partition,
    default_status=DefaultSensorStatus.RUNNING,
    description=f"A failed partition run (a failed blocking check fails its run) is run again, "
    f"at most {MAX_REPAIRS} times; the attempt is in the `{REPAIR_TAG}` tag.",
)
def repair_failed_partition(context: RunFailureSensorContext) -> RunRequest | SkipReason:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition")
    attempt = int(run.tags.get(REPAIR_TAG, "0"))
    if run.tags.get(BUILD_TAG) or partition is None:
        return SkipReason("not a partition run of the UI or a sensor")
    if attempt >= MAX_REPAIRS:
        return SkipReason(f"{partition} failed after {attempt} repairs; leaving it failed")
    return RunRequest(
        partition_key=partition,
        run_key=f"repair:{run.run_id}",
        tags={TRIGGER_TAG: "repair", REPAIR_TAG: str(attempt + 1)},
    )


ALL_SENSORS = [new_requests, stale_partitions_sensor, release_after_build, repair_failed_partition]
