"""One script, one seed, the whole funnel: what `benchgen validate-script` and the agent's
tools run, outside Dagster but through the same sandbox and validator."""

from __future__ import annotations

from typing import Any

from benchgen_dagster.pipeline import run_variants, validate_variants
from benchgen_dagster.registry import script_for
from benchgen_dagster.sandbox.runner import Limits
from benchgen_dagster.sandbox.select import choose_launcher
from benchgen_dagster.schema import GenerationRequest

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
    family_slug = "".join(c if c.isalnum() else "_" for c in family.lower()).strip("_") or "script"
    request = GenerationRequest(
        request_id=family_slug,
        prompt=f"validate {family}",
        variants=1,
        seed_start=seed,
        params=params or {},
    )
    script = script_for(family_slug, source, "agent")
    variants = run_variants(request, script, choose_launcher(sandbox), limits)
    validated = validate_variants(request, script, variants)
    report = validated.record.reports[0]
    record = variants.record.variants[0]
    return {
        "accepted": report.accepted,
        "scenario_id": report.scenario_id,
        "seed": seed,
        "sandbox": variants.record.sandbox,
        "rejection": report.rejection.model_dump(mode="json") if report.rejection else None,
        "stages": [s.model_dump(mode="json") for s in report.stages],
        "script_message": record.message[:OUTPUT_LIMIT],
        "script_output": variants.record.console[-OUTPUT_LIMIT:],
        "validator_version": report.validator_version,
    }
