"""Renders, shards and the released dataset."""

import base64
from collections.abc import Iterable
from itertools import islice

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    Failure,
    MetadataValue,
    Output,
    asset,
)

from benchgen_dagster.assets.metadata import funnel_table
from benchgen_dagster.assets.partitions import STEP_RETRIES, requests_partitions
from benchgen_dagster.curation.log import CurationLog, utc_now
from benchgen_dagster.curation.staging import Staging
from benchgen_dagster.dataset.figures import shrink_png
from benchgen_dagster.dataset.release import (
    CARD,
    CONTACT_SHEET,
    exact_duplicates,
    pack_shards,
    write_release,
)
from benchgen_dagster.dataset.tiers import release_tier_mix, tier_problems
from benchgen_dagster.resources.settings import PipelineSettings
from benchgen_dagster.resources.storage import StorageResource, asset_prefix
from benchgen_dagster.schema.contract import DatasetManifest, PartitionLineage
from benchgen_dagster.schema.records import RECORD_TYPES, FamilyScript, GenerationRequest
from benchgen_dagster.stores.bundles import Bundle, read_bundle
from benchgen_dagster.stores.local import Store
from benchgen_dagster.validation import steps
from benchgen_dagster.validation.funnel import validator_version

GROUP = "packaging"
PREVIEW_WIDTH = 800  # the contact sheet in the UI: its family names still legible
PREVIEWS = 4
NO_DUPLICATES = "no_duplicates_across_partitions"
TIER_MIX = "difficulty_tier_mix"
REVIEW_BACKLOG = "review_backlog"


@asset(
    retry_policy=STEP_RETRIES,
    partitions_def=requests_partitions,
    group_name=GROUP,
    kinds={"mujoco", "png"},
    code_version=steps.module_version("validation/render.py"),
    description="Offscreen renders of every accepted scenario from fixed cameras, with a few "
    "previews in the metadata.",
)
def scenario_renders(
    context: AssetExecutionContext, settings: PipelineSettings, validated_simulations: Bundle
) -> Bundle:
    bundle = steps.render_scenarios(
        validated_simulations, settings.cameras, settings.render_width, settings.render_height
    )
    context.add_output_metadata(
        {
            "rendered": sum(r.stage.passed for r in bundle.record.results),
            "failed": sum(not r.stage.passed for r in bundle.record.results),
            "cameras": ", ".join(settings.cameras),
            "preview": render_previews(bundle, [r.scenario_id for r in bundle.record.results]),
        }
    )
    return bundle


def render_previews(renders: Bundle, scenario_ids: Iterable[str]) -> MetadataValue:
    """The renders of the first few of these scenarios that have any, inline, for the UI."""
    files = {r.scenario_id: r.files for r in renders.record.results}
    previews = [
        f"**{sid}**\n\n"
        + " ".join(
            f"![{name}](data:image/png;base64,{base64.b64encode(renders.files[name]).decode()})"
            for name in files[sid]
        )
        for sid in islice((sid for sid in scenario_ids if files.get(sid)), PREVIEWS)
    ]
    return MetadataValue.md("\n\n".join(previews) or "Nothing rendered.")


@asset(
    retry_policy=STEP_RETRIES,
    partitions_def=requests_partitions,
    group_name=GROUP,
    kinds={"tar"},
    code_version=steps.module_version("dataset/release.py", "dataset/members.py"),
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
            "funnel": funnel_table(batch.funnel),
            "request_id": generation_requests.request_id,
            "prompt": generation_requests.prompt,
            "script_sha256": family_scripts.sha256,
            "family_code_version": family_scripts.code_version,
            "validator_version": validator_version(),
            "fingerprint": settings.inputs_fingerprint(generation_requests, family_scripts),
            "seeds": f"{generation_requests.seeds.start}–{generation_requests.seeds.stop - 1}",
            "preview": render_previews(scenario_renders, [r.scenario_id for r in batch.rows]),
        }
    )
    return bundle


@asset(
    retry_policy=STEP_RETRIES,
    group_name=GROUP,
    kinds={"parquet"},
    code_version=steps.module_version(
        "dataset/release.py",
        "dataset/members.py",
        "dataset/card.py",
        "dataset/card.md.j2",
        "dataset/figures.py",
        "dataset/diversity.py",
        "dataset/tiers.py",
        "curation/staging.py",
    ),
    deps=[dataset_shards],
    check_specs=[
        AssetCheckSpec(
            NO_DUPLICATES,
            asset="dataset_release",
            blocking=True,
            description="No scenario is in two partitions (the same scenery and parameters "
            "under two requests); a release that would hold one is not written.",
        ),
        AssetCheckSpec(
            TIER_MIX,
            asset="dataset_release",
            blocking=True,
            description="Every packaged scenario has a difficulty tier and none is trivial for "
            "random designs (Wilson lower bound of the random solve rate below 10%); a release "
            "that breaks this is not written.",
        ),
        AssetCheckSpec(
            REVIEW_BACKLOG,
            asset="dataset_release",
            description="Warns when a dataset under the `review` policy has staged scenarios "
            "that have waited more than a day for a curator's decision (`benchgen review`).",
        ),
    ],
    description="The released dataset: the promoted scenarios of every materialized "
    "partition (all that passed the funnel under the `auto` policy, what a curator approved "
    "under `review`) as `shards/<split>-<request>-<nnnnn>.tar`, index.parquet, the card and "
    "its pictures, curation.json (the decisions that let each shard in), and manifest.json "
    "written last.",
)
def dataset_release(
    context: AssetExecutionContext, settings: PipelineSettings, storage: StorageResource
):  # type: ignore[no-untyped-def]
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
    curation_log = CurationLog(store, settings.dataset)
    staging = Staging.of(batches, curation_log.decisions(), curation_log.policy())
    backlog = review_backlog_check(staging, curation_log.note_staged(list(staging.scenarios)))
    batches, curation = staging.promotion()
    lineage = [p for p in lineage if p.request_id in batches]
    if not batches:
        yield backlog
        raise Failure(
            description=f"not released: nothing is promoted under the {staging.policy} policy "
            f"({curation.awaiting_review} staged scenarios await review, {curation.rejected} "
            "rejected); approve some with `benchgen review`",
            allow_retries=False,
        )
    duplicates = exact_duplicates(batches)
    if duplicates:
        yield duplicates_check(duplicates, len(batches))
        raise Failure(
            description=f"not released: {len(duplicates)} scenarios are in more than one "
            "partition with the same scenery and parameters ("
            + "; ".join(" = ".join(group) for group in duplicates[:3])
            + "); give the repeating requests other seeds or remove them",
            allow_retries=False,  # the same partitions would give the same duplicates
        )
    rows = [row for bundle in batches.values() for row in bundle.record.rows]
    problems = tier_problems(rows)
    if problems:
        yield duplicates_check([], len(batches))
        yield tier_mix_check(problems, release_tier_mix(rows))
        raise Failure(
            description=f"not released: {len(problems)} packaged scenarios break the tier "
            "mix (" + "; ".join(problems[:3]) + ")",
            allow_retries=False,
        )
    manifest = write_release(
        store,
        settings.dataset,
        batches,
        lineage,
        {"validator": validator_version()},
        settings.dataset_license,
        cameras=settings.cameras,
        curation=curation,
    )
    root = f"datasets/{settings.dataset}"
    yield Output(
        manifest,
        metadata={
            "path": store.uri(root),
            "version": manifest.version,
            "scenarios": sum(manifest.counts["splits"].values()),
            "splits": MetadataValue.json(manifest.counts["splits"]),
            "families": MetadataValue.json(manifest.counts["families"]),
            "funnel": funnel_table(manifest.counts["stages"]),
            "policy": curation.policy,
            "staged": curation.staged,
            "promoted": curation.promoted,
            "awaiting_review": curation.awaiting_review,
            "rejected_by_curator": curation.rejected,
            "decisions": len(curation.decisions),
            "partitions": MetadataValue.json([p.model_dump() for p in manifest.partitions]),
            "card": MetadataValue.md(store.get(f"{root}/{CARD}").decode()),
            "pictures": MetadataValue.md(_pictures_preview(store, root, manifest)),
            "tier_mix": tier_mix_table(release_tier_mix(rows)),
        },
    )
    yield duplicates_check([], len(batches))
    yield tier_mix_check([], release_tier_mix(rows))
    yield backlog


def review_backlog_check(staging: Staging, staged_at: dict[str, str]) -> AssetCheckResult:
    late = staging.overdue(staged_at, utc_now()) if staging.policy == "review" else []
    return AssetCheckResult(
        check_name=REVIEW_BACKLOG,
        passed=not late,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "policy": staging.policy,
            "awaiting_review": len(staging.waiting()),
            "waiting_over_a_day": len(late),
            "oldest": MetadataValue.md(
                "\n".join(f"- {sid}, staged {since}" for sid, since in late[:50])
                or "Nothing has waited a day."
            ),
        },
    )


def tier_mix_table(mix: dict[str, dict[str, int]]) -> MetadataValue:
    tiers = list(mix["all"])
    rows = [
        f"| {family} | " + " | ".join(str(n) for n in counts.values()) + " |"
        for family, counts in mix.items()
    ]
    header = ["| family | " + " | ".join(tiers) + " |", "|---|" + "---|" * len(tiers)]
    return MetadataValue.md("\n".join([*header, *rows]))


def tier_mix_check(problems: list[str], mix: dict[str, dict[str, int]]) -> AssetCheckResult:
    return AssetCheckResult(
        check_name=TIER_MIX,
        passed=not problems,
        metadata={
            "problems": len(problems),
            "tiers": MetadataValue.json(mix["all"]),
            "tier_mix": tier_mix_table(mix),
            "details": MetadataValue.md(
                "\n".join(f"- {p}" for p in problems[:50]) or "Every scenario has a tier."
            ),
        },
    )


def duplicates_check(duplicates: list[list[str]], partitions: int) -> AssetCheckResult:
    rows = [f"| {', '.join(group)} |" for group in duplicates]
    return AssetCheckResult(
        check_name=NO_DUPLICATES,
        passed=not duplicates,
        metadata={
            "duplicates": len(duplicates),
            "partitions": partitions,
            "groups": MetadataValue.md(
                "\n".join(["| one scenario, as `<request>/<scenario id>` |", "|---|", *rows])
                if rows
                else "No scenario is in two partitions."
            ),
        },
    )


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
