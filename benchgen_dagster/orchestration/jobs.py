"""The jobs: a whole partition, each stage on its own for re-runs, the release, and forgetting
a partition."""

import shutil
from pathlib import Path

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    AssetSelection,
    Config,
    DagsterInstance,
    Failure,
    OpExecutionContext,
    RunsFilter,
    define_asset_job,
    job,
    op,
)
from dagster_docker import docker_executor
from pydantic import Field

from benchgen_dagster.assets import PARTITIONED_ASSETS
from benchgen_dagster.assets.partitions import requests_partitions
from benchgen_dagster.catalogue.requests import RequestBook
from benchgen_dagster.errors import UserError
from benchgen_dagster.resources.settings import PipelineSettings
from benchgen_dagster.resources.storage import StorageResource, asset_prefix
from benchgen_dagster.stores.local import LocalStore, Store

PARTITION_TAG = "dagster/partition"

build_partition = define_asset_job(
    "build_partition",
    selection=PARTITIONED_ASSETS,
    description="Generate, validate, render and shard one request's variants.",
)

build_partition_in_docker = define_asset_job(
    "build_partition_in_docker",
    selection=PARTITIONED_ASSETS,
    executor_def=docker_executor,
    description="The same steps as build_partition, each in its own container "
    "(dagster-docker's docker_executor); see the README's scale-out section for its config.",
)


# Each stage of a partition on its own, for re-runs: (job, its assets, description).
STAGES = [
    (
        "generate",
        ["generation_requests", "scenario_plans", "family_scripts", "scenario_variants"],
        "Stage 1 of a partition: read the request, plan, script, and run the variants in the "
        "sandbox.",
    ),
    (
        "validate",
        ["validated_simulations"],
        "Stage 2: the validation funnel, from stored variants.",
    ),
    ("render", ["scenario_renders"], "Stage 3: offscreen renders of accepted variants."),
    ("package", ["dataset_shards"], "Stage 4: the partition's shards and index rows."),
]

# Partitioning is inferred from the selected assets.
stage_jobs = [
    define_asset_job(
        name,
        selection=AssetSelection.assets(*assets),
        description=description,
        tags={"benchgen/stage": name},
    )
    for name, assets, description in STAGES
]

release_dataset = define_asset_job(
    "release_dataset",
    selection=["dataset_release"],
    description="Publish every materialized partition as the dataset.",
)

score_baselines = define_asset_job(
    "score_baselines",
    selection=["solver_baselines"],
    description="Score the built-in baselines on the released dataset's test split and add "
    "their leaderboard to the release (`benchgen build --baselines` runs it after the release).",
)


class ForgetConfig(Config):
    request_id: str = Field(description="The request to forget: its partition key")


@op(description="Remove one partition and everything made for it (see `forget_request`).")
def forget_partition(
    context: OpExecutionContext,
    config: ForgetConfig,
    settings: PipelineSettings,
    storage: StorageResource,
) -> None:
    try:
        removed = forget(
            context.instance,
            storage.store(),
            settings.requests,
            config.request_id,
            settings.root / "agents",
        )
    except UserError as error:
        raise Failure(description=str(error), allow_retries=False) from None
    for line in removed:
        context.log.info(f"removed {line}")


@job(
    description="Forget a request: its dynamic partition, its runs and their materializations, "
    "its stored asset values (`assets/<asset>/<request_id>/`), its accepted request file and "
    "the generator agent's workspace. "
    "The next release leaves its scenarios out. Config: `ops: {forget_partition: {config: "
    "{request_id: ...}}}`; `benchgen forget REQUEST_ID` runs the same job."
)
def forget_request() -> None:
    forget_partition()


def forget(
    instance: DagsterInstance,
    store: Store,
    book: RequestBook,
    request_id: str,
    workspaces: Path | None = None,
) -> list[str]:
    """Remove everything made for one partition; what was removed, in words. Safe to run
    again after an interruption: each part is removed only if it is still there."""
    runs = instance.get_runs(filters=RunsFilter(tags={PARTITION_TAG: request_id}))
    if busy := [run.run_id for run in runs if not run.is_finished]:
        raise UserError(
            f"partition {request_id!r} has runs in progress ({', '.join(busy)}); "
            f"wait for them or terminate them first"
        )
    removed = []
    if instance.has_dynamic_partition(requests_partitions.name, request_id):
        instance.delete_dynamic_partition(requests_partitions.name, request_id)
        removed.append(f"partition {request_id!r} of {requests_partitions.name!r}")
    keys = [key for asset in PARTITIONED_ASSETS for key in asset.keys]
    materialized = [
        key.to_user_string() for key in keys if _materialized(instance, key, request_id)
    ]
    try:
        for key in keys:
            instance.wipe_asset_partitions(key, [request_id])
    except NotImplementedError:
        # Dagster's open-source storages cannot wipe one partition of an asset: deleting the
        # partition's runs deletes their materializations instead.
        for run in runs:
            instance.delete_run(run.run_id)
        if runs:
            removed.append(f"{len(runs)} run(s) of it, with their events")
    instance.wipe_asset_cached_status(keys)  # the UI's partition status, rebuilt on demand
    if materialized:
        removed.append(f"its materializations of {', '.join(materialized)}")
    files = _delete_values(store, request_id)
    if files:
        removed.append(f"{files} stored file(s) under {asset_prefix('<asset>', request_id)}/")
    if book.forget(request_id):
        removed.append(f"accepted request {book.accepted_path(request_id)}")
    workspace = workspaces / request_id if workspaces else None
    if workspace and workspace.is_dir():
        shutil.rmtree(workspace)
        removed.append(f"the agent's workspace {workspace}")
    if not removed:
        raise UserError(
            f"nothing to forget for {request_id!r}: no such partition, run, stored value or "
            f"accepted request"
        )
    return removed


def _materialized(instance: DagsterInstance, key: AssetKey, partition: str) -> bool:
    filters = AssetRecordsFilter(asset_key=key, asset_partitions=[partition])
    return bool(instance.fetch_materializations(filters, limit=1).records)


def _delete_values(store: Store, request_id: str) -> int:
    count = 0
    for asset in PARTITIONED_ASSETS:
        prefix = asset_prefix(asset.key.to_user_string(), request_id)
        for key in store.list(prefix):
            store.delete(key)
            count += 1
        if isinstance(store, LocalStore):  # the folders, and any temporary file of a killed run
            shutil.rmtree(store.path(prefix), ignore_errors=True)
    return count


def run_forget(
    request_id: str, instance: DagsterInstance, resources: dict[str, object]
) -> list[str]:
    """`forget_request` run in this process, as `benchgen forget` does: what it removed, or
    a UserError saying why nothing was."""
    result = forget_request.execute_in_process(
        instance=instance,
        resources=resources,
        run_config={
            "ops": {"forget_partition": {"config": {"request_id": request_id}}},
            "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},  # said by the caller
        },
        raise_on_error=False,
    )
    if not result.success:
        failures = [e.step_failure_data for e in result.all_events if e.is_step_failure]
        raise UserError(
            "; ".join(
                (f.user_failure_data.description if f.user_failure_data else None)
                or (f.error.message.strip() if f.error else "")
                for f in failures
                if f
            )
            or f"the forget_request run {result.run_id} failed"
        )
    return [
        entry.user_message.removeprefix("removed ")
        for entry in instance.all_logs(result.run_id)
        if entry.dagster_event is None and entry.user_message.startswith("removed ")
    ]
