"""One script, one seed, the whole funnel: what `benchgen validate-script` and the agent's
tools run, outside Dagster but through the same sandbox and validator."""

from __future__ import annotations

from typing import Any

from benchgen_dagster.catalogue.registry import script_for
from benchgen_dagster.dataset.reader import ScenarioSample
from benchgen_dagster.errors import UserError
from benchgen_dagster.sandbox.protocol import Job
from benchgen_dagster.sandbox.runner import Limits, run_batch
from benchgen_dagster.sandbox.select import choose_launcher
from benchgen_dagster.schema.records import GenerationRequest
from benchgen_dagster.validation.funnel import ValidatedVariant, validate_variant
from benchgen_dagster.validation.scene import VariantContext
from benchgen_dagster.validation.steps import run_variants, validate_variants

OUTPUT_LIMIT = 4000


def check_script(
    source: str,
    family: str,
    seed: int,
    sandbox: str = "auto",
    params: dict[str, Any] | None = None,
    limits: Limits = Limits(),
) -> dict[str, Any]:
    """A JSON-ready report: accepted or not, every stage with its reason code and numbers."""
    [report] = check_seeds(source, family, seed, 1, sandbox, params, limits)
    return report


def check_seeds(
    source: str,
    family: str,
    first_seed: int,
    count: int,
    sandbox: str = "auto",
    params: dict[str, Any] | None = None,
    limits: Limits = Limits(),
) -> list[dict[str, Any]]:
    """`check_script` for `count` seeds from `first_seed`, in one sandboxed batch."""
    family_slug = "".join(c if c.isalnum() else "_" for c in family.lower()).strip("_") or "script"
    request = GenerationRequest(
        request_id=family_slug,
        prompt=f"validate {family}",
        variants=count,
        seed_start=first_seed,
        params=params or {},
    )
    script = script_for(family_slug, source, "agent")
    variants = run_variants(request, script, choose_launcher(sandbox), limits)
    validated = validate_variants(request, script, variants)
    return [
        {
            "accepted": report.accepted,
            "scenario_id": report.scenario_id,
            "seed": report.seed,
            "sandbox": variants.record.sandbox,
            "rejection": report.rejection.model_dump(mode="json") if report.rejection else None,
            "stages": [s.model_dump(mode="json") for s in report.stages],
            "script_message": record.message[:OUTPUT_LIMIT],
            "script_output": variants.record.console[-OUTPUT_LIMIT:],
            "validator_version": report.validator_version,
        }
        for report, record in zip(validated.record.reports, variants.record.variants, strict=True)
    ]


def rebuild(sample: ScenarioSample, sandbox: str = "auto") -> ValidatedVariant:
    """A packaged scenario made again from what its shard records: the script, the seed, the
    parameters and the lineage. With the same code it gives the same bytes."""
    scenario, lineage = sample.scenario, sample.scenario.lineage
    script = script_for(scenario.family, sample.script, lineage.family_source, lineage.trace_id)
    if script.sha256 != lineage.script_sha256:
        raise UserError(f"{scenario.scenario_id}: its script does not match its lineage hash")
    job = Job(0, scenario.seed, dict(scenario.params))
    result = run_batch(script.source, [job], choose_launcher(sandbox))
    context = VariantContext(
        request_id=lineage.request_id,
        family=scenario.family,
        split=scenario.split,
        prompt_sha256=lineage.prompt_sha256,
        script_sha256=lineage.script_sha256,
        code_versions=lineage.code_versions,
        sandbox=lineage.sandbox,
        family_source=lineage.family_source,
        trace_id=lineage.trace_id,
    )
    return validate_variant(result.outcomes[0], context)
