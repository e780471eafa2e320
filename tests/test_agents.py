"""The generator agent: scripted chat models drive the real deepagents graph through a plan, a
script that fails the real sandboxed funnel, a repair, approval and a packaged family; and
through a run that exhausts its rounds. Langfuse traces go to a receiver on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from dagster import (
    DagsterInstance,
    ExecuteInProcessResult,
    SkipReason,
    build_sensor_context,
)
from langchain_core.messages import HumanMessage, ToolMessage
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from benchgen_dagster.agents.graph import AgentNotConfigured, FamilyRejected, GeneratorAgent
from benchgen_dagster.agents.outcomes import AgentRecord
from benchgen_dagster.agents.tracing import traced
from benchgen_dagster.agents.workspace import Workspace
from benchgen_dagster.cli import main
from benchgen_dagster.curation.log import CurationLog
from benchgen_dagster.dataset import load
from benchgen_dagster.orchestration.sensors import resume_reviewed_plans, send_back_rejected_family
from benchgen_dagster.orchestration.tags import FEEDBACK_TAG
from benchgen_dagster.resources import AgentResource, PipelineSettings
from benchgen_dagster.schema.records import (
    RECORD_TYPES,
    FamilyPlan,
    FamilyScript,
    GenerationRequest,
)
from benchgen_dagster.stores.bundles import read_bundle
from benchgen_dagster.stores.local import LocalStore
from tests import agent_scripts
from tests.agent_scripts import ScriptedAgent
from tests.helpers import build_request, release_dataset, resources_for

REQUEST = GenerationRequest(
    request_id="ramp-roll", prompt="a ball must roll a metre sideways", variants=2
)


def generator(tmp_path: Path, models: dict, rounds: int = 3) -> GeneratorAgent:
    return GeneratorAgent(models, Workspace(tmp_path / "ws"), REQUEST, max_rounds=rounds)


def test_a_plan_a_failed_script_a_repair_and_approval(tmp_path: Path) -> None:
    agent = generator(tmp_path, agent_scripts.planning())
    with traced("plan", REQUEST.request_id, "ramp-roll", "") as tracer:
        plan = agent.plan(tracer)
    assert plan.family == "ramp_roll" and plan.source == "agent"

    agent = generator(tmp_path, agent_scripts.repair_then_approval())
    with traced("code", REQUEST.request_id, "ramp-roll", plan.family) as tracer:
        script, record = agent.write_script(plan, tracer)
    assert record.approved and record.rounds == 2 and not record.reasons
    assert script.origin == "agent" and script.source == agent_scripts.GOOD_SCRIPT

    workspace = agent.workspace.root
    first = json.loads((workspace / "reports" / "round-1.json").read_text())
    assert not first["accepted"]
    assert {seed["reason"] for seed in first["seeds"]} == {"script_error"}
    assert "build123d_parts" in first["seeds"][0]["message"]
    assert json.loads((workspace / "reports" / "round-2.json").read_text())["accepted"]
    journal = (workspace / "journal.md").read_text()
    assert "plan saved: family ramp_roll" in journal
    assert "round 1: rejected" in journal and "round 2: accepted" in journal
    assert "review of round 2: approved" in journal
    assert {p.name for p in workspace.iterdir()} == {
        "agent.json", "journal.md", "plan.json", "renders", "reports", "script.py",
        "todos.json", "verdict.json",
    }  # fmt: skip


def plan_with(tmp_path: Path, script: dict) -> FamilyPlan:
    with traced("plan", REQUEST.request_id, "ramp-roll", "") as tracer:
        return generator(tmp_path, script).plan(tracer)


def write_with(tmp_path: Path, plan: FamilyPlan, script: dict) -> tuple[FamilyScript, AgentRecord]:
    with traced("code", REQUEST.request_id, "ramp-roll", plan.family) as tracer:
        return generator(tmp_path, script).write_script(plan, tracer)


def images_seen(model: object) -> int:
    """Images in the tool results a model was shown (each message once, however often)."""
    results = {m.tool_call_id: m for m in model.seen if isinstance(m, ToolMessage)}  # type: ignore[attr-defined]
    return sum(
        block.get("type") == "image"
        for message in results.values()
        if isinstance(message.content, list)
        for block in message.content
        if isinstance(block, dict)
    )


def test_the_planner_writes_a_spec_repaired_from_its_schemas_report(tmp_path: Path) -> None:
    planning = agent_scripts.planning_a_spec()
    plan = plan_with(tmp_path, planning)
    assert plan.spec is not None and plan.spec.modules[0].width == 150  # type: ignore[union-attr]
    assert plan.family == "gap_course" and plan.source == "agent"
    refusal = next(m.content for m in planning["planner"].seen if isinstance(m, ToolMessage))  # type: ignore[attr-defined]
    assert "module 1 (gap): width: 900 mm is outside 40–500 mm" in refusal
    seen = planning["orchestrator"].seen  # type: ignore[attr-defined]
    task = next(m.content for m in seen if isinstance(m, HumanMessage))
    assert "the offline planner's spec, to start from" in task


def test_a_spec_that_passes_first_time_is_approved_after_the_reviewer_sees_its_renders(
    tmp_path: Path,
) -> None:
    plan = plan_with(tmp_path, agent_scripts.planning_a_spec())
    reviewing = agent_scripts.spec_approved()
    script, record = write_with(tmp_path, plan, reviewing)
    assert record.approved and record.rounds == 1 and record.free_form_reason is None
    assert "build_course" in script.source and "'width': 150.0" in script.source
    assert images_seen(reviewing["reviewer"]) == 2 * 2  # two seeds, two cameras
    renders = sorted(p.name for p in (tmp_path / "ws" / "renders").iterdir())
    assert renders[0] == "round-1-s0-0.png"


def test_a_spec_sent_back_is_repaired_by_the_planner_and_approved(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, agent_scripts.planning_a_spec())
    script, record = write_with(tmp_path, plan, agent_scripts.spec_sent_back_then_repaired())
    assert record.approved and record.rounds == 2
    assert "'width': 220.0" in script.source
    journal = (tmp_path / "ws" / "journal.md").read_text()
    assert "review of round 1: sent back: the gap is too narrow to matter" in journal
    assert "review of round 2: approved" in journal


def test_the_coder_writes_free_form_code_only_when_the_spec_is_given_up_and_says_why(
    tmp_path: Path,
) -> None:
    plan = plan_with(tmp_path, agent_scripts.planning_a_spec())
    script, record = write_with(tmp_path, plan, agent_scripts.spec_given_up_for_code())
    assert record.approved and record.rounds == 3
    assert script.source == agent_scripts.GOOD_SCRIPT
    assert record.free_form_reason == agent_scripts.PLAN["free_form_reason"]
    journal = (tmp_path / "ws" / "journal.md").read_text()
    assert f"free-form script: {agent_scripts.PLAN['free_form_reason']}" in journal


def test_a_family_that_exhausts_its_rounds_is_rejected_with_its_reasons(tmp_path: Path) -> None:
    agent = generator(tmp_path, agent_scripts.planning(), rounds=2)
    with traced("plan", REQUEST.request_id, "ramp-roll", "") as tracer:
        plan = agent.plan(tracer)
    agent = generator(tmp_path, agent_scripts.never_repaired(), rounds=2)
    with pytest.raises(FamilyRejected) as rejected, traced("code", "r", "r", "f") as tracer:
        agent.write_script(plan, tracer)
    record = rejected.value.record
    assert not record.approved and record.rounds == 2 and record.max_rounds == 2
    assert "script_error" in record.reasons[0]
    assert "the reviewer sent it back: it never imports" in record.reasons
    assert not (agent.workspace.root / "reports" / "round-3.json").exists()
    saved = json.loads((agent.workspace.root / "agent.json").read_text())
    assert saved["reasons"] == record.reasons


def test_the_planner_cannot_take_a_built_in_familys_name(tmp_path: Path) -> None:
    taken = {**agent_scripts.PLAN, "family": "ball_bin"}
    script = agent_scripts.models(
        orchestrator=[agent_scripts.delegate("planner", "Plan"), agent_scripts.say("done")],
        planner=[
            agent_scripts.call("save_plan", **taken),
            agent_scripts.call("save_plan", **agent_scripts.PLAN),
            agent_scripts.say("Saved under another name."),
        ],
        coder=[], reviewer=[],
    )  # fmt: skip
    with traced("plan", "r", "p", "") as tracer:
        plan = generator(tmp_path, script).plan(tracer)
    assert plan.family == "ramp_roll"
    assert (
        "plan refused: ball_bin is a built-in family"
        in (tmp_path / "ws" / "journal.md").read_text()
    )


def test_the_agents_files_stay_in_their_workspace(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    escape = agent_scripts.models(
        orchestrator=[
            agent_scripts.call("write_file", file_path="/../outside.txt", content="x"),
            agent_scripts.call("write_file", file_path=str(outside), content="x"),
            agent_scripts.say("done"),
        ],
        planner=[], coder=[], reviewer=[],
    )  # fmt: skip
    agent = generator(tmp_path, escape)
    agent.workspace.reset()
    agent.run_task("write outside", traced_nothing())
    assert not outside.exists()
    assert (agent.workspace.root / str(outside).lstrip("/")).exists()  # anchored in the workspace


def traced_nothing():  # a tracer without Langfuse
    with traced("t", "r", "p", "f") as tracer:
        return tracer


# --- Dagster ------------------------------------------------------------------------------


def run_partition(
    settings: PipelineSettings,
    agent: AgentResource,
    request_id: str,
    release: bool = False,
    prompt: str = REQUEST.prompt,
) -> ExecuteInProcessResult:
    settings.requests.accept(
        REQUEST.model_copy(update={"request_id": request_id, "prompt": prompt})
    )
    resources = {**resources_for(settings), "agent": agent}
    with DagsterInstance.ephemeral() as instance:
        result = build_request(instance, request_id, resources, raise_on_error=False)
        if release and result.success:
            release_dataset(instance, resources)
        return result


def test_an_agent_written_family_flows_through_to_shards(tmp_path: Path) -> None:
    settings = PipelineSettings(data_dir=str(tmp_path))
    agent = ScriptedAgent(script="repaired").rewind()
    result = run_partition(settings, agent, "ramp-roll", release=True)
    assert result.success
    scripts = result.asset_materializations_for_node("family_scripts")[0].metadata
    assert scripts["origin"].value == "agent" and scripts["rounds"].value == 2
    samples = list(load(settings.root / "datasets" / "default"))
    assert len(samples) == 2
    for sample in samples:
        assert sample.scenario.family == "ramp_roll"
        assert sample.scenario.lineage.family_source == "agent"
        assert sample.script == agent_scripts.GOOD_SCRIPT


def test_an_exhausted_agent_fails_its_partition_with_the_reasons(tmp_path: Path) -> None:
    settings = PipelineSettings(data_dir=str(tmp_path))
    agent = ScriptedAgent(script="exhausted", max_rounds=2).rewind()
    result = run_partition(settings, agent, "ramp-roll")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "family_scripts"
    assert "after 2 of 2 rounds" in str(failure.event_specific_data.error)
    assert "script_error" in str(failure.event_specific_data.error)


def test_without_a_model_a_prompt_the_planner_cannot_map_fails_with_one_message(
    tmp_path: Path,
) -> None:
    settings = PipelineSettings(data_dir=str(tmp_path))
    result = run_partition(settings, AgentResource(), "ramp-roll", prompt="something nice")
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "scenario_plans"
    assert "cannot map 'something nice'" in str(failure.event_specific_data.error)
    with pytest.raises(AgentNotConfigured, match="BENCHGEN_AGENT_MODEL"):
        AgentResource().chat_models("ramp-roll")


def test_a_bad_model_string_is_one_clear_message() -> None:
    with pytest.raises(AgentNotConfigured, match="not usable"):
        AgentResource(model="no-such-provider:model").chat_models("r")


def test_the_prompt_catalogue_holds_valid_agent_requests() -> None:
    catalogue = sorted((Path(__file__).parent.parent / "examples" / "requests").glob("*.yaml"))
    assert len(catalogue) >= 10
    for path in catalogue:
        request = GenerationRequest(request_id=path.stem, **yaml.safe_load(path.read_text()))
        assert request.family is None and request.prompt


def test_benchgen_request_writes_an_agent_request(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["request", "a cube must cross a 180 mm gap", "--requests-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    [path] = tmp_path.glob("*.yaml")
    assert "family" not in yaml.safe_load(path.read_text())


# --- Langfuse -----------------------------------------------------------------------------


class Receiver(ThreadingHTTPServer):
    """Accepts whatever a Langfuse client sends and keeps it."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def spans(self) -> list:
        spans = []
        for path, body in self.received:
            if path.endswith("/otel/v1/traces"):
                export = ExportTraceServiceRequest.FromString(body)
                for resource in export.resource_spans:
                    for scope in resource.scope_spans:
                        spans += scope.spans
        return spans


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.received.append((self.path, body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_with_langfuse_keys_every_run_is_traced_with_its_request(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-test")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-test")
    monkeypatch.setenv("LANGFUSE_HOST", receiver.url)
    agent = generator(tmp_path, agent_scripts.planning())
    with traced("plan", REQUEST.request_id, "ramp-roll-partition", "ramp_roll") as tracer:
        agent.plan(tracer)
    assert tracer.trace_id
    spans = [s for s in receiver.spans() if s.trace_id.hex() == tracer.trace_id]
    assert spans, f"no span of trace {tracer.trace_id} among {len(receiver.spans())}"
    attributes = {a.key: a.value.string_value for s in spans for a in s.attributes}
    flat = json.dumps(attributes)
    assert "ramp-roll-partition" in flat and REQUEST.request_id in flat
    assert any("save_plan" in s.name for s in spans)


def test_without_langfuse_keys_nothing_is_sent_or_warned(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LANGFUSE_HOST", receiver.url)
    agent = generator(tmp_path, agent_scripts.planning())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with traced("plan", REQUEST.request_id, "p", "f") as tracer:
            agent.plan(tracer)
    assert tracer.trace_id is None and tracer.callbacks == []
    assert receiver.received == []
    assert not [w for w in caught if "langfuse" in str(w.message).lower()]


# --- a curator in the loop ----------------------------------------------------------------


def curation_sensor_tick(sensor, instance: DagsterInstance, settings: PipelineSettings, cursor):  # type: ignore[no-untyped-def]
    resources = {k: v for k, v in resources_for(settings).items() if k != "io_manager"}
    with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return sensor(context)


def test_a_plan_held_for_review_stops_the_run_and_the_curators_edit_goes_on(
    tmp_path: Path,
) -> None:
    settings = PipelineSettings(data_dir=str(tmp_path))
    request = REQUEST.model_copy(update={"review_plan": True})
    settings.requests.accept(request)
    resources = {**resources_for(settings), "agent": ScriptedAgent(script="repaired").rewind()}
    dataset = str(settings.root / "datasets" / "default")
    with DagsterInstance.ephemeral() as instance:

        def build(**tags: str) -> ExecuteInProcessResult:
            return build_request(instance, request.request_id, resources, tags=tags)

        stopped = build()
        assert stopped.success  # the run stops after the plan; nothing fails
        assert not stopped.asset_materializations_for_node("scenario_plans")
        assert not stopped.asset_materializations_for_node("family_scripts")
        skip = curation_sensor_tick(resume_reviewed_plans, instance, settings, None)
        assert isinstance(skip, SkipReason)

        shown = CliRunner().invoke(main, ["review", "plan", dataset, request.request_id])
        assert shown.exit_code == 0, shown.output
        drafted = json.loads(shown.stdout)
        assert drafted["family"] == agent_scripts.PLAN["family"]
        edit = tmp_path / "plan.yaml"
        edit.write_text(yaml.safe_dump({**drafted, "description": "A ball rolls a metre, gently"}))
        approved = CliRunner().invoke(
            main, ["review", "plan", dataset, request.request_id, "--edit", str(edit)]
        )
        assert approved.exit_code == 0 and "an edit of the plan" in approved.output

        resumed = curation_sensor_tick(resume_reviewed_plans, instance, settings, None)
        [run] = resumed.run_requests
        assert run.partition_key == request.request_id
        again = curation_sensor_tick(resume_reviewed_plans, instance, settings, resumed.cursor)
        assert isinstance(again, SkipReason)
        done = build(**run.tags)  # the Planner is not asked again: its script phase is spent
        assert done.success
        [plan] = done.asset_materializations_for_node("scenario_plans")
        assert "approved (edited)" in plan.metadata["plan_review"].value
        stored = read_bundle(
            LocalStore(settings.root), f"assets/scenario_plans/{request.request_id}", RECORD_TYPES
        )
        assert stored.description == "A ball rolls a metre, gently"  # type: ignore[union-attr]
        assert done.asset_materializations_for_node("dataset_shards")


def test_a_curators_rejection_sends_an_agent_family_back_to_the_coder_with_the_note(
    tmp_path: Path,
) -> None:
    settings = PipelineSettings(data_dir=str(tmp_path))
    settings.requests.accept(REQUEST)
    resources = {**resources_for(settings), "agent": ScriptedAgent(script="revised").rewind()}
    log = CurationLog(LocalStore(settings.root), "default")
    with DagsterInstance.ephemeral() as instance:
        assert build_request(instance, REQUEST.request_id, resources).success
        rejection = log.append("reject", partition=REQUEST.request_id, note="the ramp is too steep")
        sent = curation_sensor_tick(send_back_rejected_family, instance, settings, None)
        [run] = sent.run_requests
        assert run.tags[FEEDBACK_TAG] == rejection.decision_id
        revised = build_request(
            instance, REQUEST.request_id, resources, tags=run.tags, selection=run.asset_selection
        )
        assert revised.success
        [script] = revised.asset_materializations_for_node("family_scripts")
        assert (script.metadata["rounds"].value, script.metadata["max_rounds"].value) == (1, 1)
        journal = (settings.root / "agents" / REQUEST.request_id / "journal.md").read_text()
        assert "curator feedback: the ramp is too steep" in journal
        assert agent_scripts.REVISED_MARK in script.metadata["script"].value
        assert revised.asset_materializations_for_node("dataset_shards")

        for note in ("still too steep", "steeper still"):  # sent back at most twice in all
            log.append("reject", partition=REQUEST.request_id, note=note)
        bounded = curation_sensor_tick(send_back_rejected_family, instance, settings, sent.cursor)
        assert len(bounded.run_requests) == 1
        log.append("reject", partition=REQUEST.request_id, note="once more")
        last = curation_sensor_tick(send_back_rejected_family, instance, settings, bounded.cursor)
        assert not last.run_requests
        assert "sent back 2 times" in last.skip_reason.skip_message  # type: ignore[union-attr]
