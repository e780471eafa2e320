"""From a request to a family script: what to generate and the code that generates it."""

from dagster import AssetExecutionContext, DataVersion, MetadataValue, Output, asset

from benchgen_dagster.assets.partitions import STEP_RETRIES, requests_partitions
from benchgen_dagster.registry import get_family
from benchgen_dagster.requests import RequestError
from benchgen_dagster.resources.settings import PipelineSettings
from benchgen_dagster.schema import FamilyPlan, FamilyScript, GenerationRequest

GROUP = "generation"


class AgentNotConfigured(RuntimeError):
    pass


@asset(
    retry_policy=STEP_RETRIES,
    partitions_def=requests_partitions,
    group_name=GROUP,
    kinds={"yaml"},
    description="The generation request behind a partition: a prompt, a family (or none, for "
    "the agent to write one), the number of variants and their seeds.",
)
def generation_requests(
    context: AssetExecutionContext, settings: PipelineSettings
) -> GenerationRequest:
    try:
        request = settings.requests.load(context.partition_key)
    except RequestError as error:
        raise RequestError(f"partition {context.partition_key}: {error}") from None
    context.add_output_metadata(
        {
            "prompt": request.prompt,
            "family": request.family or "(agent-written)",
            "variants": request.variants,
            "seeds": f"{request.seeds.start}–{request.seeds.stop - 1}",
            "prompt_sha256": request.prompt_sha256,
        }
    )
    return request


@asset(
    retry_policy=STEP_RETRIES,
    partitions_def=requests_partitions,
    group_name=GROUP,
    kinds={"python"},
    description="How the family works: zones, payload, declared randomisation ranges and the "
    "idea of its reference solution.",
)
def scenario_plans(
    context: AssetExecutionContext, generation_requests: GenerationRequest
) -> FamilyPlan:
    if generation_requests.family is None:
        raise AgentNotConfigured(
            f"request {generation_requests.request_id} names no built-in family, so the agent "
            "must write one; agent-written families are not available in this build"
        )
    plan = get_family(generation_requests.family).plan()
    context.add_output_metadata(
        {
            "family": plan.family,
            "source": plan.source,
            "parameters": MetadataValue.json(
                {k: v.model_dump(exclude_none=True) for k, v in plan.parameters.items()}
            ),
            "reference_solution": plan.reference_solution,
        }
    )
    return plan


@asset(
    retry_policy=STEP_RETRIES,
    partitions_def=requests_partitions,
    group_name=GROUP,
    kinds={"python"},
    description="The family script `build(seed, params)`; its data version is the hash of the "
    "script and the kit it imports, so a change to it makes its partition stale.",
)
def family_scripts(
    context: AssetExecutionContext,
    generation_requests: GenerationRequest,
    scenario_plans: FamilyPlan,
) -> Output[FamilyScript]:
    script = get_family(scenario_plans.family).script()
    return Output(
        script,
        data_version=DataVersion(script.code_version),
        metadata={
            "family": script.family,
            "origin": script.origin,
            "sha256": script.sha256,
            "code_version": script.code_version,
            "lines": len(script.source.splitlines()),
            "script": MetadataValue.md(f"```python\n{script.source}\n```"),
        },
    )
