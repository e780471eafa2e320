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
from benchgen_dagster.schema.contract import Reason, Stage, StageResult, scenario_id_for
from benchgen_dagster.schema.records import GenerationRequest
from benchgen_dagster.validation.funnel import ValidatedVariant, validate_variant, validator_version
from benchgen_dagster.validation.model import CAMERAS
from benchgen_dagster.validation.scene import VariantContext
from benchgen_dagster.validation.steps import run_variants, validate_variants

OUTPUT_LIMIT = 4000


def check_script(
    source: str | bytes,
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
    source: str | bytes,
    family: str,
    first_seed: int,
    count: int,
    sandbox: str = "auto",
    params: dict[str, Any] | None = None,
    limits: Limits = Limits(),
) -> list[dict[str, Any]]:
    """`check_script` for `count` seeds from `first_seed`, in one sandboxed batch. A source
    given as bytes that are not UTF-8 text is a rejected script, like any other broken one."""
    reports, _ = check_and_render(source, family, first_seed, count, sandbox, params, limits, ())
    return reports


def check_and_render(
    source: str | bytes,
    family: str,
    first_seed: int,
    count: int,
    sandbox: str = "auto",
    params: dict[str, Any] | None = None,
    limits: Limits = Limits(),
    cameras: tuple[str, ...] = CAMERAS[:2],
) -> tuple[list[dict[str, Any]], dict[int, list[bytes]]]:
    """`check_seeds`, and PNG renders from the given cameras of every accepted seed's scene
    (by seed): what a reviewer looks at."""
    family_slug = "".join(c if c.isalnum() else "_" for c in family.lower()).strip("_") or "script"
    if isinstance(source, bytes):
        problem = not_text(source)
        if problem:
            seeds = range(first_seed, first_seed + count)
            return [_not_text_report(family_slug, seed, problem) for seed in seeds], {}
        source = source.decode()
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
    reports = [
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
    renders: dict[int, list[bytes]] = {}
    if cameras and validated.record.scenarios:
        from benchgen_dagster.validation.render import SceneRenderer

        with SceneRenderer() as renderer:
            for scenario in validated.record.scenarios:
                xml = validated.files[f"{scenario.scenario_id}.mjcf.xml"].decode()
                renders[scenario.seed] = renderer.render(xml, cameras)
    return reports, renders


def not_text(data: bytes) -> str:
    """What keeps bytes from being a script's source, or "" when they are UTF-8 text."""
    if b"\0" in data:
        return f"the script has NUL bytes (first at byte {data.index(0)}): it is not text"
    try:
        data.decode()
    except UnicodeDecodeError as error:
        return f"the script is not UTF-8 text ({error.reason} at byte {error.start})"
    return ""


def _not_text_report(family_slug: str, seed: int, message: str) -> dict[str, Any]:
    stage = StageResult(
        stage=Stage.run, passed=False, reason=Reason.script_not_text, message=message
    )
    return {
        "accepted": False,
        "scenario_id": scenario_id_for(family_slug, seed),
        "seed": seed,
        "sandbox": "none",
        "rejection": stage.model_dump(mode="json"),
        "stages": [stage.model_dump(mode="json")],
        "script_message": message,
        "script_output": "",
        "validator_version": validator_version(),
    }


def rebuild(sample: ScenarioSample, sandbox: str = "auto") -> ValidatedVariant:
    """A packaged scenario made again from what its shard records: the script, the seed, the
    parameters and the lineage. With the same code it gives the same bytes."""
    scenario, lineage = sample.scenario, sample.scenario.lineage
    script = script_for(scenario.family, sample.script, lineage.family_source, lineage.trace_id)
    if script.sha256 != lineage.script_sha256:
        raise UserError(f"{scenario.scenario_id}: its script does not match its lineage hash")
    job = Job(0, scenario.seed, dict(scenario.params))
    result = run_batch(script.source, [job], choose_launcher(sandbox))
    context = VariantContext(scenario.family, scenario.split, lineage)
    return validate_variant(result.outcomes[0], context)
