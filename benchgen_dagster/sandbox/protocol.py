"""What crosses the sandbox boundary: the jobs going in and the untrusted records coming out.

Worker output is parsed here with a schema and hard bounds, never unpickled and never followed
through links. Lengths are still millimetres, as the script wrote them.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchgen_dagster.schema.contract import ParamValue, Reason

MESH_FILE = re.compile(r"^\d+\.(parts|solution)\.\d+\.\d+\.stl$")
MAX_RECORD_BYTES = 1 << 20
STL_HEADER_BYTES = 84
STL_TRIANGLE_BYTES = 50

Label = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
MeshFile = Annotated[str, Field(pattern=MESH_FILE.pattern)]
Vec3 = tuple[float, float, float]


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class RawBox(_Raw):
    min: Vec3
    max: Vec3


class RawPayload(_Raw):
    shape: str
    size: list[float] = Field(max_length=3)
    material: str
    start: Vec3
    jitter: float


class RawJoint(_Raw):
    kind: Literal["hinge", "slide"]
    axis: Vec3
    anchor: Vec3
    range: tuple[float, float] | None = None
    damping: float = Field(0.0, ge=0)
    armature: float = Field(0.0, ge=0)


class RawActuator(_Raw):
    joint: Label
    kind: Literal["motor", "position", "velocity"]
    force_limit: float = Field(gt=0)
    control_range: tuple[float, float]
    gain: float = Field(0.0, ge=0)


ControlPoints = Annotated[list[tuple[float, float]], Field(min_length=1, max_length=256)]


class RawBuild(_Raw):
    """A `kit.ScenarioBuild` as plain data, in millimetres and degrees."""

    parts: dict[Label, list[MeshFile]] = Field(max_length=64)
    solution: dict[Label, list[MeshFile]] = Field(max_length=64)
    payload: RawPayload
    goal_zone: RawBox
    build_zone: RawBox
    bounds: RawBox
    forbid_zones: dict[Label, RawBox] = Field(max_length=32)
    materials: dict[str, str]
    solution_material: str
    max_unit_cost: float
    max_weight_g: float
    params: dict[str, ParamValue]
    duration_s: float
    joints: dict[Label, RawJoint] = Field(default_factory=dict, max_length=64)
    actuators: dict[Label, RawActuator] = Field(default_factory=dict, max_length=16)
    controls: dict[Label, ControlPoints] = Field(default_factory=dict, max_length=16)


class WorkerRecord(_Raw):
    index: int
    seed: int
    params: dict[str, ParamValue]
    ok: bool
    build: RawBuild | None = None
    error: str | None = None
    traceback: str | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Job:
    index: int
    seed: int
    params: dict[str, ParamValue] = field(default_factory=dict)


@dataclass(frozen=True)
class ScriptFailure:
    """A variant the script could not produce: the reason and what the script said."""

    job: Job
    reason: Reason
    message: str
    seconds: float | None = None


@dataclass(frozen=True)
class RawVariant:
    """A variant the script produced: its build description and its mesh files' bytes."""

    job: Job
    build: RawBuild
    meshes: dict[str, bytes]
    seconds: float


JobOutcome = RawVariant | ScriptFailure


class OutputError(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def read_outcome(output_dir: Path, job: Job, max_triangles: int) -> JobOutcome:
    """Parse one finished job's record and meshes; any breach of the protocol rejects it."""
    try:
        record = WorkerRecord.model_validate_json(
            _read_bounded(output_dir / f"{job.index}.json", MAX_RECORD_BYTES)
        )
    except ValidationError as error:
        return ScriptFailure(job, Reason.script_output_invalid, _first_error(error))
    except OutputError as error:
        return ScriptFailure(job, error.reason, str(error))
    if record.index != job.index or record.seed != job.seed:
        return ScriptFailure(job, Reason.script_output_invalid, "record is for another job")
    if not record.ok or record.build is None:
        error = record.error or "the script failed without a message"
        return ScriptFailure(job, classify_error(error), error, record.seconds)
    meshes: dict[str, bytes] = {}
    try:
        for names in (*record.build.parts.values(), *record.build.solution.values()):
            for name in names:
                if not name.startswith(f"{job.index}."):
                    raise OutputError(Reason.script_output_invalid, f"{name} is another job's")
                meshes[name] = _read_stl(output_dir / name, max_triangles)
    except OutputError as error:
        return ScriptFailure(job, error.reason, str(error), record.seconds)
    return RawVariant(job, record.build, meshes, record.seconds or 0.0)


DENIED = (
    "PermissionError",
    "ConnectionRefusedError",
    "gaierror",
    "[Errno 1] ",
    "[Errno 13] ",
    "[Errno 30] ",
    "[Errno 101] ",
    "[Errno 99] ",
)


def classify_error(error: str) -> Reason:
    """The reason code of a script's exception, from its `Type: message` text."""
    if error.startswith("MemoryError"):
        return Reason.script_memory
    if error.startswith("BlockingIOError") or "Resource temporarily unavailable" in error:
        return Reason.script_process_limit
    if "[Errno 27] " in error or "[Errno 28] " in error:  # file too large, no space left
        return Reason.script_output_too_large
    if any(marker in error for marker in DENIED):
        return Reason.script_denied  # the sandbox refused: network, permissions, read-only files
    return Reason.script_error


def _read_stl(path: Path, max_triangles: int) -> bytes:
    data = _read_bounded(path, STL_HEADER_BYTES + STL_TRIANGLE_BYTES * max_triangles)
    if len(data) < STL_HEADER_BYTES:
        raise OutputError(Reason.mesh_invalid, f"{path.name} is not a binary STL")
    count = int.from_bytes(data[80:84], "little")
    if len(data) != STL_HEADER_BYTES + STL_TRIANGLE_BYTES * count:
        raise OutputError(
            Reason.mesh_invalid, f"{path.name} has {count} triangles but {len(data)} bytes"
        )
    return data


def _read_bounded(path: Path, limit: int) -> bytes:
    """Read a regular file the worker wrote, refusing links, devices and oversized files."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise OutputError(Reason.script_output_invalid, f"{path.name} is missing") from None
    except OSError as error:
        raise OutputError(Reason.script_output_invalid, f"{path.name}: {error}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OutputError(Reason.script_output_invalid, f"{path.name} is not a regular file")
        if info.st_size > limit:
            raise OutputError(
                Reason.script_output_too_large,
                f"{path.name} has {info.st_size} bytes, more than {limit}",
            )
        return file.read(limit + 1)


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"invalid script output at {where or 'top level'}: {first['msg']}"


def jobs_json(jobs: list[Job], tolerance_mm: float, angular_tolerance: float) -> str:
    return json.dumps(
        {
            "jobs": [{"index": j.index, "seed": j.seed, "params": j.params} for j in jobs],
            "tolerance_mm": tolerance_mm,
            "angular_tolerance": angular_tolerance,
        }
    )


# --- a user's solver script ----------------------------------------------------------------

DESIGN_MESH = re.compile(r"^\d+\.design\.\d+\.\d+\.stl$")
MAX_MJCF_BYTES = 4 << 20
UNSAFE_MJCF = re.compile(r"<!DOCTYPE|<!ENTITY|<\s*include\b", re.IGNORECASE)
DesignMesh = Annotated[str, Field(pattern=DESIGN_MESH.pattern)]


class SolverRecord(_Raw):
    """What the worker says of one attempt of a solver script."""

    index: int
    seed: int
    ok: bool
    kind: Literal["none", "mjcf", "parts"] | None = None
    parts: dict[Label, list[DesignMesh]] = Field(default_factory=dict, max_length=64)
    material: str = Field("wood", max_length=32)
    error: str | None = None
    traceback: str | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class RawDesign:
    """An attempt the solver script made: MJCF text, or STL bytes per part label, or nothing."""

    job: Job
    material: str
    mjcf: str | None = None
    parts: dict[str, list[bytes]] = field(default_factory=dict)


def read_design(output_dir: Path, job: Job, max_triangles: int) -> RawDesign | ScriptFailure:
    """Parse one finished attempt of a solver script; any breach of the protocol fails it."""
    try:
        record = SolverRecord.model_validate_json(
            _read_bounded(output_dir / f"{job.index}.json", MAX_RECORD_BYTES)
        )
        if record.index != job.index or record.seed != job.seed:
            raise OutputError(Reason.script_output_invalid, "record is for another job")
        if not record.ok or record.kind is None:
            error = record.error or "the solver failed without a message"
            return ScriptFailure(job, classify_error(error), error, record.seconds)
        if record.kind == "mjcf":
            data = _read_bounded(output_dir / f"{job.index}.design.xml", MAX_MJCF_BYTES)
            return RawDesign(job, record.material, mjcf=untrusted_mjcf(data))
        parts = {}
        for label, names in record.parts.items():
            if not all(name.startswith(f"{job.index}.") for name in names):
                raise OutputError(Reason.script_output_invalid, f"{label} names another job's")
            parts[label] = [_read_stl(output_dir / name, max_triangles) for name in names]
        return RawDesign(job, record.material, parts=parts)
    except ValidationError as error:
        return ScriptFailure(job, Reason.script_output_invalid, _first_error(error))
    except OutputError as error:
        return ScriptFailure(job, error.reason, str(error))


def untrusted_mjcf(data: bytes) -> str:
    """MJCF from a sandboxed script, refused when it could make the host read a file (an
    include, an asset file, a directory) or expand entities."""
    import xml.etree.ElementTree as ET

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise OutputError(Reason.script_output_invalid, "the design's MJCF is not UTF-8") from None
    if UNSAFE_MJCF.search(text):
        raise OutputError(Reason.script_output_invalid, "the design's MJCF includes other files")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise OutputError(Reason.script_output_invalid, f"the design's MJCF: {error}") from None
    for element in root.iter():
        named = [a for a in element.attrib if a.endswith(("file", "dir"))]
        if named or element.tag in ("include", "plugin", "extension"):
            raise OutputError(
                Reason.script_output_invalid,
                f"the design's MJCF may not name files ({element.tag} {' '.join(named)})",
            )
    return text
