"""What is wrong with a generation request, all of it at once, before it becomes a partition.

`check_request` is the one door: `benchgen request` and the `new_requests` sensor both go
through it. It reports every problem, not only the first: fields of the wrong shape, a family
that is not registered, parameters the family does not declare or values outside its declared
ranges, a split the family cannot go to, an id already taken, and seeds that repeat another
request's (the same family, parameters and seeds make the same scenarios: exact duplicates in
the release).

Seeds: a request that names its `seed_start` gets exactly those seeds or is refused when
another request of the same family and parameters has any of them; a request that leaves
`seed_start` out gets the first run of seeds no such request uses, with a note saying so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from benchgen_dagster.catalogue.registry import Family, UnknownFamily, registry
from benchgen_dagster.courses.spec import spec_problems
from benchgen_dagster.schema.records import GenerationRequest, ParamRange

# Whole numbers that pydantic would take `true` for (as 1).
SEED_FIELDS = ("variants", "seed_start")


@dataclass(frozen=True)
class Verdict:
    """A request as it was asked for, what is wrong with it, and what intake changed."""

    request: GenerationRequest | None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seed_start: int = 0
    already_accepted: bool = False  # the very same request is accepted: nothing new to run

    @property
    def ok(self) -> bool:
        return self.request is not None and not self.problems

    @property
    def admitted(self) -> GenerationRequest:
        """The request as it is accepted: with the seeds intake gave it."""
        assert self.request is not None and not self.problems, "a refused request"
        if self.seed_start == self.request.seed_start:
            return self.request
        return self.request.model_copy(update={"seed_start": self.seed_start})


def check_request(
    data: Mapping[str, object],
    accepted: Sequence[GenerationRequest],
    builtin: Sequence[GenerationRequest],
) -> Verdict:
    """Every problem with a request's fields, against the registry and the requests already
    accepted (files in `accepted/`) or built in (one partition per family)."""
    request, problems = _parse(data)
    flagged = {p.split(":", 1)[0] for p in problems}  # the registry checks only the others
    family, params = data.get("family"), data.get("params")
    if not isinstance(params, Mapping) or "params" in flagged:
        params = {}
    if isinstance(family, str) and data.get("spec") is not None:
        problems.append("spec: a request gives a built-in family or a spec, not both")
    elif isinstance(family, str) and "family" not in flagged:
        problems += registry_problems(
            family,
            {k: v for k, v in params.items() if f"params.{k}" not in flagged},
            data.get("split") if "split" not in flagged else None,
        )
    problems += [
        f"{name}: must be a whole number, not {str(data[name]).lower()}"
        for name in SEED_FIELDS
        if isinstance(data.get(name), bool) and name not in flagged
    ]
    if request is None or problems:
        return Verdict(request, problems)
    return _against_others(request, accepted, builtin)


def registry_problems(family: str, params: Mapping[str, object], split: object) -> list[str]:
    """What the registry says of a request's family, parameters and split."""
    known = registry().get(family)
    if known is None:
        return [f"family: {UnknownFamily(family)}, or leave family out for the agent to write one"]
    problems = [_param_problem(known, name, value) for name, value in params.items()]
    if split is not None and split != known.split:
        problems.append(
            f"split: {family} is a built-in family of split {known.split.value!r}; splits are "
            f"by family (held-out families test generalisation), so leave split out"
        )
    return [p for p in problems if p]


def problems_with(request: GenerationRequest) -> list[str]:
    """What the registry says of an accepted request today (a family's ranges may change)."""
    if request.family is None:
        return []
    return registry_problems(request.family, request.params, request.split)


def _parse(data: Mapping[str, object]) -> tuple[GenerationRequest | None, list[str]]:
    try:
        return GenerationRequest.model_validate(dict(data)), []
    except ValidationError as error:
        return None, shape_problems(error)


def shape_problems(error: ValidationError) -> list[str]:
    """A request's fields of the wrong shape, one problem each, in words."""
    problems: dict[str, str] = {}
    in_spec = [e for e in error.errors() if e["loc"][:1] == ("spec",)]
    for text in spec_problems(in_spec):
        problems.setdefault(f"spec {text}", f"spec: {text}")
    for e in error.errors():
        if e in in_spec:
            continue
        loc, message = e["loc"], e["msg"]
        if e["type"] == "extra_forbidden":
            fields = ", ".join(f for f in GenerationRequest.model_fields if f != "schema_version")
            message = f"not a field of a request; its fields: {fields}"
        elif len(loc) == 3 and loc[0] == "params":  # one error per type a value may have
            loc, message = loc[:2], f"{e['input']!r} is not a number, a string or true/false"
        where = ".".join(str(p) for p in loc) or "request"
        problems.setdefault(where, f"{where}: {message}")
    return list(problems.values())


def _param_problem(family: Family, name: str, value: object) -> str:
    declared = family.params.get(name)
    where = f"params.{name}"
    if declared is None:
        return (
            f"{where}: {family.name} has no parameter {name!r}; "
            f"its parameters: {', '.join(family.params) or '(none)'}"
        )
    if declared.choices is not None:
        if any(_same(value, choice) for choice in declared.choices):
            return ""
        choices = ", ".join(str(c) for c in declared.choices)
        return f"{where}: {value!r} is not one of {family.name}'s choices: {choices}"
    span = _span(declared)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{where}: {value!r} is not a number; {family.name} declares {span}"
    if not declared.low <= value <= declared.high:  # type: ignore[operator]  # NaN fails too
        return f"{where}: {value!r} is outside {family.name}'s declared range {span}"
    return ""


def _same(value: object, choice: object) -> bool:
    """Equal, and both or neither a boolean (`True == 1` in Python, not in a request)."""
    return value == choice and isinstance(value, bool) == isinstance(choice, bool)


def _span(declared: ParamRange) -> str:
    return f"{declared.low:g}–{declared.high:g}"


def seed_span(seeds: range) -> str:
    """`seeds 3–7`, or `seed 3`."""
    return f"seeds {seeds.start}–{seeds.stop - 1}" if len(seeds) > 1 else f"seed {seeds.start}"


def _against_others(
    request: GenerationRequest,
    accepted: Sequence[GenerationRequest],
    builtin: Sequence[GenerationRequest],
) -> Verdict:
    """The request among the others: its id is its own, its seeds repeat none of theirs."""
    explicit_seeds = "seed_start" in request.model_fields_set
    same_id = next((r for r in accepted if r.request_id == request.request_id), None)
    if same_id is not None:
        ignored = set() if explicit_seeds else {"seed_start"}
        if same_id.model_dump(exclude=ignored) == request.model_dump(exclude=ignored):
            note = f"the same request is already accepted as {same_id.request_id}: nothing new"
            return Verdict(request, [], [note], same_id.seed_start, already_accepted=True)
        return Verdict(request, [_id_taken(request.request_id, "an accepted request")])
    if any(r.request_id == request.request_id for r in builtin):
        return Verdict(request, [_id_taken(request.request_id, "a built-in family's partition")])
    if request.family is None:  # the agent writes a family of its own
        return Verdict(request, seed_start=request.seed_start)

    alike = [
        r
        for r in (*builtin, *accepted)
        if (r.family, r.params, r.dataset) == (request.family, request.params, request.dataset)
    ]
    # a request with a difficulty holds every seed its draw may try (`reserved_seeds`)
    mine = request.reserved_seeds
    free = first_free_seed(len(mine), [r.reserved_seeds for r in alike])
    clashes = [r for r in alike if _overlap(r.reserved_seeds, mine)]
    if not clashes:
        return Verdict(request, seed_start=request.seed_start)
    named = " and ".join(f"request {r.request_id}'s {seed_span(r.reserved_seeds)}" for r in clashes)
    repeat = (
        f"{seed_span(mine)} would repeat {named} (the same family {request.family}, "
        f"params {request.params or '{}'})"
    )
    if explicit_seeds:
        problem = (
            f"seed_start: {repeat}: exact duplicates in the release; leave seed_start out to "
            f"get fresh seeds, or use seed_start {free}"
        )
        return Verdict(request, [problem])
    fresh = range(free, free + request.variants)
    return Verdict(request, [], [f"{repeat}; given {seed_span(fresh)} instead"], free)


def first_free_seed(count: int, taken: Sequence[range]) -> int:
    """The lowest start of `count` seeds in a row that none of the taken ranges holds."""
    start = 0
    for seeds in sorted(taken, key=lambda r: r.start):
        if _overlap(seeds, range(start, start + count)):
            start = max(start, seeds.stop)
    return start


def _overlap(a: range, b: range) -> bool:
    return a.start < b.stop and b.start < a.stop


def _id_taken(request_id: str, whose: str) -> str:
    return (
        f"request_id: {request_id!r} is already {whose}; give another request_id "
        f"(or change the prompt), or `benchgen forget {request_id}` first"
    )
