"""The registry of built-in scenario families: every module in `families/` is one.

A family module has a docstring (title line, then how the scenario works), a `PARAMS` dict
of declared ranges, `PAYLOAD`, `ZONES` and `SOLUTION` (the payload, the zones and how the
reference solution works, in words), an optional `SPLIT`, and `build(seed, params)`. The
registry reads these literals without importing the module: family scripts run only in the
sandbox, and build123d stays out of the orchestrating process.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from benchgen_dagster.errors import UserError
from benchgen_dagster.schema.contract import Split
from benchgen_dagster.schema.records import FamilyPlan, FamilyScript, ParamRange

PACKAGE = Path(__file__).resolve().parents[1]
FAMILIES_DIR = PACKAGE / "families"
# What family scripts may import from benchgen; their code versions cover these files.
SHARED_BY_SCRIPTS = tuple(sorted((PACKAGE / "kit").glob("*.py")))
# The course builder, covered by the code version of every script that imports it.
COURSE_BUILDER = tuple(
    PACKAGE / "courses" / name for name in ("__init__.py", "build.py", "generator.py", "layout.py")
)
COURSE_IMPORT = "benchgen_dagster.courses"
# What every family declares in words, beside its PARAMS: a FamilyPlan's fields.
DECLARED_IN_WORDS = ("PAYLOAD", "ZONES", "SOLUTION")


def split_of(family: str, requested: Split | None = None) -> Split:
    """The split a family's scenarios go to, the one place that decides it: what its request
    asks for, else what a built-in family declares, else a stable draw by its name."""
    if requested is not None:
        return requested
    known = registry().get(family)
    return known.split if known else hashed_split(family)


def hashed_split(family: str) -> Split:
    """A stable split for a family that declares none: 70/15/15 by a hash of its name."""
    bucket = int(hashlib.sha256(family.encode()).hexdigest(), 16) % 100
    if bucket < 70:
        return Split.train
    return Split.validation if bucket < 85 else Split.test


class UnknownFamily(UserError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown family {name!r}; built-in families: {', '.join(registry())}")


class IncompleteFamily(Exception):
    """A family module that lacks a declaration the registry needs: a bug in the family."""

    def __init__(self, name: str, missing: list[str]) -> None:
        super().__init__(
            f"family {name!r} does not declare {', '.join(missing)} (a string literal in words)"
        )


@dataclass(frozen=True)
class Family:
    name: str
    source: str
    docstring: str
    params: dict[str, ParamRange]
    split: Split
    payload: str
    zones: str
    solution: str

    @property
    def title(self) -> str:
        return self.docstring.strip().splitlines()[0].rstrip(".")

    def script(self) -> FamilyScript:
        return script_for(self.name, self.source, "builtin")

    def plan(self) -> FamilyPlan:
        return FamilyPlan(
            family=self.name,
            description=" ".join(self.docstring.split()),
            payload=self.payload,
            zones=self.zones,
            parameters=self.params,
            reference_solution=self.solution,
            source="builtin",
        )


def script_for(family: str, source: str, origin: str, trace_id: str | None = None) -> FamilyScript:
    """A family script with its hashes; its code version covers the shared modules too (and
    the course builder, for a script that uses it)."""
    sha = hashlib.sha256(source.encode()).hexdigest()
    shared_files = SHARED_BY_SCRIPTS + (COURSE_BUILDER if COURSE_IMPORT in source else ())
    shared = b"".join(path.read_bytes() for path in shared_files)
    code_version = hashlib.sha256(source.encode() + shared).hexdigest()[:12]
    return FamilyScript(
        family=family,
        source=source,
        sha256=sha,
        code_version=code_version,
        origin=origin,
        trace_id=trace_id,
    )  # type: ignore[arg-type]


@cache
def registry() -> dict[str, Family]:
    families = {}
    for path in sorted(FAMILIES_DIR.glob("*.py")):
        if not path.name.startswith("_"):
            families[path.stem] = read_family(path.stem, path.read_text())
    return families


def get_family(name: str) -> Family:
    try:
        return registry()[name]
    except KeyError:
        raise UnknownFamily(name) from None


def read_family(name: str, source: str) -> Family:
    """A family's declarations, read from its source without running it."""
    tree = ast.parse(source)
    constants = {
        node.targets[0].id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
    }
    words = {key: _words(constants.get(key)) for key in DECLARED_IN_WORDS}
    missing = [key for key, text in words.items() if not text]
    if missing:
        raise IncompleteFamily(name, missing)
    params = ast.literal_eval(constants["PARAMS"]) if "PARAMS" in constants else {}
    split = ast.literal_eval(constants["SPLIT"]) if "SPLIT" in constants else None
    return Family(
        name=name,
        source=source,
        docstring=ast.get_docstring(tree) or name,
        params={key: param_range(value) for key, value in params.items()},
        split=Split(split) if split else hashed_split(name),
        payload=words["PAYLOAD"],
        zones=words["ZONES"],
        solution=words["SOLUTION"],
    )


def param_range(spec: Any) -> ParamRange:
    if isinstance(spec, list):
        return ParamRange(choices=spec)
    low, high = spec
    return ParamRange(low=low, high=high)


def _words(node: ast.expr | None) -> str:
    """The text of a declaration in words, on one line; empty unless it is a string literal."""
    try:
        value = ast.literal_eval(node) if node is not None else None
    except ValueError:  # not a literal at all
        value = None
    return " ".join(value.split()) if isinstance(value, str) else ""
