"""Running family scripts in the sandbox and proving each variant through the funnel."""

import math

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MetadataValue,
    Output,
    asset,
)

from benchgen_dagster.assets.metadata import (
    difficulty_metadata,
    diversity_metadata,
    funnel_metadata,
)
from benchgen_dagster.assets.partitions import STEP_RETRIES, requests_partitions
from benchgen_dagster.dataset.diversity import batch_diversity
from benchgen_dagster.resources.settings import PipelineSettings
from benchgen_dagster.resources.workers import SandboxResource
from benchgen_dagster.schema.contract import Diversity, Reason
from benchgen_dagster.schema.records import (
    DifficultyDraw,
    FamilyScript,
    GenerationRequest,
    ValidationBatch,
)
from benchgen_dagster.stores.bundles import Bundle
from benchgen_dagster.validation import steps
from benchgen_dagster.validation.funnel import validator_version

GROUP = "validation"


def _progress(context: AssetExecutionContext, what: str):  # type: ignore[no-untyped-def]
    step = 0

    def report(done: int, total: int) -> None:
        nonlocal step
        if done == total or done * 10 // total > step:
            step = done * 10 // total
            context.log.info(f"{what}: {done}/{total}")

    return report


@asset(
    retry_policy=STEP_RETRIES,
    partitions_def=requests_partitions,
    group_name=GROUP,
    kinds={"python", "docker"},
    code_version=steps.module_version("sandbox/worker.py", "sandbox/protocol.py"),
    description="Each seed of the request run through the family script in a sandboxed "
    "worker: the raw build description and the part meshes (STL, millimetres).",
)
def scenario_variants(
    context: AssetExecutionContext,
    generation_requests: GenerationRequest,
    family_scripts: FamilyScript,
    sandbox: SandboxResource,
    settings: PipelineSettings,
) -> Output[Bundle]:
    bundle = steps.run_variants(
        generation_requests,
        family_scripts,
        sandbox.launcher(context),
        sandbox.limits(),
        _progress(context, "variants run"),
        workers=settings.workers,
    )
    batch = bundle.record
    failures = [v for v in batch.variants if not v.produced]
    # An Output, not a bare value: a Pipes session (the Docker sandbox) requires typed events.
    return Output(
        bundle,
        metadata={
            "sandbox": batch.sandbox,
            "variants": len(batch.variants),
            "produced": len(batch.variants) - len(failures),
            "worker_starts": batch.worker_starts,
            "worker_peak_memory_mb": batch.worker_peak_memory_mb,
            "failures": MetadataValue.md(
                "\n".join(f"- `{v.scenario_id}` `{v.reason}`: {v.message[:200]}" for v in failures)
                or "None."
            ),
        },
    )


@asset(
    retry_policy=STEP_RETRIES,
    partitions_def=requests_partitions,
    group_name=GROUP,
    kinds={"mujoco"},
    code_version=validator_version(),
    check_specs=[
        AssetCheckSpec(
            "pass_rate_floor",
            asset="validated_simulations",
            blocking=True,
            description="Enough variants pass the funnel for the family to be worth packaging.",
        ),
        AssetCheckSpec(
            "no_nan",
            asset="validated_simulations",
            blocking=True,
            description="No accepted scenario carries a non-finite number.",
        ),
        AssetCheckSpec(
            "variants_diverse",
            asset="validated_simulations",
            blocking=True,
            description="The accepted variants do not collapse to near-duplicates of each other.",
        ),
    ],
    description="Every variant through geometry, static rules, MjSpec model assembly and the "
    "stable / not-trivial / solvable / robust simulations and the random-design difficulty "
    "baseline (trivial ones rejected, the others tiered). Accepted ones carry "
    "their MJCF with and without the reference solution.",
)
def validated_simulations(
    context: AssetExecutionContext,
    settings: PipelineSettings,
    generation_requests: GenerationRequest,
    family_scripts: FamilyScript,
    scenario_variants: Bundle,
    sandbox: SandboxResource,
):  # type: ignore[no-untyped-def]
    bundle = steps.validate_request(
        generation_requests,
        family_scripts,
        scenario_variants,
        lambda: sandbox.launcher(context),
        sandbox.limits(),
        settings.funnel,
        _progress(context, "variants validated"),
        workers=settings.workers,
    )
    draw = bundle.record.draw
    if draw and draw.shortfall:
        context.log.warning(
            f"asked for {draw.wanted} {draw.asked}-or-harder scenarios, found {draw.found} "
            f"in {draw.seeds_tried} seeds (the bound): a shortfall of {draw.shortfall}"
        )
    diversity = batch_diversity(bundle)
    yield Output(
        bundle,
        metadata={
            **funnel_metadata(bundle.record.reports),
            **difficulty_metadata(bundle.record.scenarios, bundle.record.reports),
            **diversity_metadata(diversity),
            **draw_metadata(draw),
        },
    )
    yield from validation_checks(bundle.record, settings.min_pass_rate)
    yield diversity_check(diversity, settings.max_near_duplicates)


def draw_metadata(draw: DifficultyDraw | None) -> dict[str, object]:
    """What a request with a difficulty asked and got; nothing for one without."""
    if draw is None:
        return {}
    return {
        "difficulty_asked": draw.asked,
        "difficulty_wanted": draw.wanted,
        "difficulty_found": draw.found,
        "difficulty_seeds_tried": draw.seeds_tried,
        "difficulty_seed_bound": draw.bound,
        "difficulty_shortfall": draw.shortfall,
        "difficulty_easier_left_out": len(draw.easier_left_out),
    }


def all_finite(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(all_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(all_finite(v) for v in value)
    return True


def validation_checks(batch: ValidationBatch, min_pass_rate: float):  # type: ignore[no-untyped-def]
    generated = len(batch.reports)
    accepted = sum(r.accepted for r in batch.reports)
    rate = accepted / generated if generated else 0.0
    packaged = len(batch.scenarios)  # a difficulty request leaves out the easier accepted ones
    draw = batch.draw
    yield AssetCheckResult(
        check_name="pass_rate_floor",
        passed=packaged > 0 and rate >= min_pass_rate,
        description=(
            f"no scenario is {draw.asked} or harder in {draw.seeds_tried} seeds: nothing to package"
            if draw and not packaged
            else None
        ),
        metadata={
            "pass_rate": rate,
            "floor": min_pass_rate,
            "accepted": accepted,
            "to_package": packaged,
        },
    )
    diverged = sum(
        1 for r in batch.reports if r.rejection and r.rejection.reason is Reason.unstable_nan
    )
    reports = {r.scenario_id: r for r in batch.reports}
    non_finite = [
        s.scenario_id
        for s in batch.scenarios
        if not all_finite(s.model_dump()) or not all_finite(reports[s.scenario_id].measurements())
    ]
    yield AssetCheckResult(
        check_name="no_nan",
        passed=not non_finite,
        severity=AssetCheckSeverity.ERROR,
        metadata={"accepted_with_nan": len(non_finite), "variants_diverged": diverged},
    )


def diversity_check(diversity: Diversity, max_near_duplicates: float) -> AssetCheckResult:
    share = diversity.near_duplicates / diversity.scenarios if diversity.scenarios else 0.0
    return AssetCheckResult(
        check_name="variants_diverse",
        passed=share <= max_near_duplicates,
        metadata={
            "near_duplicates": diversity.near_duplicates,
            "unique_geometries": diversity.unique_geometries,
            "accepted": diversity.scenarios,
            "ceiling": max_near_duplicates,
        },
    )
