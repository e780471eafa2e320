"""The dataset contract: what a consumer of a released dataset reads.

Scenarios, validation reports, index rows and the manifest. JSON files, Parquet columns and the
UI metadata derive from these models; the validator version hashes this file, so a change here
is a change to what validation produces. Every length is in metres unless a field says
otherwise.
"""

from __future__ import annotations

import itertools
import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = "1.0"

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Vec3 = tuple[float, float, float]
ParamValue = float | int | str | bool


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Split(StrEnum):
    train = "train"
    validation = "validation"
    test = "test"


class Box3(Model):
    """An axis-aligned box."""

    min: Vec3
    max: Vec3

    @model_validator(mode="after")
    def _ordered(self) -> Box3:
        if any(lo >= hi for lo, hi in zip(self.min, self.max, strict=True)):
            raise ValueError(f"box min {self.min} must be below max {self.max} on every axis")
        return self

    @classmethod
    def spanning(cls, a: Vec3, b: Vec3, margin: float) -> Box3:
        """The box around points a and b, grown by a positive margin."""
        return cls(
            min=tuple(min(x, y) - margin for x, y in zip(a, b, strict=True)),  # type: ignore[arg-type]
            max=tuple(max(x, y) + margin for x, y in zip(a, b, strict=True)),
        )  # type: ignore[arg-type]

    @property
    def size(self) -> Vec3:
        return tuple(hi - lo for lo, hi in zip(self.min, self.max, strict=True))  # type: ignore[return-value]

    @property
    def center(self) -> Vec3:
        return tuple((lo + hi) / 2 for lo, hi in zip(self.min, self.max, strict=True))  # type: ignore[return-value]

    def contains_point(self, p: Vec3) -> bool:
        return all(lo <= x <= hi for lo, x, hi in zip(self.min, p, self.max, strict=True))

    def contains_box(self, other: Box3) -> bool:
        return self.contains_point(other.min) and self.contains_point(other.max)

    def overlaps(self, other: Box3) -> bool:
        return all(
            a_lo < b_hi and b_lo < a_hi
            for a_lo, a_hi, b_lo, b_hi in zip(self.min, self.max, other.min, other.max, strict=True)
        )


class Zone(Box3):
    name: Slug


class Material(Model):
    friction: float = Field(gt=0, description="Sliding friction coefficient")
    density: float = Field(gt=0, description="kg/m³")
    cost_per_kg: float = Field(ge=0)


MATERIALS: dict[str, Material] = {
    "wood": Material(friction=0.5, density=600, cost_per_kg=4.0),
    "steel": Material(friction=0.4, density=7850, cost_per_kg=2.0),
    "aluminium": Material(friction=0.45, density=2700, cost_per_kg=6.0),
    "rubber": Material(friction=0.9, density=1100, cost_per_kg=5.0),
    "plastic": Material(friction=0.35, density=950, cost_per_kg=3.0),
    "ice": Material(friction=0.05, density=920, cost_per_kg=0.5),
}


class PayloadShape(StrEnum):
    sphere = "sphere"
    box = "box"
    cylinder = "cylinder"
    capsule = "capsule"
    ring = "ring"


PAYLOAD_SIZE_ARITY = {
    PayloadShape.sphere: 1,
    PayloadShape.box: 3,
    PayloadShape.cylinder: 2,
    PayloadShape.capsule: 2,
    PayloadShape.ring: 3,
}
# A ring is not convex and MuJoCo collides a geom by its convex hull, so a ring payload is this
# many boxes around its axis (z), their outer corners on its outer radius, in one body.
RING_SEGMENTS = 12


class Payload(Model):
    body_name: str = "payload"
    shape: PayloadShape
    size: list[float] = Field(
        description="MuJoCo geom size: sphere [radius], box [half-x, half-y, half-z], "
        "cylinder and capsule [radius, half-length of the straight part], ring [outer "
        "radius, half the band's radial width, half-height] (lying flat, as RING_SEGMENTS "
        "boxes named payload_geom, payload_geom_1, …)"
    )
    material: str
    mass: float = Field(gt=0, description="kg, from the material's density")
    start_position: Vec3
    start_jitter: float = Field(ge=0, description="Half-width of the start perturbation")

    @model_validator(mode="after")
    def _size_fits_shape(self) -> Payload:
        if len(self.size) != PAYLOAD_SIZE_ARITY[self.shape] or min(self.size) <= 0:
            raise ValueError(
                f"a {self.shape} payload takes {PAYLOAD_SIZE_ARITY[self.shape]} "
                f"positive sizes, got {self.size}"
            )
        if self.shape is PayloadShape.ring and 2 * self.size[1] >= self.size[0]:
            raise ValueError(f"a ring's band must be narrower than its radius, got {self.size}")
        return self

    @property
    def bounding_radius(self) -> float:
        if self.shape is PayloadShape.sphere:
            return self.size[0]
        if self.shape is PayloadShape.box:
            return sum(s * s for s in self.size) ** 0.5
        if self.shape is PayloadShape.capsule:
            return self.size[0] + self.size[1]
        if self.shape is PayloadShape.ring:
            return (self.size[0] ** 2 + self.size[2] ** 2) ** 0.5
        return (self.size[0] ** 2 + self.size[1] ** 2) ** 0.5


class Constraints(Model):
    max_unit_cost: float = Field(gt=0)
    max_weight_g: float = Field(gt=0)


class Simulation(Model):
    timestep: float = Field(gt=0, le=0.01)
    duration_s: float = Field(gt=0, le=30)
    bounds: Box3


class Lineage(Model):
    """Where a scenario came from. Run ids and timestamps live in the manifest, so that the
    same inputs give byte-identical scenario files."""

    request_id: str
    prompt_sha256: str
    script_sha256: str
    code_versions: dict[str, str]
    sandbox: str
    family_source: Literal["builtin", "agent", "spec", "planner"]
    trace_id: str | None = None


Tier = Literal["spatial", "kinematic"]
DifficultyTier = Literal["easy", "medium", "hard", "very_hard"]


class Difficulty(Model):
    """How often random designs solve a scenario: the random-design baseline's trials, its
    successes, the rate with its 95% Wilson interval, and the tier the rate falls in (see
    `benchgen_dagster.validation.difficulty` for the baseline and the tier boundaries)."""

    baseline: str = Field(description="Name and version of the random-design baseline")
    trials: int = Field(ge=0)
    successes: int = Field(ge=0)
    random_solve_rate: float = Field(ge=0, le=1, description="successes / trials")
    random_solve_low95: float = Field(ge=0, le=1, description="Wilson 95% lower bound")
    random_solve_high95: float = Field(ge=0, le=1, description="Wilson 95% upper bound")
    tier: DifficultyTier


class Scenario(Model):
    schema_version: str = SCHEMA_VERSION
    scenario_id: Slug
    family: Slug
    seed: int
    params: dict[str, ParamValue]
    units: Literal["m"] = "m"
    simulation: Simulation
    build_zone: Box3
    goal_zone: Box3
    forbid_zones: list[Zone]
    payload: Payload
    constraints: Constraints
    split: Split
    lineage: Lineage
    tier: Tier = Field(
        default="spatial",
        description="spatial: every part is fixed; kinematic: parts of the world or of the "
        "reference solution move on joints, driven by actuators in the solution",
    )
    difficulty: Difficulty | None = Field(
        default=None, description="The random-design baseline; set on every packaged scenario"
    )


CONTROLS_SCHEMA_VERSION = "1"


class Controls(Model):
    """`<id>.solution.controls.json`: the control schedule of each actuator of
    `solution.mjcf.xml`, by name: `[t_s, value]` points sorted by time, in the actuator's
    control units (N or N·m for a motor, m or rad for a position actuator, m/s or rad/s for a
    velocity one). The control is linearly interpolated between points and held at the first
    and last value outside them; it is set into `data.ctrl` before every step."""

    schema_version: Literal["1"] = CONTROLS_SCHEMA_VERSION
    controls: dict[str, list[tuple[float, float]]]

    @model_validator(mode="after")
    def _sorted(self) -> Controls:
        for name, points in self.controls.items():
            times = [t for t, _ in points]
            if not points or times != sorted(times) or times[0] < 0:
                raise ValueError(f"the schedule of {name} needs points sorted by time from 0 on")
        return self

    def at(self, name: str, time: float) -> float:
        """The control of actuator `name` at `time` seconds."""
        points = self.controls[name]
        if time <= points[0][0]:
            return points[0][1]
        for (t0, v0), (t1, v1) in itertools.pairwise(points):
            if time <= t1:
                return v0 + (v1 - v0) * (time - t0) / (t1 - t0) if t1 > t0 else v1
        return points[-1][1]

    @property
    def end_s(self) -> float:
        """When the last control stops changing."""
        return max(points[-1][0] for points in self.controls.values())


# --- validation ---------------------------------------------------------------------------


class Stage(StrEnum):
    run = "run"
    geometry = "geometry"
    rules = "rules"
    model = "model"
    stable = "stable"
    trivial = "trivial"
    solvable = "solvable"
    robust = "robust"
    difficulty = "difficulty"
    render = "render"


FUNNEL: list[Stage] = list(Stage)
# The counts a release reports, in order: what was generated, each stage, what was packaged.
REPORTED_STAGES = ("generated", *(stage.value for stage in FUNNEL), "packaged")


class Reason(StrEnum):
    """Machine-readable reasons a variant is rejected."""

    script_error = "script_error"
    script_timeout = "script_timeout"
    script_crashed = "script_crashed"
    script_memory = "script_memory"
    script_denied = "script_denied"
    script_process_limit = "script_process_limit"
    script_output_invalid = "script_output_invalid"
    script_output_too_large = "script_output_too_large"
    script_not_text = "script_not_text"
    mesh_invalid = "mesh_invalid"
    mesh_not_closed = "mesh_not_closed"
    mesh_too_small = "mesh_too_small"
    units_implausible = "units_implausible"
    parts_interpenetrate = "parts_interpenetrate"
    duplicate_label = "duplicate_label"
    unknown_material = "unknown_material"
    goal_out_of_bounds = "goal_out_of_bounds"
    build_zone_out_of_bounds = "build_zone_out_of_bounds"
    goal_smaller_than_payload = "goal_smaller_than_payload"
    zones_overlap = "zones_overlap"
    payload_out_of_bounds = "payload_out_of_bounds"
    payload_in_forbid_zone = "payload_in_forbid_zone"
    payload_intersects_solid = "payload_intersects_solid"
    solution_outside_build_zone = "solution_outside_build_zone"
    solution_over_budget = "solution_over_budget"
    model_compile_failed = "model_compile_failed"
    unstable_nan = "unstable_nan"
    unstable_speed = "unstable_speed"
    unstable_energy = "unstable_energy"
    payload_left_bounds = "payload_left_bounds"
    trivial = "trivial"
    unsolvable = "unsolvable"
    solution_touches_forbid = "solution_touches_forbid"
    not_robust = "not_robust"
    trivial_random = "trivial_random"
    joint_out_of_range = "joint_out_of_range"
    joints_not_settled = "joints_not_settled"
    actuator_over_limit = "actuator_over_limit"
    energy_exceeds_work = "energy_exceeds_work"
    controls_not_needed = "controls_not_needed"
    render_failed = "render_failed"


class StageResult(Model):
    stage: Stage
    passed: bool
    reason: Reason | None = None
    message: str = ""
    measurements: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _failure_has_reason(self) -> StageResult:
        if not self.passed and self.reason is None:
            raise ValueError(f"failed stage {self.stage} needs a reason")
        return self


class ValidationReport(Model):
    """Every stage a variant went through; it is accepted when the last one passed and the
    funnel reached the end."""

    scenario_id: Slug
    family: Slug
    seed: int
    stages: list[StageResult]
    validator_version: str

    @property
    def accepted(self) -> bool:
        return bool(self.stages) and all(s.passed for s in self.stages)

    @property
    def rejection(self) -> StageResult | None:
        return next((s for s in self.stages if not s.passed), None)

    def measurements(self) -> dict[str, float]:
        return {f"{s.stage}.{k}": v for s in self.stages for k, v in s.measurements.items()}


def scenario_id_for(request_id: str, seed: int) -> str:
    return f"{request_id}-s{seed:05d}"


def params_json(params: dict[str, Any]) -> str:
    """Canonical JSON of a parameter dict, for hashing and Parquet columns."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def stage_counts(reports: list[ValidationReport]) -> dict[str, int]:
    """How many variants passed each stage of the funnel (a variant stops at its first failure)."""
    counts = {"generated": len(reports)}
    for stage in FUNNEL:
        counts[stage.value] = sum(
            any(s.stage == stage and s.passed for s in r.stages) for r in reports
        )
    return counts


class IndexRow(Model):
    """One row of index.parquet: a packaged scenario's identity, place and measurements."""

    scenario_id: Slug
    family: Slug
    seed: int
    split: Split
    shard: str
    request_id: Slug
    params_json: str
    script_sha256: str
    prompt_sha256: str
    validator_version: str
    family_code_version: str
    sandbox: str
    geometry_sha256: str = Field(description="A hash of the scene's meshes, for deduplication")
    tier: Tier = "spatial"
    random_solve_rate: float | None = None
    random_solve_low95: float | None = None
    random_solve_high95: float | None = None
    difficulty_tier: DifficultyTier | None = None
    robust_successes: int | None = None
    robust_trials: int | None = None
    measurements: dict[str, float]


class Spread(Model):
    min: float
    max: float
    std: float


class Diversity(Model):
    """How varied a set of scenarios is (see `benchgen_dagster.dataset.diversity`)."""

    scenarios: int
    unique_geometries: int
    near_duplicates: int = Field(description="Scenarios that nearly repeat an earlier one")
    spreads: dict[str, Spread] = Field(description="Placement, size and difficulty, metres")


class PartitionLineage(Model):
    request_id: Slug
    family: Slug
    prompt: str = ""
    run_id: str | None
    materialized_at: float | None
    family_code_version: str
    funnel: dict[str, int] = Field(
        default_factory=dict, description="Variants that passed each stage, for this partition"
    )


class FileEntry(Model):
    path: str
    sha256: str
    bytes: int


class ShardEntry(FileEntry):
    split: Split
    scenarios: int


class DatasetManifest(Model):
    """manifest.json: written last, it lists and hashes everything a release holds."""

    schema_version: str = SCHEMA_VERSION
    name: Slug
    version: str = Field(description="A hash of the release's content: same content, same version")
    created_at: str
    code_versions: dict[str, str]
    counts: dict[str, dict[str, int]]
    shards: list[ShardEntry]
    index: FileEntry
    files: list[FileEntry] = Field(default_factory=list, description="Other files of the release")
    partitions: list[PartitionLineage]
    diversity: dict[str, Diversity] = Field(
        default_factory=dict, description="Per family, and for the whole dataset under `all`"
    )
