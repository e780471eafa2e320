"""Which partitions are stale: their shards were built from other inputs than today's.

A partition's fingerprint covers its request, its family script (and the modules the script
imports), the validator and the render settings. The last `dataset_shards` materialization
records the fingerprint it was built with; a partition is stale when that differs from the
fingerprint of what it would be built from now.
"""

from __future__ import annotations

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

from benchgen_dagster.assets.partitions import requests_partitions
from benchgen_dagster.catalogue.registry import get_family
from benchgen_dagster.catalogue.requests import RequestError
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
    if request.family is None:
        return None
    return settings.fingerprint(request, get_family(request.family).script())


def stale_partitions(instance: DagsterInstance, settings: PipelineSettings) -> dict[str, str]:
    """Materialized partitions whose fingerprint changed, with their new fingerprint."""
    stale = {}
    for partition in instance.get_dynamic_partitions(requests_partitions.name):
        recorded = recorded_fingerprint(instance, partition)
        current = current_fingerprint(settings, partition)
        if recorded is not None and current is not None and recorded != current:
            stale[partition] = current
    return stale
