"""The records the assets store between steps: requests, plans, scripts and the batches of
variants, validations, renders and shards.

They are internal to the pipeline (the dataset's own records are in `schema.contract`), so the
validator version does not cover them: changing one does not make every partition stale.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from benchgen_dagster.courses.spec import CourseSpec
from benchgen_dagster.sandbox.protocol import RawBuild
from benchgen_dagster.schema.contract import (
    SCHEMA_VERSION,
    Constraints,
    Controls,
    DatasetManifest,
    IndexRow,
    Model,
    ParamValue,
    Reason,
    Scenario,
    Slug,
    Split,
    StageResult,
    ValidationReport,
)

# builtin: a family module; agent: written by the agent; spec: a request's course spec;
# planner: a course the offline planner made from the prompt.
FamilySource = Literal["builtin", "agent", "spec", "planner"]


class ParamRange(Model):
    """A declared randomisation range: numbers drawn uniformly in [low, high], or a choice."""

    low: float | None = None
    high: float | None = None
    choices: list[ParamValue] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ParamRange:
        numeric = self.low is not None and self.high is not None
        if numeric == (self.choices is not None):
            raise ValueError("a range is either low/high or choices")
        if numeric and self.low > self.high:  # type: ignore[operator]
            raise ValueError(f"range low {self.low} is above high {self.high}")
        if self.choices is not None and not self.choices:
            raise ValueError("choices must not be empty")
        return self


# A request with a difficulty tries at most this many seeds per variant asked, its own included.
DIFFICULTY_DRAW_BOUND = 4


class GenerationRequest(Model):
    """What an operator asks for: one partition of the asset graph."""

    schema_version: str = SCHEMA_VERSION
    request_id: Slug
    prompt: str = Field(min_length=1, max_length=4000)
    family: Slug | None = Field(
        default=None, description="A built-in family; leave empty to have the agent write one"
    )
    variants: int = Field(default=16, ge=1, le=100_000)
    seed_start: int = Field(default=0, ge=0)
    params: dict[str, ParamValue] = Field(
        default_factory=dict, description="Fixed values for some of the family's parameters"
    )
    difficulty: Literal["easy", "medium", "hard"] | None = None
    payload_hint: str | None = None
    split: Split | None = None
    dataset: Slug = "default"
    spec: CourseSpec | None = Field(
        default=None, description="A course in the scenario language, built by the course builder"
    )
    review_plan: bool = Field(
        default=False,
        description="For an agent-written family: stop after the plan until a curator approves "
        "or edits it (`benchgen review plan`, or the review page)",
    )

    @model_serializer(mode="wrap")
    def _no_plan_review(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # a request that asks for no plan review keeps the bytes, and so the data version and
        # fingerprint, it had before plan reviews existed
        data = handler(self)
        if data.get("review_plan") is False:
            del data["review_plan"]
        return data  # type: ignore[no-any-return]

    @property
    def prompt_sha256(self) -> str:
        return hashlib.sha256(self.prompt.encode()).hexdigest()

    @property
    def seeds(self) -> range:
        return range(self.seed_start, self.seed_start + self.variants)

    @property
    def reserved_seeds(self) -> range:
        """The seeds no other request of the family may take: its own, and for a request with
        a difficulty every seed its draw may try."""
        bound = DIFFICULTY_DRAW_BOUND if self.difficulty else 1
        return range(self.seed_start, self.seed_start + bound * self.variants)


class FamilyPlan(Model):
    """How a family is meant to work: the Planner's output, or a built-in family's header."""

    family: Slug
    description: str
    payload: str = Field(description="Payload shape, size and material in words")
    zones: str = Field(description="Where the goal, forbid and build zones are, in words")
    parameters: dict[str, ParamRange]
    reference_solution: str
    constraints: Constraints | None = None
    source: FamilySource = "builtin"
    spec: CourseSpec | None = Field(
        default=None, description="The course, when the family is a spec of modules"
    )
    free_form_reason: str | None = Field(
        default=None, description="For an agent's free-form script: what a spec cannot express"
    )


class FamilyScript(Model):
    family: Slug
    source: str
    sha256: str
    code_version: str = Field(description="Hash of the script and the kit it imports")
    origin: FamilySource
    trace_id: str | None = None


class VariantRecord(Model):
    """One run of a family script for one seed: a build description or a failure."""

    scenario_id: Slug
    seed: int
    index: int
    produced: bool
    reason: Reason | None = None
    message: str = ""
    seconds: float | None = None
    build: RawBuild | None = Field(default=None, description="The raw build, millimetres")


class VariantBatch(Model):
    request_id: Slug
    family: Slug
    sandbox: str
    script_sha256: str
    worker_starts: int
    console: str = Field(default="", description="The tail of what the last worker printed")
    worker_peak_memory_mb: float = Field(default=0.0, description="0 where not measurable")
    variants: list[VariantRecord]


class DifficultyDraw(Model):
    """How a request that asks for a difficulty was filled: the seeds drawn past its own, and
    the accepted scenarios left out for being easier than asked."""

    asked: Literal["easy", "medium", "hard"]
    wanted: int = Field(description="The request's variants: scenarios of the tier or harder")
    found: int
    seeds_tried: int
    bound: int = Field(description="The most seeds the draw may try, the request's own included")
    shortfall: int
    easier_left_out: list[Slug] = Field(
        default_factory=list, description="Accepted, but easier than asked: not packaged"
    )
    variants: list[VariantRecord] = Field(
        default_factory=list,
        description="The variant records of the seeds drawn past the request's own; their "
        "meshes are files of the validated bundle",
    )


class ValidationBatch(Model):
    request_id: Slug
    family: Slug
    reports: list[ValidationReport]
    scenarios: list[Scenario]
    geometry: dict[str, str] = Field(
        default_factory=dict, description="Scenario id → the hash of its scenery's meshes"
    )
    draw: DifficultyDraw | None = Field(
        default=None, description="Only for a request with a difficulty"
    )

    @model_serializer(mode="wrap")
    def _no_empty_draw(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # a request without a difficulty stores the very bytes it stored before draws existed
        data = handler(self)
        if data.get("draw", 0) is None:
            del data["draw"]
        return data  # type: ignore[no-any-return]


class RenderResult(Model):
    scenario_id: Slug
    stage: StageResult
    files: list[str]


class RenderBatch(Model):
    request_id: Slug
    results: list[RenderResult]


class ShardInfo(Model):
    name: str
    sha256: str
    bytes: int
    scenarios: int


class ShardBatch(Model):
    request_id: Slug
    family: Slug
    split: Split
    shards: list[ShardInfo]
    rows: list[IndexRow]
    funnel: dict[str, int]


class Decision(Model):
    """A curator's decision: one record of a dataset's append-only decisions log. It names
    scenarios, or (with `scenarios` empty) a whole partition, every scenario it stages now or
    later."""

    decision_id: str = Field(description="`<time>-<random>`: sorts by time, unique per writer")
    dataset: Slug
    action: Literal["approve", "reject"]
    scenarios: list[Slug] = Field(default_factory=list)
    partition: Slug | None = Field(default=None, description="A whole partition's decision")
    who: str = Field(min_length=1, description="$BENCHGEN_CURATOR, else the OS user")
    at: str = Field(description="When, ISO 8601 in UTC")
    note: str = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _names_something(self) -> Decision:
        if bool(self.scenarios) == (self.partition is not None):
            raise ValueError("a decision names either scenarios or one partition")
        return self


class PlanReview(Model):
    """An agent's plan held for a curator (`curation/<dataset>/plans/<request>.json`): the
    draft while it waits, then the plan approved, as drafted or edited."""

    request_id: Slug
    status: Literal["waiting", "approved"]
    plan: FamilyPlan
    drafted_at: str
    edited: bool = False
    who: str | None = None
    at: str | None = None
    note: str = ""


class ReleaseCuration(Model):
    """`curation.json` of a release: the policy, what was staged, promoted and is waiting, and
    for every released shard and scenario the decisions that let it in."""

    schema_version: str = SCHEMA_VERSION
    policy: Literal["auto", "review"]
    staged: int
    promoted: int
    awaiting_review: int
    rejected: int
    shards: dict[str, list[str]] = Field(
        description="Shard path → the decisions that let its scenarios in (none under `auto` "
        "for scenarios nobody decided on)"
    )
    scenarios: dict[str, str] = Field(description="Scenario id → the decision that let it in")
    decisions: list[Decision] = Field(description="Every decision in force for a scenario")


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schemas of the records consumers and operators see, versioned with them."""
    models: dict[str, type[Model]] = {
        "course_spec": CourseSpec,
        "scenario": Scenario,
        "generation_request": GenerationRequest,
        "family_plan": FamilyPlan,
        "validation_report": ValidationReport,
        "manifest": DatasetManifest,
        "controls": Controls,
    }
    return {
        name: {"$id": f"benchgen/{name}/{SCHEMA_VERSION}", **model.model_json_schema()}
        for name, model in models.items()
    }


# What a stored asset value may be, by the type name its envelope records.
RECORD_TYPES: dict[str, type[Model]] = {
    cls.__name__: cls
    for cls in (
        GenerationRequest,
        FamilyPlan,
        FamilyScript,
        VariantBatch,
        ValidationBatch,
        RenderBatch,
        ShardBatch,
        DatasetManifest,
    )
}
