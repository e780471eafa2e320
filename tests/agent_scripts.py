"""Scripted chat models for the generator agent: what each role says, tool calls included, so
the real deepagents graph, the real sandboxed funnel and the real workspace run without a
network."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult
from pydantic import Field

from benchgen_dagster.agents.prompts import EXAMPLE_FAMILY, FAMILIES
from benchgen_dagster.resources import AgentResource

GOOD_SCRIPT = (FAMILIES / f"{EXAMPLE_FAMILY}.py").read_text()
BROKEN_SCRIPT = GOOD_SCRIPT.replace("from build123d import", "from build123d_parts import")
PLAN = {
    "family": "ramp_roll",
    "description": "Ball to a goal about a metre sideways",
    "payload": "a rubber or steel ball, 15–30 mm in radius",
    "zones": "goal on the floor a metre away; forbid zone behind the drop point",
    "parameters": {"drop_height": {"low": 250.0, "high": 420.0}},
    "reference_solution": "a ramp under the drop point",
    "free_form_reason": "a goal a metre sideways on open floor needs no module of the language",
}
SPEC = {
    "payload": {"shape": "sphere", "radius": 18, "material": "rubber"},
    "modules": [{"type": "gap", "width": 150}, {"type": "bin"}],
}
SPEC_PLAN = {"family": "gap_course", "description": "A ball over a gap into a bin", "spec": SPEC}
BAD_SPEC = {**SPEC, "modules": [{"type": "gap", "width": 900}, {"type": "bin"}]}
REPAIRED_SPEC = {**SPEC, "modules": [{"type": "gap", "width": 220}, {"type": "bin"}]}
_ids = itertools.count()


class Scripted(GenericFakeChatModel):
    """Says the given messages in order; tools are the script's business, not the model's.
    Keeps every message it was shown in `seen`."""

    seen: list[BaseMessage] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> Scripted:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.seen.extend(messages)
        return super()._generate(messages, *args, **kwargs)


def say(text: str) -> AIMessage:
    return AIMessage(content=text)


def call(tool: str, **args: Any) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[{"name": tool, "args": args, "id": f"call_{next(_ids)}", "type": "tool_call"}],
    )


def models(**lines: list[AIMessage]) -> dict[str, BaseChatModel]:
    return {role: Scripted(messages=iter(said)) for role, said in lines.items()}


def delegate(to: str, task: str) -> AIMessage:
    return call("task", description=task, subagent_type=to)


def write_broken_and_validate() -> list[AIMessage]:
    return [
        call("write_file", file_path="/script.py", content=BROKEN_SCRIPT),
        call("validate_script"),
    ]


def planning() -> dict[str, BaseChatModel]:
    return models(
        orchestrator=[delegate("planner", "Plan this request"), say("The plan is saved.")],
        planner=[call("save_plan", **PLAN), say("Saved /plan.json.")],
        coder=[],
        reviewer=[],
    )  # fmt: skip


def planning_a_spec() -> dict[str, BaseChatModel]:
    """The planner's first spec is refused by its schema (a gap too wide); it saves a fixed one."""
    return models(
        orchestrator=[delegate("planner", "Plan this request"), say("The plan is saved.")],
        planner=[
            call("save_plan", **{**SPEC_PLAN, "spec": BAD_SPEC}),
            call("save_plan", **SPEC_PLAN),
            say("Saved /plan.json."),
        ],
        coder=[],
        reviewer=[],
    )  # fmt: skip


def spec_approved() -> dict[str, BaseChatModel]:
    """The spec passes the funnel in round 1; the reviewer looks at the renders and approves."""
    return models(
        orchestrator=[delegate("reviewer", "Review round 1"), say("Approved.")],
        planner=[],
        coder=[],
        reviewer=[
            call("view_renders"),
            call("record_verdict", approved=True, reasons=[]),
            say("Approved."),
        ],
    )  # fmt: skip


def spec_sent_back_then_repaired() -> dict[str, BaseChatModel]:
    """The reviewer sends round 1 back; the planner repairs the spec; round 2 is approved."""
    return models(
        orchestrator=[
            delegate("reviewer", "Review round 1"),
            say("Sent back."),
            delegate("planner", "Repair the spec"),
            say("Repaired."),
            delegate("reviewer", "Review round 2"),
            say("Approved."),
        ],
        planner=[
            call("save_plan", **{**SPEC_PLAN, "spec": REPAIRED_SPEC}),
            say("Saved."),
        ],
        coder=[],
        reviewer=[
            call("view_renders"),
            call("record_verdict", approved=False, reasons=["the gap is too narrow to matter"]),
            say("Sent back."),
            call("view_renders"),
            call("record_verdict", approved=True, reasons=[]),
            say("Approved."),
        ],
    )  # fmt: skip


def spec_given_up_for_code() -> dict[str, BaseChatModel]:
    """The reviewer rejects the spec; the planner says the modules cannot express the request
    and saves a plan in words; the coder writes a free-form script that is approved."""
    coding = repair_then_approval()
    return models(
        orchestrator=[
            delegate("reviewer", "Review round 1"),
            say("Sent back."),
            delegate("planner", "Repair the spec or give it up"),
            say("Given up."),
            *coding["orchestrator"].messages,
        ],
        planner=[call("save_plan", **PLAN), say("Saved a plan in words.")],
        coder=list(coding["coder"].messages),
        reviewer=[
            call("view_renders"),
            call("record_verdict", approved=False, reasons=["the goal must be a metre away"]),
            say("Sent back."),
            call("read_file", file_path="/reports/round-2.json"),
            call("record_verdict", approved=False, reasons=["the import is wrong"]),
            say("Sent back."),
            call("read_file", file_path="/reports/round-3.json"),
            call("record_verdict", approved=True, reasons=[]),
            say("Approved."),
        ],
    )  # fmt: skip


def repair_then_approval() -> dict[str, BaseChatModel]:
    """Round 1 fails validation (a bad import), the reviewer sends it back, round 2 passes."""
    return models(
        orchestrator=[
            call("write_todos", todos=[
                {"content": "coder: write and validate /script.py", "status": "in_progress"},
                {"content": "reviewer: decide", "status": "pending"},
            ]),
            delegate("coder", "Write and validate /script.py"),
            delegate("reviewer", "Review round 1"),
            delegate("coder", "Fix: the import is wrong"),
            delegate("reviewer", "Review round 2"),
            say("Approved."),
        ],
        planner=[],
        coder=[
            *write_broken_and_validate(),
            say("Rejected: script_error."),
            call("edit_file", file_path="/script.py", old_string="build123d_parts",
                 new_string="build123d"),
            call("validate_script"),
            say("Accepted."),
        ],
        reviewer=[
            call("read_file", file_path="/reports/round-1.json"),
            call("record_verdict", approved=False, reasons=["the script does not import"]),
            say("Sent back."),
            call("read_file", file_path="/reports/round-2.json"),
            call("record_verdict", approved=True, reasons=[]),
            say("Approved."),
        ],
    )  # fmt: skip


def never_repaired() -> dict[str, BaseChatModel]:
    """The coder keeps the broken script and validates until no rounds are left."""
    return models(
        orchestrator=[
            delegate("coder", "Write and validate /script.py"),
            delegate("reviewer", "Review"),
            say("Out of rounds."),
        ],
        planner=[],
        coder=[
            *write_broken_and_validate(),
            call("validate_script"),
            call("validate_script"),
            say("Still rejected."),
        ],
        reviewer=[
            call("record_verdict", approved=False, reasons=["it never imports"]),
            say("Rejected."),
        ],
    )  # fmt: skip


def revision_then_approval() -> dict[str, BaseChatModel]:
    """After a curator's rejection: the coder edits its accepted script, validates it in its
    one round, and the reviewer approves."""
    return models(
        orchestrator=[
            delegate("coder", "Answer the curator's note"),
            delegate("reviewer", "Review the round"),
            say("Approved."),
        ],
        planner=[],
        coder=[
            call("edit_file", file_path="/script.py", old_string="def build(",
                 new_string=REVISED_MARK + "def build("),
            call("validate_script"),
            say("Accepted."),
        ],
        reviewer=[call("record_verdict", approved=True, reasons=[]), say("Approved.")],
    )  # fmt: skip


REVISED_MARK = "# a gentler ramp, as the curator asked\n"
SCRIPTS = {
    "repaired": (planning, repair_then_approval),
    "exhausted": (planning, never_repaired),
    "revised": (planning, repair_then_approval, revision_then_approval),
}
_phases: dict[str, Iterator[Any]] = {}  # Dagster copies resources, so the state lives here


class ScriptedAgent(AgentResource):
    """The agent resource with scripted models: each run of the graph (plan, then code) takes
    the next phase of the named script."""

    model: str | None = "scripted"
    script: str = "repaired"

    def chat_models(self, request_id: str) -> Mapping[str, BaseChatModel]:
        return next(_phases[self.script])()

    def rewind(self) -> ScriptedAgent:
        _phases[self.script] = iter(SCRIPTS[self.script])
        return self
