"""Solvers, the built-in baselines, and scoring a solver over a split of a dataset.

A solver is given a scenario and an attempt number (0, 1, ...) and returns a design for that
attempt: what `scoring.evaluate` takes (`{label: shape or STL bytes}` or MJCF bodies), or a
`Proposal` naming its material too, or None for nothing built. `solve` gives it up to K attempts
per scenario, stops at the first success, and reports PHYRE's metrics per family and overall.

The built-in baselines are `null` (nothing built), `random-plank` (one random plank),
`random-parts` (two to four random planks, blocks and wedges) and `reference` (the scenario's
own reference solution, remade in the sandbox: the oracle). The random ones are seeded by
(scenario id, attempt), so they are deterministic; a random design that sinks into the scenery
is redrawn and is not an attempt, as PHYRE does not count invalid actions.
"""

from __future__ import annotations

import hashlib
import importlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import Field

from benchgen_dagster.dataset.reader import ScenarioSample
from benchgen_dagster.errors import UserError
from benchgen_dagster.kit import Mechanism
from benchgen_dagster.schema.contract import MATERIALS, Box3, Material, Model, Scenario
from benchgen_dagster.validation.model import ROLLING_FRICTION
from benchgen_dagster.validation.scoring import Design, evaluate, ruled_out

DEFAULT_ATTEMPTS = 3
REDRAWS = 12  # random designs drawn per attempt until one is clear of the scenery
MARGIN_M = 0.002  # random parts stay this far inside the build zone
PLANK_LENGTH_M = (0.08, 0.7)
PLANK_THICKNESS_M = 0.01
MAX_PITCH = math.radians(45)
MIN_WIDTH_M = 0.03
BUDGET_SHARE = 0.98  # of the weight and cost limits: clear of rounding at the limit

PartKind = Literal["plank", "block", "wedge"]


@dataclass(frozen=True)
class Proposal:
    """A design and what it is made of."""

    design: Design
    material: str = "wood"


@runtime_checkable
class Solver(Protocol):
    """Returns a design for one attempt at one scenario (None: nothing built). A solver may
    also define `prepare(samples, attempts)`, called once with every scenario and the number
    of attempts before any attempt (the reference baseline remakes all its solutions there, one
    sandbox worker per family; a script solver runs all its attempts in one worker)."""

    def __call__(self, sample: ScenarioSample, attempt: int) -> Design | Proposal | None: ...


# --- metrics ------------------------------------------------------------------------------


def auccess_weights(attempts: int) -> list[float]:
    """PHYRE's weights w_k = log(k + 1) − log(k), k = 1..K (phyre/metrics.py,
    `compute_metrics`)."""
    return [math.log(k + 1) - math.log(k) for k in range(1, attempts + 1)]


def success_curve(solved_at: Sequence[int | None], attempts: int) -> list[float]:
    """s_k for k = 1..K: the share of scenarios solved within k attempts (`solved_at` is the
    1-based attempt of each scenario's first success, None when it has none)."""
    if not solved_at:
        return [0.0] * attempts
    solved = [s for s in solved_at if s is not None]
    return [sum(s <= k for s in solved) / len(solved_at) for k in range(1, attempts + 1)]


def auccess(solved_at: Sequence[int | None], attempts: int) -> float:
    """PHYRE's AUCCESS (Bakhtin et al. 2019, "PHYRE: A New Benchmark for Physical Reasoning"):
    AUCCESS = Σ_k w_k · s_k / Σ_k w_k over k = 1..K, with w_k = log(k + 1) − log(k) and s_k the
    share of scenarios solved within k attempts. PHYRE uses K = 100; here K is `attempts`."""
    weights = auccess_weights(attempts)
    curve = success_curve(solved_at, attempts)
    return sum(w * s for w, s in zip(weights, curve, strict=True)) / sum(weights)


class AttemptResult(Model):
    valid: bool
    success: bool
    cost: float = 0.0
    weight_g: float = 0.0
    reason: str = ""


class ScenarioResult(Model):
    scenario_id: str
    family: str
    attempts: list[AttemptResult]

    @property
    def solved_at(self) -> int | None:
        """The 1-based attempt of the first success, or None."""
        return next((k for k, a in enumerate(self.attempts, start=1) if a.success), None)


class Metrics(Model):
    scenarios: int
    solved: int
    success_at_1: float
    success_at_k: float
    auccess: float
    attempts_made: int
    invalid_attempts: int
    mean_cost: float | None = Field(None, description="Of each solved scenario's first success")
    mean_weight_g: float | None = None


class SolveResult(Model):
    solver: str
    split: str | None
    attempts: int
    overall: Metrics
    families: dict[str, Metrics]
    scenarios: list[ScenarioResult]


def metrics(results: Sequence[ScenarioResult], attempts: int) -> Metrics:
    solved_at = [r.solved_at for r in results]
    winners = [r.attempts[k - 1] for r, k in zip(results, solved_at, strict=True) if k]
    curve = success_curve(solved_at, attempts)
    return Metrics(
        scenarios=len(results),
        solved=len(winners),
        success_at_1=round(curve[0], 4),
        success_at_k=round(curve[-1], 4),
        auccess=round(auccess(solved_at, attempts), 4),
        attempts_made=sum(len(r.attempts) for r in results),
        invalid_attempts=sum(not a.valid for r in results for a in r.attempts),
        mean_cost=round(sum(a.cost for a in winners) / len(winners), 4) if winners else None,
        mean_weight_g=round(sum(a.weight_g for a in winners) / len(winners), 3)
        if winners
        else None,
    )


# --- scoring a solver ---------------------------------------------------------------------


def solve(
    samples: Iterable[ScenarioSample],
    solver: Solver,
    attempts: int = DEFAULT_ATTEMPTS,
    *,
    name: str = "solver",
    split: str | None = None,
    trials: int = 0,
    on_scenario: Callable[[ScenarioResult], None] | None = None,
) -> SolveResult:
    """Give `solver` up to `attempts` attempts at each scenario, stopping at its first
    success; an attempt whose design breaks a constraint, or that the solver fails to make,
    is a failed attempt. `trials` perturbed runs are not needed for success (the nominal run
    decides it), so by default none are simulated."""
    if attempts < 1:
        raise ValueError("a solver needs at least one attempt")
    samples = list(samples)
    prepare = getattr(solver, "prepare", None)
    if callable(prepare):
        prepare(samples, attempts)
    results = []
    for sample in samples:
        result = ScenarioResult(
            scenario_id=sample.scenario.scenario_id,
            family=sample.scenario.family,
            attempts=_attempts(sample, solver, attempts, trials),
        )
        results.append(result)
        if on_scenario:
            on_scenario(result)
    families = sorted({r.family for r in results})
    return SolveResult(
        solver=name,
        split=split,
        attempts=attempts,
        overall=metrics(results, attempts),
        families={f: metrics([r for r in results if r.family == f], attempts) for f in families},
        scenarios=results,
    )


def _attempts(
    sample: ScenarioSample, solver: Solver, attempts: int, trials: int
) -> list[AttemptResult]:
    made: list[AttemptResult] = []
    seen: dict[str, AttemptResult] = {}  # evaluate is deterministic: one design, one result
    for attempt in range(attempts):
        try:
            proposal = as_proposal(solver(sample, attempt))
        except Exception as error:  # the solver's own failure is its failed attempt
            made.append(AttemptResult(valid=False, success=False, reason=_message(error)))
            continue
        key = _design_key(proposal)
        if key is not None and key in seen:
            result = seen[key]
        else:
            result = _score(sample, proposal, trials)
            if key is not None:
                seen[key] = result
        made.append(result)
        if result.success:
            break
    return made


def as_proposal(made: Design | Proposal | None) -> Proposal:
    if made is None:
        return Proposal({})
    if isinstance(made, Proposal):
        return made
    if isinstance(made, str | dict):
        return Proposal(made)
    raise TypeError(f"a solver returns a design, a Proposal or None, not {type(made).__name__}")


def _score(sample: ScenarioSample, proposal: Proposal, trials: int) -> AttemptResult:
    try:
        evaluation = evaluate(sample, proposal.design, proposal.material, trials)
    except ValueError as error:  # a design that does not load: a failed attempt
        return AttemptResult(valid=False, success=False, reason=str(error)[:300])
    return AttemptResult(
        valid=evaluation.valid,
        success=evaluation.success,
        cost=evaluation.cost,
        weight_g=evaluation.weight_g,
        reason="; ".join(evaluation.reasons)[:300],
    )


def _design_key(proposal: Proposal) -> str | None:
    """A hash of a design made of text or bytes only (None for build123d shapes)."""
    digest = hashlib.sha256(proposal.material.encode())
    design = proposal.design
    if isinstance(design, str):
        digest.update(b"mjcf\0" + design.encode())
        return digest.hexdigest()
    if isinstance(design, Mechanism):  # its declarations are plain values
        digest.update(repr((design.joints, design.actuators, design.controls)).encode())
        design = design.parts
    for label in sorted(design):
        value = design[label]
        stls = [value] if isinstance(value, bytes) else value
        if not isinstance(stls, list | tuple) or not all(isinstance(b, bytes) for b in stls):
            return None
        digest.update(label.encode() + b"\0")
        for stl in stls:
            digest.update(hashlib.sha256(stl).digest())
    return digest.hexdigest()


class AttemptFailed(RuntimeError):
    """A solver that could not make an attempt, saying why."""


def _message(error: BaseException) -> str:
    if isinstance(error, AttemptFailed):
        return str(error)[:300]
    return f"the solver failed: {type(error).__name__}: {error}"[:300]


# --- random parts -------------------------------------------------------------------------


@dataclass(frozen=True)
class RandomPart:
    """A box (plank, block) or a wedge (a ramp: a triangular prism rising along its length),
    in metres: `size` is its length, width and height along its own axes before it is turned
    by `yaw` about the vertical and pitched by `pitch` about its own width axis."""

    kind: PartKind
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    yaw: float
    pitch: float

    @property
    def volume(self) -> float:
        length, width, height = self.size
        return length * width * height * (0.5 if self.kind == "wedge" else 1.0)

    def rotation(self) -> np.ndarray:
        return _rotation(self.yaw, self.pitch)

    def half_extents(self) -> np.ndarray:
        """Half the sides of its axis-aligned bounding box."""
        return np.abs(self.rotation()) @ (np.array(self.size) / 2)


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    about_z = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    about_y = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    return about_z @ about_y


def draw_parts(
    rng: np.random.Generator,
    zone: Box3,
    max_weight_g: float,
    max_unit_cost: float,
    material: Material,
    kinds: Sequence[PartKind] = ("plank",),
    count: int = 1,
) -> list[RandomPart]:
    """`count` random parts of the given kinds, each wholly inside `zone` (a small margin in),
    together within the weight and cost limits. Pure: the same generator state, the same parts.
    Planks are 80–700 mm long, 10 mm thick, pitched up to 45°, as wide as the zone allows;
    blocks and wedges 30–300 mm a side. The scenery is not looked at: a caller that must stay
    clear of it redraws."""
    lo = np.array(zone.min) + MARGIN_M
    hi = np.array(zone.max) - MARGIN_M
    room = np.maximum(hi - lo, 1e-4)
    budget_kg = BUDGET_SHARE * min(
        max_weight_g / 1000, max_unit_cost / max(material.cost_per_kg, 1e-9)
    )
    budget_m3 = budget_kg / material.density / count
    return [_draw_part(rng, lo, room, budget_m3, kinds) for _ in range(count)]


def _draw_part(
    rng: np.random.Generator,
    lo: np.ndarray,
    room: np.ndarray,
    budget_m3: float,
    kinds: Sequence[PartKind],
) -> RandomPart:
    kind: PartKind = kinds[int(rng.integers(len(kinds)))]
    yaw = float(rng.uniform(0, math.pi))
    pitch = float(rng.uniform(-MAX_PITCH, MAX_PITCH)) if kind == "plank" else 0.0
    if kind == "plank":
        width_room = max(min(room[0], room[1]), MIN_WIDTH_M)
        size = np.array(
            [
                rng.uniform(*PLANK_LENGTH_M),
                rng.uniform(MIN_WIDTH_M, max(width_room, MIN_WIDTH_M)),
                PLANK_THICKNESS_M,
            ]
        )
    else:
        size = rng.uniform(0.03, 0.3, size=3)
    volume = float(np.prod(size)) * (0.5 if kind == "wedge" else 1.0)
    if volume > budget_m3:  # too heavy: thinner across (a plank keeps its thickness)
        axes = [1] if kind == "plank" else [0, 1, 2]
        size[axes] *= (budget_m3 / volume) ** (1 / len(axes))
    turn = np.abs(_rotation(yaw, pitch))
    extents = turn @ size
    if np.any(extents > room):  # too big for the zone: shrink it to fit (a plank not thinner)
        kept = np.zeros(3)
        if kind == "plank":
            kept[2] = size[2]
        fixed, scalable = turn @ kept, turn @ (size - kept)
        scale = float(np.min((room - fixed) / np.maximum(scalable, 1e-12)))
        size = kept + (size - kept) * max(scale, 0.05)  # no fit: the caller redraws
        extents = turn @ size
    center = lo + extents / 2 + rng.uniform(0, 1, size=3) * np.maximum(room - extents, 0)
    return RandomPart(
        kind,
        tuple(float(c) for c in center),  # type: ignore[arg-type]
        tuple(float(s) for s in size),  # type: ignore[arg-type]
        yaw,
        pitch,
    )


def parts_mjcf(parts: Sequence[RandomPart], material: Material) -> str:
    """Random parts as MJCF bodies (fixed: no joint), with the material's density and friction:
    boxes as box geoms, wedges as inline convex meshes."""
    friction = " ".join(f"{f:g}" for f in (material.friction, *ROLLING_FRICTION))
    assets, bodies = [], []
    for number, part in enumerate(parts):
        name = f"{part.kind}{number}"
        w, x, y, z = _quaternion(part.yaw, part.pitch)
        pos = " ".join(f"{c:.6f}" for c in part.center)
        common = f'density="{material.density:g}" friction="{friction}" condim="6"'
        half = [s / 2 for s in part.size]
        if part.kind == "wedge":
            a, b, c = half
            vertices = [(-a, -b, -c), (a, -b, -c), (a, -b, c), (-a, b, -c), (a, b, -c), (a, b, c)]
            vertex = " ".join(f"{v:.6f}" for point in vertices for v in point)
            assets.append(f'<mesh name="{name}" vertex="{vertex}"/>')
            geom = f'<geom type="mesh" mesh="{name}" {common}/>'
        else:
            geom = f'<geom type="box" size="{" ".join(f"{h:.6f}" for h in half)}" {common}/>'
        quat = f"{w:.8f} {x:.8f} {y:.8f} {z:.8f}"
        bodies.append(f'<body name="{name}" pos="{pos}" quat="{quat}">{geom}</body>')
    asset = f"<asset>{''.join(assets)}</asset>" if assets else ""
    return f"<mujoco>{asset}<worldbody>{''.join(bodies)}</worldbody></mujoco>"


def _quaternion(yaw: float, pitch: float) -> tuple[float, float, float, float]:
    """The rotation about z by `yaw` after one about y by `pitch`, as (w, x, y, z)."""
    cz, sz, cy, sy = math.cos(yaw / 2), math.sin(yaw / 2), math.cos(pitch / 2), math.sin(pitch / 2)
    return (cz * cy, -sz * sy, cz * sy, sz * cy)


def attempt_rng(solver: str, scenario_id: str, attempt: int) -> np.random.Generator:
    """The generator of one attempt: seeded by the solver, the scenario and the attempt."""
    digest = hashlib.sha256(f"{solver}\0{scenario_id}\0{attempt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


class RandomParts:
    """Random parts drawn inside the build zone within the limits, redrawn while the evaluator
    would rule them out unsimulated: sunk into the scenery, or (its bounds of a mesh are
    conservative, its masses MuJoCo's) over the zone or a limit. After `REDRAWS` draws the last
    one is submitted, and the evaluator rules it out: a failed attempt."""

    def __init__(self, name: str, kinds: Sequence[PartKind], counts: tuple[int, int]) -> None:
        self.name, self.kinds, self.counts = name, tuple(kinds), counts
        self.material = "wood"

    def __call__(self, sample: ScenarioSample, attempt: int) -> Proposal:
        scenario: Scenario = sample.scenario
        rng = attempt_rng(self.name, scenario.scenario_id, attempt)
        material = MATERIALS[self.material]
        xml = ""
        for _ in range(REDRAWS):
            count = int(rng.integers(self.counts[0], self.counts[1] + 1))
            limits = scenario.constraints
            parts = draw_parts(
                rng,
                scenario.build_zone,
                limits.max_weight_g,
                limits.max_unit_cost,
                material,
                self.kinds,
                count,
            )
            xml = parts_mjcf(parts, material)
            if not ruled_out(sample, xml, self.material):
                break
        return Proposal(xml, self.material)


class NullSolver:
    """Builds nothing: what gravity alone does (the funnel's not-trivial check says it fails)."""

    def __call__(self, sample: ScenarioSample, attempt: int) -> None:
        return None


class ReferenceSolver:
    """The oracle: the scenario's own reference solution, remade by its script in the sandbox
    (one worker per family for every scenario, in `prepare`)."""

    def __init__(self, sandbox: str | None = None) -> None:
        self.sandbox = sandbox
        self._made: dict[str, tuple[Design, str] | str] = {}

    def prepare(self, samples: Sequence[ScenarioSample], attempts: int = 1) -> None:
        from benchgen_dagster.validation.scoring import reference_designs

        todo = [s for s in samples if s.scenario.scenario_id not in self._made]
        for sample, made in zip(todo, reference_designs(todo, self.sandbox), strict=True):
            self._made[sample.scenario.scenario_id] = made

    def __call__(self, sample: ScenarioSample, attempt: int) -> Proposal:
        if sample.scenario.scenario_id not in self._made:
            self.prepare([sample])
        made = self._made[sample.scenario.scenario_id]
        if isinstance(made, str):
            raise AttemptFailed(made)
        design, material = made
        return Proposal(design, material)


class ScriptSolver:
    """A solver script, `solve(scenario, attempt)`, run out of process in the sandbox: one
    worker for every attempt at every scenario (in `prepare`), under the sandbox's limits per
    attempt. The script gets the scenario as the dict of its `scenario.json` (metres) with the
    world's MJCF under `"mjcf"`, and returns MJCF bodies (text), `{label: build123d shape or STL
    bytes}`, either with a material as `(design, "steel")`, or None. What it returns is parsed
    as untrusted data (`sandbox.protocol.read_design`): bounded, and MJCF that names files is
    refused; an attempt that fails, overruns or breaks the protocol is a failed attempt."""

    def __init__(self, source: str, sandbox: str | None = None, limits: Any = None) -> None:
        from benchgen_dagster.sandbox.runner import Limits

        self.source, self.sandbox = source, sandbox
        self.limits = limits or Limits()
        self._made: dict[tuple[str, int], Any] = {}

    def prepare(self, samples: Sequence[ScenarioSample], attempts: int = DEFAULT_ATTEMPTS) -> None:
        import json

        from benchgen_dagster.sandbox.protocol import Job, read_design
        from benchgen_dagster.sandbox.runner import run_jobs
        from benchgen_dagster.sandbox.select import choose_launcher, sandbox_kind_from_environment

        keys = [
            (s.scenario.scenario_id, a)
            for s in samples
            for a in range(attempts)
            if (s.scenario.scenario_id, a) not in self._made
        ]
        if not keys:
            return
        number = {s.scenario.scenario_id: n for n, s in enumerate(samples)}
        inputs = {
            f"scenarios/{number[sid]}.json": json.dumps(
                {**sample.scenario.model_dump(mode="json"), "mjcf": sample.mjcf}
            ).encode()
            for sample in samples
            if (sid := sample.scenario.scenario_id) in {k[0] for k in keys}
        }
        jobs = [Job(index, attempt) for index, (_, attempt) in enumerate(keys)]
        scenario_of = {
            index: f"scenarios/{number[sid]}.json" for index, (sid, _) in enumerate(keys)
        }

        def describe(pending: list[Job]) -> str:
            return json.dumps(
                {
                    "task": "solve",
                    "jobs": [
                        {"index": j.index, "seed": j.seed, "scenario": scenario_of[j.index]}
                        for j in pending
                    ],
                }
            )

        launcher = choose_launcher(self.sandbox or sandbox_kind_from_environment())
        batch = run_jobs(
            self.source,
            jobs,
            launcher,
            self.limits,
            describe=describe,
            read=read_design,
            inputs=inputs,
        )
        for key, outcome in zip(keys, batch.outcomes, strict=True):
            self._made[key] = outcome

    def __call__(self, sample: ScenarioSample, attempt: int) -> Proposal:
        from benchgen_dagster.sandbox.protocol import ScriptFailure

        key = (sample.scenario.scenario_id, attempt)
        if key not in self._made:
            self.prepare([sample], attempt + 1)
        made = self._made[key]
        if isinstance(made, ScriptFailure):
            raise AttemptFailed(f"the solver script failed ({made.reason.value}): {made.message}")
        if made.material not in MATERIALS:
            raise AttemptFailed(f"the solver script named an unknown material {made.material!r}")
        return Proposal(made.mjcf if made.mjcf is not None else made.parts, made.material)


BASELINES: dict[str, Callable[[], Solver]] = {
    "null": NullSolver,
    "random-plank": lambda: RandomParts("random-plank", ("plank",), (1, 1)),
    "random-parts": lambda: RandomParts("random-parts", ("plank", "block", "wedge"), (2, 4)),
    "reference": ReferenceSolver,
}


def solver_from_name(name: str) -> Solver:
    """A built-in baseline by name, or `package.module:callable` imported into this process
    (trusted code only; a class is instantiated with no arguments)."""
    if name in BASELINES:
        return BASELINES[name]()
    module_name, colon, attribute = name.partition(":")
    if not colon or not module_name or not attribute:
        raise UserError(
            f"unknown solver {name!r}: give a baseline ({', '.join(BASELINES)}), "
            "MODULE:CALLABLE, or a script path/to/solver.py"
        )
    try:
        found: Any = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise UserError(f"cannot load solver {name!r}: {error}") from None
    solver = found() if isinstance(found, type) else found
    if not callable(solver):
        raise UserError(f"solver {name!r} is not callable")
    return solver


def solver_from_spec(
    spec: str, sandbox: str | None = None, attempt_timeout_s: float | None = None
) -> Solver:
    """What `benchgen solve --solver` names: a baseline, `path/to/solver.py` (run in the
    sandbox, each attempt within `attempt_timeout_s`), or `module:callable` (imported here)."""
    import dataclasses
    from pathlib import Path

    from benchgen_dagster.sandbox.runner import Limits

    if spec.endswith(".py"):
        path = Path(spec)
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"cannot read the solver script {spec}: {error}") from None
        limits = Limits()
        if attempt_timeout_s:
            limits = dataclasses.replace(limits, variant_timeout_s=attempt_timeout_s)
        return ScriptSolver(source, sandbox, limits)
    solver = solver_from_name(spec)
    if isinstance(solver, ReferenceSolver):
        solver.sandbox = sandbox
    return solver


def leaderboard(results: Sequence[SolveResult], dataset_version: str) -> dict[str, Any]:
    """Several solvers' results on one split as `leaderboard.json`: overall and per family,
    without the per-scenario attempts."""
    first = results[0]
    return {
        "dataset_version": dataset_version,
        "split": first.split,
        "attempts": first.attempts,
        "solvers": [
            r.model_dump(mode="json", include={"solver", "overall", "families"}) for r in results
        ],
    }


def leaderboard_markdown(results: Sequence[SolveResult]) -> str:
    """The overall metrics of several solvers as one Markdown table, best AUCCESS first (the
    card's own table)."""
    from benchgen_dagster.dataset.card import leaderboard_table

    return leaderboard_table(leaderboard(results, ""))


def results_table(result: SolveResult) -> str:
    """One solver's metrics per family and overall, as Markdown (what `benchgen solve`
    prints)."""
    lines = [
        f"solver {result.solver}, split {result.split or 'all'}, K = {result.attempts}",
        "",
        "| family | scenarios | success@1 | success@K | AUCCESS | invalid attempts "
        "| mean cost | mean weight (g) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [*result.families.items(), ("**overall**", result.overall)]
    for family, m in rows:
        cost = f"{m.mean_cost:.2f}" if m.mean_cost is not None else "–"
        weight = f"{m.mean_weight_g:.0f}" if m.mean_weight_g is not None else "–"
        lines.append(
            f"| {family} | {m.scenarios} | {m.success_at_1:.1%} | {m.success_at_k:.1%} "
            f"| {m.auccess:.3f} | {m.invalid_attempts}/{m.attempts_made} | {cost} | {weight} |"
        )
    return "\n".join(lines)
