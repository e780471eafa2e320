"""Sensors: requests dropped in the requests folder, stale partitions, releases after builds
and after curators' decisions, and bounded repairs of failed partitions."""

from __future__ import annotations

import hashlib
import json

from dagster import (
    AssetKey,
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
from benchgen_dagster.assets.partitions import RETRYABLE
from benchgen_dagster.catalogue.checks import seed_span
from benchgen_dagster.catalogue.requests import Intake, RequestBook
from benchgen_dagster.curation.log import CurationLog
from benchgen_dagster.curation.plans import PlanReviews
from benchgen_dagster.curation.staging import Staging
from benchgen_dagster.orchestration.jobs import build_partition, release_dataset
from benchgen_dagster.orchestration.staleness import stale_partitions
from benchgen_dagster.orchestration.tags import BUILD_TAG, FEEDBACK_TAG, REPAIR_TAG, TRIGGER_TAG
from benchgen_dagster.resources.settings import PipelineSettings
from benchgen_dagster.resources.storage import StorageResource, asset_prefix
from benchgen_dagster.schema.records import RECORD_TYPES, FamilyScript
from benchgen_dagster.stores.bundles import read_bundle
from benchgen_dagster.stores.local import Store

MAX_REPAIRS = 2


# The daemon evaluates sensors every 5 s at most (its loop); the requests sensor and the release
# are cheap (a folder listing, one run's status), so they run on every loop. The stale sensor
# reads every partition and stays slower.
REACT_SECONDS = 1


@sensor(
    job=build_partition,
    minimum_interval_seconds=REACT_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Watches the requests folder (`data/requests/`, or `$BENCHGEN_DATA_DIR/requests`) "
    "for YAML generation requests (`benchgen request` writes one). A valid request becomes a "
    "partition and a run; a bad file is moved to `rejected/` with every problem beside it, and "
    "the tick says why. The cursor holds the run key of every request already run, so a "
    "restart neither loses nor repeats one.",
)
def new_requests(context: SensorEvaluationContext, settings: PipelineSettings) -> SensorResult:
    book = settings.requests
    intake = book.intake()
    for name, reason in intake.rejected:
        context.log.warning(f"rejected {name}: {reason} (moved to {book.rejected_folder})")
    for name, note in intake.notes:
        context.log.info(f"{name}: {note}")
    for request in intake.accepted:
        seeds = seed_span(request.seeds)
        context.log.info(f"accepted {request.request_id}: {request.prompt!r}, {seeds}")
    run_keys = _run_keys(book)
    done = _requested(context.cursor, run_keys)
    pending = {rid: key for rid, key in run_keys.items() if done.get(rid) != key}
    known = set(context.instance.get_dynamic_partitions(requests_partitions.name))
    new_partitions = [rid for rid in pending if rid not in known]
    cursor = json.dumps(run_keys, sort_keys=True)
    if not pending:
        return SensorResult(skip_reason=_nothing_to_run(intake, book), cursor=cursor)
    return SensorResult(
        run_requests=[
            RunRequest(partition_key=rid, run_key=key, tags={TRIGGER_TAG: "request"})
            for rid, key in pending.items()
        ],
        dynamic_partitions_requests=(
            [requests_partitions.build_add_request(new_partitions)] if new_partitions else []
        ),
        cursor=cursor,
    )


def _run_keys(book: RequestBook) -> dict[str, str]:
    """A run key per accepted request, new each time it is accepted: Dagster runs a run key
    once per sensor, and a request forgotten and sent again must run again."""
    keys = {}
    for rid in book.accepted_ids():
        try:
            keys[rid] = f"request:{rid}:{book.accepted_path(rid).stat().st_mtime_ns}"
        except FileNotFoundError:  # forgotten since it was listed
            continue
    return keys


def _requested(cursor: str | None, run_keys: dict[str, str]) -> dict[str, str]:
    """The run keys the cursor says were asked for already."""
    done = json.loads(cursor) if cursor else {}
    if isinstance(done, list):  # an earlier cursor: the request ids only
        return {rid: run_keys[rid] for rid in done if rid in run_keys}
    return done


def _nothing_to_run(intake: Intake, book: RequestBook) -> str:
    if intake.rejected:
        files = " | ".join(f"rejected {name}: {reason}" for name, reason in intake.rejected)
        return f"nothing to run: {files} (moved to {book.rejected_folder})"
    if intake.notes:
        return "nothing new: " + "; ".join(f"{name}: {note}" for name, note in intake.notes)
    return f"no new request in {book.folder}"


@sensor(
    name="stale_partitions",
    job=build_partition,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Re-runs exactly the partitions whose inputs changed since their shards were "
    "built: their request, family script or the kit it imports, the validator or the settings. "
    "Dagster's own unsynced marks show changed code versions and upstream data versions; this "
    "sensor also sees what changes outside Dagster (a script on disk, the settings) and runs it.",
)
def stale_partitions_sensor(
    context: SensorEvaluationContext, settings: PipelineSettings
) -> SensorResult | SkipReason:
    stale = stale_partitions(context.instance, settings, log=context.log)
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
    minimum_interval_seconds=REACT_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Releases the dataset again as soon as a partition is built from the UI or a "
    "sensor (`benchgen build` releases once after all its partitions).",
)
def release_after_build(context: RunStatusSensorContext) -> RunRequest | SkipReason:
    if context.dagster_run.tags.get(BUILD_TAG):
        return SkipReason("`benchgen build` releases by itself")
    return RunRequest(run_key=f"release-after:{context.dagster_run.run_id}")


@sensor(
    job=release_dataset,
    minimum_interval_seconds=REACT_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Releases the dataset again when a curator decides (`benchgen review`, or the "
    "review page) or its policy changes: the decisions log under `curation/<dataset>/` is "
    "append-only, so the cursor is a digest of its file names and the policy.",
)
def release_after_decision(
    context: SensorEvaluationContext, settings: PipelineSettings, storage: StorageResource
) -> RunRequest | SkipReason:
    log = CurationLog(storage.store(), settings.dataset)
    keys = log.decision_keys()
    if not keys and log.policy() == "auto":
        return SkipReason(f"no curator has decided on {settings.dataset} yet")
    digest = hashlib.sha256("\n".join([log.policy(), *keys]).encode()).hexdigest()[:16]
    if context.cursor == digest:
        return SkipReason(f"no new decision ({len(keys)} in the log)")
    context.update_cursor(digest)
    return RunRequest(run_key=f"decisions:{digest}", tags={TRIGGER_TAG: "decision"})


@sensor(
    job=build_partition,
    minimum_interval_seconds=REACT_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Runs a partition again once a curator approved (or edited) the plan it "
    "stopped at (a request with `review_plan: true`); `scenario_plans` then takes that plan "
    "and the Planner is not asked again.",
)
def resume_reviewed_plans(
    context: SensorEvaluationContext, settings: PipelineSettings, storage: StorageResource
) -> SensorResult | SkipReason:
    done = json.loads(context.cursor) if context.cursor else {}
    approved = {
        r.request_id: r.at or ""
        for r in PlanReviews(storage.store(), settings.dataset).all()
        if r.status == "approved"
    }
    resumed = {rid: at for rid, at in approved.items() if done.get(rid) != at}
    if not resumed:
        return SkipReason("no plan approved since the last tick")
    return SensorResult(
        run_requests=[
            RunRequest(
                partition_key=rid, run_key=f"plan:{rid}:{at}", tags={TRIGGER_TAG: "plan-review"}
            )
            for rid, at in sorted(resumed.items())
        ],
        cursor=json.dumps({**done, **resumed}, sort_keys=True),
    )


@sensor(
    job=build_partition,
    minimum_interval_seconds=REACT_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=f"A curator's rejection of an agent-written family's scenarios sends the family "
    f"back to the Coder: one more validation round on its script, with the rejection's note as "
    f"feedback (tag `{FEEDBACK_TAG}`), then the partition's variants, renders and shards again. "
    f"At most {MAX_REPAIRS} per partition.",
)
def send_back_rejected_family(
    context: SensorEvaluationContext, settings: PipelineSettings, storage: StorageResource
) -> SensorResult | SkipReason:
    store = storage.store()
    # the decisions sent back, per partition, and those seen but not sent (over the bound)
    cursor = json.loads(context.cursor) if context.cursor else {"sent": {}, "passed": []}
    sent: dict[str, list[str]] = cursor["sent"]
    handled = {d for decisions in sent.values() for d in decisions} | set(cursor["passed"])
    new = [
        d
        for d in CurationLog(store, settings.dataset).decisions()
        if d.action == "reject" and d.decision_id not in handled
    ]
    if not new:  # the common tick: nothing else is read
        return SensorResult(
            skip_reason="no new rejection", cursor=json.dumps(cursor, sort_keys=True)
        )
    staging = Staging.read(store, settings.dataset)
    requests, skipped = [], []
    for decision in new:
        partitions = (
            {decision.partition}
            if decision.partition
            else {
                staging.scenarios[sid].partition
                for sid in decision.scenarios
                if sid in staging.scenarios
            }
        )
        for partition in sorted(p for p in partitions if p and _agent_written(store, p)):
            if len(sent.get(partition, [])) >= MAX_REPAIRS:
                skipped.append(f"{partition}: sent back {MAX_REPAIRS} times already")
                cursor["passed"].append(decision.decision_id)
                continue
            sent.setdefault(partition, []).append(decision.decision_id)
            requests.append(
                RunRequest(
                    partition_key=partition,
                    run_key=f"curator:{decision.decision_id}:{partition}",
                    tags={TRIGGER_TAG: "curator", FEEDBACK_TAG: decision.decision_id},
                    asset_selection=[AssetKey(a) for a in FROM_SCRIPTS],
                )
            )
    if not requests:
        reason = "; ".join(skipped) or "no new rejection of an agent-written family"
        return SensorResult(skip_reason=reason, cursor=json.dumps(cursor, sort_keys=True))
    return SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))


FROM_SCRIPTS = [
    "family_scripts",
    "scenario_variants",
    "validated_simulations",
    "scenario_renders",
    "dataset_shards",
]


def _agent_written(store: Store, partition: str) -> bool:
    try:
        script = read_bundle(store, asset_prefix("family_scripts", partition), RECORD_TYPES)
    except FileNotFoundError:
        return False
    return isinstance(script, FamilyScript) and script.origin == "agent"


@run_failure_sensor(
    monitored_jobs=[build_partition],
    request_job=build_partition,
    default_status=DefaultSensorStatus.RUNNING,
    description=f"A failed partition run (a failed blocking check fails its run) is run again, "
    f"at most {MAX_REPAIRS} times; the attempt is in the `{REPAIR_TAG}` tag. A run that failed "
    f"on bad input (its failing step says `{RETRYABLE}: false`) is left failed: another run "
    f"would only repeat it.",
)
def repair_failed_partition(context: RunFailureSensorContext) -> RunRequest | SkipReason:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition")
    attempt = int(run.tags.get(REPAIR_TAG, "0"))
    if run.tags.get(BUILD_TAG) or partition is None:
        return SkipReason("not a partition run of the UI or a sensor")
    if cause := _retry_cannot_help(context):
        return SkipReason(f"{partition} failed on what a retry cannot fix ({cause}); left failed")
    if attempt >= MAX_REPAIRS:
        return SkipReason(f"{partition} failed after {attempt} repairs; leaving it failed")
    return RunRequest(
        partition_key=partition,
        run_key=f"repair:{run.run_id}",
        tags={TRIGGER_TAG: "repair", REPAIR_TAG: str(attempt + 1)},
    )


def _retry_cannot_help(context: RunFailureSensorContext) -> str | None:
    """The failure of a step that marked it `retryable: false`, if the run has one."""
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        failure = data.user_failure_data if data else None
        marked = failure.metadata.get(RETRYABLE) if failure else None
        if failure and marked is not None and marked.value is False:
            return f"{event.step_key}: {failure.description}"
    return None


ALL_SENSORS = [
    new_requests,
    stale_partitions_sensor,
    release_after_build,
    release_after_decision,
    resume_reviewed_plans,
    send_back_rejected_family,
    repair_failed_partition,
]
