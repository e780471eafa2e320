"""The generator agent: one deepagents graph with a Planner, a Coder and a Reviewer.

An orchestrating deep agent delegates to three subagents through its `task` tool. They work
in the request's workspace through a file-system backend confined to it. The Planner saves a
plan; the Coder writes `/script.py` and runs it through the real sandboxed validation funnel
(the same one as every family), repairing it within a bounded number of rounds; the Reviewer
reads the report and approves or sends it back. Whatever the agents say, a script is accepted
only when its newest report passed and the Reviewer approved that very round.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import Field, ValidationError, model_validator

from benchgen_dagster.agents import prompts
from benchgen_dagster.agents.outcomes import (
    DEFAULT_ROUNDS,
    MODEL_VARIABLE,
    AgentNotConfigured,
    AgentRecord,
    FamilyRejected,
)
from benchgen_dagster.agents.tracing import Tracer
from benchgen_dagster.agents.workspace import SCRIPT, Workspace
from benchgen_dagster.catalogue.registry import registry, script_for
from benchgen_dagster.courses.planner import PlanError, plan_prompt
from benchgen_dagster.courses.script import spec_plan, spec_script
from benchgen_dagster.courses.spec import CourseSpec, spec_problems
from benchgen_dagster.schema.contract import Constraints, Model, Slug
from benchgen_dagster.schema.records import FamilyPlan, FamilyScript, GenerationRequest, ParamRange
from benchgen_dagster.stores.local import LocalStore

ROLES = ("orchestrator", "planner", "coder", "reviewer")
VALIDATION_SEEDS = 2  # each round validates the request's first seeds
RECURSION_LIMIT = 200  # graph steps per run; a runaway conversation stops here
CURATOR_ROUNDS = 1  # validation rounds a curator's rejection gives the Coder
RENDERS = "renders"


class PlanDraft(Model):
    """The Planner's structured output, the arguments of its `save_plan` tool: a course spec
    when the modules can express the request, else a plan in words for the Coder and why."""

    family: Slug = Field(description="lower_snake_case name of the new family")
    description: str = Field(description="One line: what the scenario is")
    spec: CourseSpec | None = Field(
        default=None,
        description="The course in the scenario language; leave out only when "
        "its modules cannot express the request",
    )
    free_form_reason: str | None = Field(
        default=None, description="Without a spec: what the modules cannot express"
    )
    payload: str | None = Field(default=None, description="Without a spec: payload in words")
    zones: str | None = Field(default=None, description="Without a spec: the zones in words")
    parameters: dict[str, ParamRange] | None = Field(
        default=None,
        description="Without a spec: ranges {name: {low, high}} in mm, or {name: {choices}}",
    )
    reference_solution: str | None = Field(
        default=None, description="Without a spec: the idea of a solution a solver could build"
    )
    constraints: Constraints | None = None

    @model_validator(mode="after")
    def _spec_or_words(self) -> PlanDraft:
        if self.spec is not None:
            return self
        missing = [
            name
            for name in ("free_form_reason", "payload", "zones", "parameters", "reference_solution")
            if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"without a spec, a plan needs {', '.join(missing)}")
        return self

    def plan(self) -> FamilyPlan:
        if self.spec is not None:
            plan = spec_plan(self.spec, self.family, "agent")
            return plan.model_copy(update={"family": self.family, "description": self.description})
        return FamilyPlan(**self.model_dump(exclude={"spec"}, exclude_none=True), source="agent")


class Verdict(Model):
    approved: bool
    reasons: list[str] = Field(default_factory=list)
    round: int = 0


def chat_models(model_name: str | None, request_id: str) -> dict[str, BaseChatModel]:
    """The chat model every role uses, from a LangChain `init_chat_model` string."""
    if not model_name:
        raise AgentNotConfigured(
            f"request {request_id} names no built-in family, so the agent must write one, but no "
            f"model is configured: set {MODEL_VARIABLE} to a LangChain model such as "
            "anthropic:claude-sonnet-4-5 or openai:gpt-5, with its API key in the environment"
        )
    from langchain.chat_models import init_chat_model

    try:
        model = init_chat_model(model_name)
    except (ValueError, ImportError) as error:
        raise AgentNotConfigured(
            f"{MODEL_VARIABLE}={model_name!r} is not usable: {error}"
        ) from None
    return dict.fromkeys(ROLES, model)


class GeneratorAgent:
    """The graph for one request in one workspace. `plan()` runs the Planner;
    `write_script(plan)` runs the Coder and the Reviewer."""

    def __init__(
        self,
        models: Mapping[str, BaseChatModel],
        workspace: Workspace,
        request: GenerationRequest,
        *,
        max_rounds: int = DEFAULT_ROUNDS,
        sandbox: str = "auto",
    ) -> None:
        self.workspace, self.request = workspace, request
        self.max_rounds, self.sandbox = max_rounds, sandbox
        self.rounds = 0
        self.graph = self._graph(models)

    def plan(self, tracer: Tracer) -> FamilyPlan:
        self.workspace.reset()
        self.workspace.journal(f"request {self.request.request_id}: {self.request.prompt}")
        self.run_task(prompts.PLAN_TASK.format(request=self._request_text()), tracer)
        draft = self._saved_plan()
        if draft is None:
            raise FamilyRejected(self._record(["the planner saved no plan"], tracer))
        return draft.plan()

    def write_script(self, plan: FamilyPlan, tracer: Tracer) -> tuple[FamilyScript, AgentRecord]:
        """A spec's rounds first (validated, reviewed, repaired by the Planner from the
        report); the Coder writes a free-form script only when the plan has no spec."""
        self.workspace.reset(keep=("plan.json", "journal.md"))
        self.rounds = 0
        if plan.spec is not None:
            made = self._spec_rounds(plan, tracer)
            if made is not None:
                return made
            draft = self._saved_plan()
            assert draft is not None and draft.spec is None
            plan = draft.plan()
        self.workspace.journal(f"free-form script: {plan.free_form_reason}")
        task = prompts.CODE_TASK.format(rounds=self.max_rounds, why=plan.free_form_reason)
        self.run_task(task, tracer)
        return self._outcome(plan, tracer)

    def revise_script(
        self, plan: FamilyPlan, feedback: str, tracer: Tracer
    ) -> tuple[FamilyScript, AgentRecord]:
        """One more round for the Coder, on its accepted script, answering a curator's
        rejection of the scenarios it made."""
        self.workspace.reset(keep=("plan.json", "journal.md", "script.py"))
        self.workspace.journal(f"curator feedback: {feedback}")
        self.rounds, self.max_rounds = 0, CURATOR_ROUNDS
        self.run_task(prompts.REVISE_TASK.format(feedback=feedback, rounds=CURATOR_ROUNDS), tracer)
        return self._outcome(plan, tracer)

    def _outcome(self, plan: FamilyPlan, tracer: Tracer) -> tuple[FamilyScript, AgentRecord]:
        source = self.workspace.script()
        reasons = self._reasons(source)
        record = self._record(reasons, tracer, plan.free_form_reason)
        if not record.approved:
            raise FamilyRejected(record)
        assert source is not None  # an approved round validated it
        return script_for(plan.family, source, "agent", tracer.trace_id), record

    def _spec_rounds(
        self, plan: FamilyPlan, tracer: Tracer
    ) -> tuple[FamilyScript, AgentRecord] | None:
        """Validate the plan's spec, have the Reviewer look at it, and while it is rejected and
        rounds are left have the Planner repair it. None when the Planner gives the spec up
        for a free-form script."""
        spec = plan.spec
        while spec is not None and self.rounds < self.max_rounds:
            script = spec_script(spec, plan.family, "agent")
            self.workspace.write(SCRIPT, script.source)
            self.rounds += 1
            report = self._validate(script.source)
            if report["accepted"]:
                self.run_task(prompts.REVIEW_TASK.format(round=self.rounds), tracer)
            reasons = self._reasons(script.source)
            if not reasons:
                record = self._record([], tracer)
                return script_for(plan.family, script.source, "agent", tracer.trace_id), record
            if self.rounds >= self.max_rounds:
                break
            left = self.max_rounds - self.rounds
            self.run_task(
                prompts.SPEC_REPAIR_TASK.format(reasons="; ".join(reasons), rounds=left), tracer
            )
            draft = self._saved_plan()
            spec = draft.spec if draft is not None else None
            if draft is not None and draft.spec is None:
                return None
        raise FamilyRejected(self._record(self._reasons(self.workspace.script()), tracer))

    def _saved_plan(self) -> PlanDraft | None:
        draft = self.workspace.read_json("plan.json")
        return None if draft is None else PlanDraft.model_validate(draft)

    # --- the graph ----------------------------------------------------------------------

    def _graph(self, models: Mapping[str, BaseChatModel]) -> Any:
        from deepagents import create_deep_agent
        from langchain.agents.middleware import TodoListMiddleware

        subagents = [
            {
                "name": "planner",
                "description": "Turns a generation request into a plan and saves it.",
                "system_prompt": prompts.PLANNER,
                "tools": [self._save_plan_tool()],
                "model": models["planner"],
            },
            {
                "name": "coder",
                "description": "Writes /script.py from /plan.json and validates it.",
                "system_prompt": prompts.coder_prompt(),
                "tools": [self._validate_tool()],
                "model": models["coder"],
            },
            {
                "name": "reviewer",
                "description": "Reads the newest validation report, looks at its renders, "
                "and approves or rejects.",
                "system_prompt": prompts.REVIEWER,
                "tools": [self._verdict_tool(), self._renders_tool()],
                "model": models["reviewer"],
            },
        ]
        return create_deep_agent(
            model=models["orchestrator"],
            system_prompt=prompts.ORCHESTRATOR,
            subagents=subagents,  # type: ignore[arg-type]
            backend=self.workspace.backend(),
            middleware=[TodoListMiddleware()],
            name="benchgen_generator",
        )

    def run_task(self, task: str, tracer: Tracer) -> None:
        """Give the orchestrating agent one task in this request's workspace."""
        config = {**tracer.config(), "recursion_limit": RECURSION_LIMIT}
        state = self.graph.invoke({"messages": [{"role": "user", "content": task}]}, config)
        if state.get("todos"):
            self.workspace.write_json("todos.json", state["todos"])

    def _request_text(self) -> str:
        request = self.request
        lines = [
            f"prompt: {request.prompt}",
            f"variants: {request.variants}",
            f"difficulty: {request.difficulty or 'any'}",
            f"payload hint: {request.payload_hint or 'none'}",
        ]
        if request.params:
            lines.append(f"fixed parameters: {json.dumps(request.params)}")
        try:
            planned = plan_prompt(request.prompt, request.payload_hint)
        except PlanError as error:
            lines.append(f"offline planner: {error}")
        else:
            lines.append(
                "the offline planner's spec, to start from: " + json.dumps(planned.spec.as_data())
            )
            if planned.ignored:
                lines.append(f"words it ignored: {', '.join(planned.ignored)}")
        return "\n".join(lines)

    # --- tools --------------------------------------------------------------------------

    def _save_plan_tool(self) -> BaseTool:
        def save_plan(**fields: Any) -> str:
            draft = PlanDraft.model_validate(fields)  # checked already: a typed argument
            if draft.family in registry():
                self.workspace.journal(f"plan refused: {draft.family} is a built-in family")
                return f"Not saved: {draft.family} is a built-in family; choose another name."
            self.workspace.write_json("plan.json", draft.model_dump(mode="json"))
            self.workspace.journal(f"plan saved: family {draft.family}")
            return f"Saved /plan.json for family {draft.family}."

        def refused(error: ValidationError) -> str:
            problems = spec_problems(error.errors())
            self.workspace.journal(f"plan refused: {'; '.join(problems)}")
            return "Not saved, fix these and save again: " + "; ".join(problems)

        return StructuredTool.from_function(
            func=save_plan,
            name="save_plan",
            description="Save the family plan to /plan.json (it replaces any earlier plan).",
            args_schema=PlanDraft,
            handle_validation_error=refused,
        )

    def _validate_tool(self) -> BaseTool:
        def validate_script() -> str:
            """Run /script.py through benchgen's sandboxed validation funnel and return the
            report: accepted or not, and each seed's reason code and message."""
            source = self.workspace.script()
            if source is None:
                return "There is no /script.py yet: write it first."
            if self.rounds >= self.max_rounds:
                return f"No rounds left: all {self.max_rounds} are used. Stop now."
            self.rounds += 1
            report = self._validate(source)
            left = self.max_rounds - self.rounds
            return json.dumps({**report, "rounds_left": left}, indent=1)

        return StructuredTool.from_function(func=validate_script)

    def _validate(self, source: str) -> dict[str, Any]:
        from benchgen_dagster.validation.checking import check_and_render

        family = self.workspace.read_json("plan.json")["family"]
        count = min(VALIDATION_SEEDS, self.request.variants)
        params = {} if "build_course" in source else self.request.params
        checks, renders = check_and_render(
            source, family, self.request.seed_start, count, self.sandbox, params
        )
        for seed, images in renders.items():
            for k, png in enumerate(images):
                path = self.workspace.root / RENDERS / f"round-{self.rounds}-s{seed}-{k}.png"
                LocalStore(path.parent).put(path.name, png)
        report = {
            "round": self.rounds,
            "accepted": all(check["accepted"] for check in checks),
            "seeds": [_seed_summary(check) for check in checks],
        }
        self.workspace.write_json(f"reports/round-{self.rounds}.json", {**report, "full": checks})
        verdict = "accepted" if report["accepted"] else "rejected: " + _failures(report)
        self.workspace.journal(f"round {self.rounds}: {verdict}")
        return report

    def _renders_tool(self) -> BaseTool:
        def view_renders() -> list[dict[str, Any]] | str:
            """The newest round's renders of each accepted seed, as images."""
            found = sorted((self.workspace.root / RENDERS).glob(f"round-{self.rounds}-*.png"))
            if not found:
                return f"Round {self.rounds} has no renders: no seed of it was accepted."
            blocks: list[dict[str, Any]] = [
                {"type": "text", "text": f"Renders of round {self.rounds}: {len(found)}"}
            ]
            for path in found:
                blocks.append({"type": "text", "text": path.name})
                blocks.append(
                    {
                        "type": "image",
                        "base64": base64.b64encode(path.read_bytes()).decode(),
                        "mime_type": "image/png",
                    }
                )
            self.workspace.journal(f"the reviewer looked at {len(found)} renders")
            return blocks

        return StructuredTool.from_function(func=view_renders)

    def _verdict_tool(self) -> BaseTool:
        def record_verdict(approved: bool, reasons: list[str]) -> str:
            """Approve the script, or send it back with reasons the Coder can act on."""
            verdict = Verdict(approved=approved, reasons=reasons, round=self.rounds)
            self.workspace.write_json("verdict.json", verdict.model_dump(mode="json"))
            said = "approved" if approved else "sent back: " + "; ".join(reasons)
            self.workspace.journal(f"review of round {self.rounds}: {said}")
            return "Recorded."

        return StructuredTool.from_function(func=record_verdict)

    # --- the outcome --------------------------------------------------------------------

    def _reasons(self, source: str | None) -> list[str]:
        """Why the script cannot be accepted; empty when it can."""
        if source is None:
            return ["the coder wrote no /script.py"]
        report = self.workspace.read_json(f"reports/round-{self.rounds}.json")
        if report is None:
            return ["the script was never validated"]
        reasons = [] if report["accepted"] else [_failures(report)]
        verdict = self.workspace.read_json("verdict.json")
        if verdict is None or verdict["round"] != self.rounds:
            reasons.append(f"the reviewer gave no verdict on round {self.rounds}")
        elif not verdict["approved"]:
            reasons.append("the reviewer sent it back: " + "; ".join(verdict["reasons"]))
        return reasons

    def _record(
        self, reasons: list[str], tracer: Tracer, free_form_reason: str | None = None
    ) -> AgentRecord:
        record = AgentRecord(
            approved=not reasons,
            rounds=self.rounds,
            max_rounds=self.max_rounds,
            reasons=reasons,
            trace_id=tracer.trace_id,
            free_form_reason=free_form_reason,
        )
        self.workspace.write_json("agent.json", record.model_dump(mode="json"))
        self.workspace.journal("approved" if record.approved else f"rejected: {reasons}")
        return record


def _seed_summary(check: dict[str, Any]) -> dict[str, Any]:
    rejection = check["rejection"] or {}
    return {
        "seed": check["seed"],
        "accepted": check["accepted"],
        "stage": rejection.get("stage"),
        "reason": rejection.get("reason"),
        "message": rejection.get("message", "")[:1000],
        "script_output": check["script_output"][-1000:],
    }


def _failures(report: dict[str, Any]) -> str:
    return "; ".join(
        f"seed {seed['seed']}: {seed['reason']}: {seed['message']}"
        for seed in report["seeds"]
        if not seed["accepted"]
    )
