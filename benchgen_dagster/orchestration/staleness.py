"""Which partitions are stale in ways Dagster cannot see for itself.

Dagster marks a partition unsynced when the code version of one of its assets changed or an
upstream partition was materialized with a new data version. It cannot see inputs that change
outside a materialization: a built-in family's script (or the kit it imports) edited on disk,
a request's file, the settings. A partition's fingerprint (`steps.inputs_fingerprint`) covers
them all, and the validator; the last `dataset_shards` materialization records the fingerprint
it was built with, and a partition is stale when that differs from the fingerprint of what it
would be built from now.
"""

from __future__ import annotations

import logging

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from benchgen_dagster.assets.partitions import requests_partitions
from benchgen_dagster.catalogue.registry import get_family
from benchgen_dagster.catalogue.requests import RequestError
from benchgen_dagster.courses.script import spec_script
from benchgen_dagster.errors import UserError
from benchgen_dagster.resources.settings import PipelineSettings


def recorded_fingerprint(instance: DagsterInstance, partition: str) -> str | None:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("dataset_shards"), asset_partitions=[partition]),
        limit=1,
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get("fingerprint")
    return None if value is None else str(value.value)


def current_fingerprint(settings: PipelineSettings, partition: str) -> str | None:
    """The fingerprint the partition would be built with now; None for an agent-written
    family (its script is regenerated only on request) or a request that is gone."""
    try:
        request = settings.requests.load(partition)
    except RequestError:
        return None
    if request.spec is not None:
        script = spec_script(request.spec, request.request_id, "spec")
        return settings.inputs_fingerprint(request, script)
    if request.family is None:
        return None
    return settings.inputs_fingerprint(request, get_family(request.family).script())


def stale_partitions(
    instance: DagsterInstance, settings: PipelineSettings, log: logging.Logger | None = None
) -> dict[str, str]:
    """Materialized partitions whose fingerprint changed, with their new fingerprint. A
    partition whose request is bad (an unknown family, say) is logged and skipped: it never
    stops the others."""
    stale = {}
    for partition in instance.get_dynamic_partitions(requests_partitions.name):
        recorded = recorded_fingerprint(instance, partition)
        try:
            current = current_fingerprint(settings, partition)
        except UserError as error:
            (log or logging.getLogger(__name__)).warning(f"skipped partition {partition}: {error}")
            continue
        if recorded is not None and current is not None and recorded != current:
            stale[partition] = current
    return stale
