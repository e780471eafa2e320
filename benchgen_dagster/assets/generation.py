"""From a request to a family script: what to generate and the code that generates it."""

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import AssetExecutionContext, DataVersion, Failure, MetadataValue, Output, asset

from benchgen_dagster.agents.outcomes import AgentNotConfigured, FamilyRejected
from benchgen_dagster.agents.tracing import traced
from benchgen_dagster.assets.partitions import RETRYABLE, STEP_RETRIES, requests_partitions
from benchgen_dagster.catalogue.registry import get_family
from benchgen_dagster.courses.planner import plan_prompt
from benchgen_dagster.courses.script import spec_plan, spec_script
from benchgen_dagster.curation.log import CurationLog
from benchgen_dagster.curation.plans import PlanReviews
from benchgen_dagster.errors import UserError
from benchgen_dagster.orchestration.tags import FEEDBACK_TAG
from benchgen_dagster.resources.generator import AgentResource
from benchgen_dagster.resources.settings import PipelineSettings
from benchgen_dagster.resources.storage import StorageResource
from benchgen_dagster.resources.workers import SandboxResource
from benchgen_dagster.schema.records import FamilyPlan, FamilyScript, GenerationRequest
from benchgen_dagster.validation import steps

GROUP = "generation"


@asset(
    retry_policy=STEP_RETRIES,
    partitions_def=requests_partitions,
    group_name=GROUP,
    kinds={"yaml"},
    code_version=steps.module_version(
        "catalogue/requests.py", "catalogue/checks.py", "catalogue/builtin.py"
    ),
    description="The generation request behind a partition: a prompt, a family (or none, for "
    "the agent to write one), the number of variants and their seeds.",
)
def generation_requests(
    context: AssetExecutionContext, settings: PipelineSettings
) -> Output[GenerationRequest]:
    with user_errors(f"partition {context.partition_key}"):
        request = settings.requests.load_checked(context.partition_key)
    context.add_output_metadata(
        {
            "prompt": request.prompt,
            "family": request.family or "(agent-written)",
            "variants": request.variants,
            "seeds": f"{request.seeds.start}–{request.seeds.stop - 1}",
            "prompt_sha256": request.prompt_sha256,
        }
    )
    return Output(request, data_version=DataVersion(steps.request_version(request)))


@asset(
    retry_policy=STEP_RETRIES,
    partitions_def=requests_partitions,
    group_name=GROUP,
    kinds={"python"},
    code_version=steps.module_version(
        "catalogue/registry.py",
        "agents/graph.py",
        "agents/prompts.py",
        "courses/planner.py",
        "courses/script.py",
    ),
    output_required=False,
    description="How the family works: zones, payload, declared randomisation ranges and the "
    "idea of its reference solution. For a request without a built-in family the Planner of "
    "the generator agent writes it; a request with `review_plan: true` stops here until a "
    "curator approves or edits the plan (nothing further runs), then goes on with that plan.",
)
def scenario_plans(
    context: AssetExecutionContext,
    generation_requests: GenerationRequest,
    settings: PipelineSettings,
    agent: AgentResource,
    sandbox: SandboxResource,
    storage: StorageResource,
) -> Iterator[Output[FamilyPlan]]:
    request = generation_requests
    if request.spec is not None:
        plan = spec_plan(request.spec, request.request_id, "spec")
    elif request.family is None and agent.model is None:
        with user_errors(f"partition {context.partition_key}"):
            planned = plan_prompt(request.prompt, request.payload_hint)
        plan = spec_plan(planned.spec, request.request_id, "planner")
        context.add_output_metadata(
            {
                "understood": MetadataValue.json(planned.understood),
                "ignored": ", ".join(planned.ignored) or "(nothing)",
            }
        )
    elif request.family is None:
        reviews = PlanReviews(storage.store(), request.dataset) if request.review_plan else None
        reviewed = reviews.get(request.request_id) if reviews else None
        if reviewed is not None and reviewed.status == "approved":
            plan = reviewed.plan
            edited = " (edited)" if reviewed.edited else ""
            context.add_output_metadata(
                {"plan_review": f"approved{edited} by {reviewed.who} at {reviewed.at}"}
            )
        else:
            with (
                _agent_failures(),
                traced("plan", request.request_id, context.partition_key, "") as t,
            ):
                plan = agent.generator(request, settings.root / "agents", sandbox.kind).plan(t)
            context.add_output_metadata({"trace_id": t.trace_id or "(not traced)"})
            if reviews is not None:
                reviews.draft(request.request_id, plan)
                context.log.info(
                    f"the plan of {request.request_id} waits for a curator: `benchgen review "
                    f"plan {request.dataset} {request.request_id}` or the review page; the run "
                    "stops here"
                )
                return
    else:
        with user_errors(f"partition {context.partition_key}"):
            plan = get_family(request.family).plan()
    context.add_output_metadata(
        {
            "family": plan.family,
            "source": plan.source,
            "parameters": MetadataValue.json(
                {k: v.model_dump(exclude_none=True) for k, v in plan.parameters.items()}
            ),
            "reference_solution": plan.reference_solution,
            **({"spec": MetadataValue.json(plan.spec.as_data())} if plan.spec else {}),
        }
    )
    yield Output(plan)


@asset(
    retry_policy=STEP_RETRIES,
    partitions_def=requests_partitions,
    group_name=GROUP,
    kinds={"python"},
    code_version=steps.module_version(
        "catalogue/registry.py", "agents/graph.py", "agents/prompts.py", "courses/script.py"
    ),
    description="The family script `build(seed, params)`; its data version is the hash of the "
    "script and the kit it imports, so a change to it makes its partition stale.",
)
def family_scripts(
    context: AssetExecutionContext,
    generation_requests: GenerationRequest,
    scenario_plans: FamilyPlan,
    settings: PipelineSettings,
    agent: AgentResource,
    sandbox: SandboxResource,
    storage: StorageResource,
) -> Output[FamilyScript]:
    request, plan = generation_requests, scenario_plans
    agent_metadata: dict[str, object] = {}
    if plan.spec is not None:
        script = spec_script(plan.spec, plan.family, plan.source)
    elif plan.source == "agent":
        partition, family = context.partition_key, plan.family
        feedback = _curator_feedback(context, storage, request)
        with _agent_failures(), traced("code", request.request_id, partition, family) as t:
            generator = agent.generator(request, settings.root / "agents", sandbox.kind)
            if feedback is None:
                script, record = generator.write_script(plan, t)
            else:
                script, record = generator.revise_script(plan, feedback, t)
        agent_metadata = {
            "rounds": record.rounds,
            "max_rounds": record.max_rounds,
            "trace_id": record.trace_id or "(not traced)",
            "journal": MetadataValue.md(generator.workspace.read("journal.md")),
        }
    else:
        with user_errors(f"partition {context.partition_key}"):
            script = get_family(plan.family).script()
    return Output(
        script,
        data_version=DataVersion(script.code_version),
        metadata={
            **agent_metadata,
            "family": script.family,
            "origin": script.origin,
            "sha256": script.sha256,
            "code_version": script.code_version,
            "lines": len(script.source.splitlines()),
            "script": MetadataValue.md(f"```python\n{script.source}\n```"),
        },
    )


def _curator_feedback(
    context: AssetExecutionContext, storage: StorageResource, request: GenerationRequest
) -> str | None:
    """The note of the curator's rejection this run answers (the `send_back_rejected_family`
    sensor tags it), for the Coder's extra round; None for any other run."""
    decision_id = context.run.tags.get(FEEDBACK_TAG)
    if not decision_id:
        return None
    log = CurationLog(storage.store(), request.dataset)
    decision = next((d for d in log.decisions() if d.decision_id == decision_id), None)
    if decision is None:
        raise Failure(
            description=f"the run answers decision {decision_id}, which the log does not hold",
            metadata={RETRYABLE: False},
            allow_retries=False,
        )
    return f"{decision.note} ({decision.who}, {decision.at[:19]})"


# Step failure metadata the `repair_failed_partition` sensor reads: `retryable: false` marks a
# failure that another run of the partition would only repeat.


@contextmanager
def user_errors(where: str) -> Iterator[None]:
    """Bad input (an unknown family, parameters out of range, a request file gone) fails the
    step once with its message: retrying cannot fix it, only the request can."""
    try:
        yield
    except UserError as error:
        raise Failure(
            description=f"{where}: {error}", metadata={RETRYABLE: False}, allow_retries=False
        ) from None


@contextmanager
def _agent_failures() -> Iterator[None]:
    """A missing model or a rejected family fails the step once, with its reasons; retrying
    would only spend the same calls again."""
    try:
        yield
    except AgentNotConfigured as error:
        raise Failure(
            description=str(error), metadata={RETRYABLE: False}, allow_retries=False
        ) from None
    except FamilyRejected as rejected:
        record = rejected.record
        raise Failure(
            description=str(rejected),
            metadata={
                "rounds": record.rounds,
                "reasons": MetadataValue.json(record.reasons),
                "trace_id": record.trace_id or "(not traced)",
                RETRYABLE: False,
            },
            allow_retries=False,
        ) from None
