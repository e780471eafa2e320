"""Renders, shards and the released dataset."""

import base64

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    MetadataValue,
    asset,
)

from benchgen_dagster.assets.partitions import STEP_RETRIES, requests_partitions
from benchgen_dagster.dataset.figures import shrink_png
from benchgen_dagster.dataset.release import CARD, CONTACT_SHEET, pack_shards, write_release
from benchgen_dagster.resources.settings import PipelineSettings
from benchgen_dagster.resources.storage import StorageResource, asset_prefix
from benchgen_dagster.schema.contract import DatasetManifest, PartitionLineage
from benchgen_dagster.schema.records import RECORD_TYPES, FamilyScript, GenerationRequest
from benchgen_dagster.stores.bundles import Bundle, read_bundle
from benchgen_dagster.stores.local import Store
from benchgen_dagster.validation import steps
from benchgen_dagster.validation.funnel import validator_version

GROUP = "packaging"
PREVIEW_WIDTH = 480
PREVIEWS = 4


@asset(
    retry_policy=STEP_RETRIES,
    partitions_def=requests_partitions,
    group_name=GROUP,
    kinds={"mujoco", "png"},
    description="Offscreen renders of every accepted scenario from fixed cameras, with a few "
    "previews in the metadata.",
)
def scenario_renders(
    context: AssetExecutionContext, settings: PipelineSettings, validated_simulations: Bundle
) -> Bundle:
    bundle = steps.render_scenarios(
        validated_simulations, settings.cameras, settings.render_width, settings.render_height
    )
    previews = [
        f"**{r.scenario_id}**\n\n"
        + " ".join(
            f"![{name}](data:image/png;base64,{base64.b64encode(bundle.files[name]).decode()})"
            for name in r.files
        )
        for r in bundle.record.results[:PREVIEWS]
        if r.files
    ]
    context.add_output_metadata(
        {
            "rendered": sum(r.stage.passed for r in bundle.record.results),
            "failed": sum(not r.stage.passed for r in bundle.record.results),
            "cameras": ", ".join(settings.cameras),
            "preview": MetadataValue.md("\n\n".join(previews) or "Nothing rendered."),
        }
    )
    return bundle


@asset(
    retry_policy=STEP_RETRIES,
    partitions_def=requests_partitions,
    group_name=GROUP,
    kinds={"tar"},
    description="WebDataset-style tars of this request's packaged scenarios, with their index "
    "rows and the funnel counts.",
)
def dataset_shards(
    context: AssetExecutionContext,
    settings: PipelineSettings,
    generation_requests: GenerationRequest,
    family_scripts: FamilyScript,
    validated_simulations: Bundle,
    scenario_renders: Bundle,
) -> Bundle:
    bundle = pack_shards(
        generation_requests, family_scripts, validated_simulations, scenario_renders
    )
    batch = bundle.record
    context.add_output_metadata(
        {
            "packaged": len(batch.rows),
            "split": batch.split.value,
            "shards": MetadataValue.json([s.model_dump() for s in batch.shards]),
            "funnel": MetadataValue.json(batch.funnel),
            "request_id": generation_requests.request_id,
            "prompt": generation_requests.prompt,
            "script_sha256": family_scripts.sha256,
            "family_code_version": family_scripts.code_version,
            "validator_version": validator_version(),
            "fingerprint": settings.fingerprint(generation_requests, family_scripts),
            "seeds": f"{generation_requests.seeds.start}–{generation_requests.seeds.stop - 1}",
        }
    )
    return bundle


@asset(
    retry_policy=STEP_RETRIES,
    group_name=GROUP,
    kinds={"parquet"},
    deps=[dataset_shards],
    description="The released dataset: every materialized partition's shards renamed by split, "
    "index.parquet, and manifest.json written last.",
)
def dataset_release(
    context: AssetExecutionContext, settings: PipelineSettings, storage: StorageResource
) -> DatasetManifest:
    store = storage.store()
    shards_key = AssetKey("dataset_shards")
    partitions = sorted(
        set(context.instance.get_materialized_partitions(shards_key))
        & set(context.instance.get_dynamic_partitions(requests_partitions.name))
    )
    batches: dict[str, Bundle] = {}
    lineage = []
    for partition in partitions:
        request = read_bundle(store, asset_prefix("generation_requests", partition), RECORD_TYPES)
        if not isinstance(request, GenerationRequest) or request.dataset != settings.dataset:
            continue
        batch = read_bundle(store, asset_prefix("dataset_shards", partition), RECORD_TYPES)
        assert isinstance(batch, Bundle)
        batches[partition] = batch
        record = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=shards_key, asset_partitions=[partition]), limit=1
        ).records
        script = read_bundle(store, asset_prefix("family_scripts", partition), RECORD_TYPES)
        lineage.append(
            PartitionLineage(
                request_id=partition,
                family=batch.record.family,
                prompt=request.prompt,
                run_id=record[0].run_id if record else None,
                materialized_at=record[0].timestamp if record else None,
                family_code_version=script.code_version if isinstance(script, FamilyScript) else "",
                funnel=batch.record.funnel,
            )
        )
    if not batches:
        raise RuntimeError(
            "no materialized dataset_shards partitions to release; materialize "
            "the partitioned assets first (make dataset)"
        )
    manifest = write_release(
        store,
        settings.dataset,
        batches,
        lineage,
        {"validator": validator_version()},
        settings.dataset_license,
    )
    root = f"datasets/{settings.dataset}"
    context.add_output_metadata(
        {
            "path": store.uri(root),
            "version": manifest.version,
            "scenarios": sum(manifest.counts["splits"].values()),
            "splits": MetadataValue.json(manifest.counts["splits"]),
            "families": MetadataValue.json(manifest.counts["families"]),
            "funnel": MetadataValue.json(manifest.counts["stages"]),
            "partitions": MetadataValue.json([p.model_dump() for p in manifest.partitions]),
            "card": MetadataValue.md(store.get(f"{root}/{CARD}").decode()),
            "pictures": MetadataValue.md(_pictures_preview(store, root, manifest)),
        }
    )
    return manifest


def _pictures_preview(store: Store, root: str, manifest: DatasetManifest) -> str:
    """The release's contact sheet (shrunk) and plots, inline, so the UI shows them."""
    images = []
    for entry in manifest.files:
        if entry.path.endswith(".png"):
            data = store.get(f"{root}/{entry.path}")
            if entry.path == CONTACT_SHEET:
                data = shrink_png(data, PREVIEW_WIDTH)
            images.append(
                f"![{entry.path}](data:image/png;base64,{base64.b64encode(data).decode()})"
            )
    return "\n\n".join(images) or "No pictures."
