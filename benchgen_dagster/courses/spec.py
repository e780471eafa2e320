"""The scenario language as a schema: a course spec composes typed modules, each with its
parameters in millimetres (a number, or `[low, high]` drawn per seed).

`CourseSpec` is the one description a spec family, the offline planner and the agent's
Planner share; its JSON Schema is published with the others. A spec is checked before
anything runs: every field against its module's range, then the whole course laid out for a
few seeds (pure Python, no geometry kernel), so a course that cannot be built is refused with
the module and field at fault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import AfterValidator, Field, ValidationError, create_model, model_validator

from benchgen_dagster.courses.generator import GOALS, MECHANISMS, OBSTACLES
from benchgen_dagster.courses.layout import (
    COURSE_WIDTH,
    MATERIALS,
    MODULES,
    PAYLOADS,
    WHOLE_NUMBERS,
    CourseError,
    flat_params,
    lay_out,
    resolve,
)
from benchgen_dagster.schema.contract import Model, Slug

if TYPE_CHECKING:  # the records hold specs, so they are imported where used
    from benchgen_dagster.schema.records import ParamRange

Value = float | tuple[float, float]
PAYLOAD_SIZES = ("radius", "side", "length", "width", "height")
CHECKED_SEEDS = 8
UNITS = {name: "" if name in WHOLE_NUMBERS else " mm" for m in MODULES.values() for name in m}


def _within(low: float, high: float, unit: str = " mm") -> AfterValidator:
    def check(value: Value) -> Value:
        ends = value if isinstance(value, tuple) else (value,)
        for end in ends:
            if not low <= end <= high:
                raise ValueError(f"{end:g}{unit} is outside {low:g}–{high:g}{unit}")
        if isinstance(value, tuple) and value[0] > value[1]:
            raise ValueError(f"range low {value[0]:g} is above high {value[1]:g}")
        return value

    return AfterValidator(check)


def _default(module: str, name: str) -> Any:
    comfortable = {**OBSTACLES, **MECHANISMS, **GOALS}.get(module, {}).get(name)
    low, high = comfortable if isinstance(comfortable, list) else MODULES[module][name]
    if name in WHOLE_NUMBERS:
        return int(comfortable) if isinstance(comfortable, int) else int(low)
    return round((low + high) / 2, 1)


def _module_model(name: str) -> type[Model]:
    fields: dict[str, Any] = {"type": (Literal[name], ...)}
    for param, (low, high) in MODULES[name].items():
        unit = UNITS[param]
        fields[param] = (
            Annotated[Value, _within(low, high, unit)],
            Field(default=_default(name, param), description=f"{low:g}–{high:g}{unit}"),
        )
    model = create_model(f"{name.title().replace('_', '')}Module", __base__=Model, **fields)
    model.__doc__ = f"A {name.replace('_', ' ')} module."
    return model


MODULE_MODELS = {name: _module_model(name) for name in MODULES}
Module = Annotated[Union[tuple(MODULE_MODELS.values())], Field(discriminator="type")]  # noqa: UP007

Material = Literal["wood", "steel", "aluminium", "rubber", "plastic", "ice"]
assert set(MATERIALS) == set(Material.__args__)  # type: ignore[attr-defined]


class PayloadSpec(Model):
    """The payload: a shape, its size in millimetres, and a material (or a choice of them)."""

    shape: Literal["sphere", "box", "cylinder", "capsule", "ring"]
    radius: Annotated[Value, _within(*PAYLOADS["sphere"]["radius"])] | None = Field(
        default=None, description="sphere, cylinder, capsule; ring: the outer radius"
    )
    side: Annotated[Value, _within(*PAYLOADS["box"]["side"])] | None = Field(
        default=None, description="box: the edge"
    )
    length: Annotated[Value, _within(*PAYLOADS["cylinder"]["length"])] | None = Field(
        default=None, description="cylinder, capsule: the straight part"
    )
    width: Annotated[Value, _within(*PAYLOADS["ring"]["width"])] | None = Field(
        default=None, description="ring: the band's width, from its outer to its inner edge"
    )
    height: Annotated[Value, _within(*PAYLOADS["ring"]["height"])] | None = Field(
        default=None, description="ring: its height along its axis (it lies flat)"
    )
    material: Material | list[Material] = "wood"

    @model_validator(mode="after")
    def _sizes_fit_shape(self) -> PayloadSpec:
        needed = set(PAYLOADS[self.shape])
        given = {k for k in PAYLOAD_SIZES if getattr(self, k) is not None}
        if given - needed:
            raise ValueError(f"a {self.shape} has no {', '.join(sorted(given - needed))}")
        if needed - given:
            raise ValueError(f"a {self.shape} needs {', '.join(sorted(needed - given))}")
        if isinstance(self.material, list) and not self.material:
            raise ValueError("material: give at least one")
        return self


class CourseSpec(Model):
    """A course: a payload dropped on a start pad, then modules in order along +x; the last
    (a bin or a cup) holds the goal. Lengths in millimetres; a value may be a number or a
    range `[low, high]` drawn per seed."""

    name: Slug | None = Field(default=None, description="The family's name")
    payload: PayloadSpec
    width: Annotated[Value, _within(*COURSE_WIDTH)] = Field(
        default=420.0, description="Across the course (y)"
    )
    modules: list[Module] = Field(min_length=1, max_length=8)  # type: ignore[valid-type]
    start_height: Annotated[Value, _within(100.0, 3000.0)] | None = Field(
        default=None,
        description="The payload's start above the start pad; by default the lowest a chute "
        "down to the goal allows",
    )

    @model_validator(mode="after")
    def _lays_out(self) -> CourseSpec:
        data = self.as_data()
        for seed in range(CHECKED_SEEDS):
            try:
                lay_out(resolve(data, seed))
            except CourseError as error:
                suffix = f" (seed {seed}'s draw)" if self.has_ranges() else ""
                raise ValueError(f"{error}{suffix}") from None
        return self

    def as_data(self) -> dict[str, Any]:
        """Plain data for the builder: ranges as lists, no empty sizes."""
        return self.model_dump(mode="json", exclude_none=True)

    def has_ranges(self) -> bool:
        return bool(self.parameters())

    def parameters(self) -> dict[str, ParamRange]:
        """The ranges and choices drawn per seed, by flat parameter name."""
        from benchgen_dagster.schema.records import ParamRange

        data = self.as_data()
        found: dict[str, ParamRange] = {}
        flat = {
            "width": data["width"],
            "start_height": data.get("start_height"),
            **{f"payload.{k}": v for k, v in data["payload"].items()},
        }
        for index, module in enumerate(data["modules"]):
            flat.update({f"m{index + 1}.{k}": v for k, v in module.items() if k != "type"})
        for name, value in flat.items():
            if isinstance(value, list) and value and isinstance(value[0], str):
                found[name] = ParamRange(choices=value)
            elif isinstance(value, list):
                found[name] = ParamRange(low=value[0], high=value[1])
        return found

    def example_params(self, seed: int = 0) -> dict[str, Any]:
        return flat_params(resolve(self.as_data(), seed))


def spec_problems(errors: list[Any]) -> list[str]:
    """A spec's problems in words (from pydantic's `errors()`), each naming the module
    (1-based, with its type) and field."""
    problems: list[str] = []
    for e in errors:
        loc = list(e["loc"])
        while loc and loc[0] == "spec":
            loc = loc[1:]
        message = e["msg"].removeprefix("Value error, ")
        if len(loc) >= 2 and loc[0] == "modules" and isinstance(loc[1], int):
            where = f"module {loc[1] + 1}"
            rest = [str(p) for p in loc[2:] if not isinstance(p, int)]
            if rest and rest[0] in MODULES:
                where += f" ({rest[0]})"
                rest = rest[1:]
            if e["type"] == "union_tag_invalid":
                message = f"unknown module type; the modules: {', '.join(MODULES)}"
            elif e["type"] == "extra_forbidden":
                message = f"not a parameter of this module; its parameters: {_params_of(loc, e)}"
            field_name = rest[0] if rest else "type"
            text = f"{where}: {field_name}: {message}"
        elif not loc and message.startswith(("module", "course", "payload")):
            text = message  # the layout's own message names the module and field
        else:
            text = f"{'.'.join(str(p) for p in loc if not isinstance(p, int)) or 'spec'}: {message}"
        if text not in problems:
            problems.append(text)
    return problems


def _params_of(loc: list[Any], e: Any) -> str:
    kind = next((p for p in loc if p in MODULES), None)
    return ", ".join(MODULES[kind]) if kind else ""


def parse_spec(data: Any) -> CourseSpec:
    """A checked spec, or SpecRejected naming every problem."""
    try:
        return CourseSpec.model_validate(data)
    except ValidationError as error:
        raise SpecRejected(spec_problems(error.errors())) from None


class SpecRejected(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))
