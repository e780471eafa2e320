"""The pipeline's steps as plain functions: run a family's variants, validate, render.

Each step takes and returns `Bundle`s (a record plus media files), so the Dagster assets that
wrap them only move bundles in and out of storage and attach metadata.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import cache
from pathlib import Path

from benchgen_dagster import __version__
from benchgen_dagster.catalogue.registry import split_of
from benchgen_dagster.dataset.members import CONTROLS, FILMSTRIP, member_json
from benchgen_dagster.sandbox.protocol import Job, JobOutcome, RawVariant, ScriptFailure
from benchgen_dagster.sandbox.reaper import end_with
from benchgen_dagster.sandbox.runner import BatchResult, Launcher, Limits, run_batch
from benchgen_dagster.schema.contract import (
    Controls,
    Lineage,
    Reason,
    Scenario,
    Stage,
    StageResult,
    scenario_id_for,
)
from benchgen_dagster.schema.records import (
    DIFFICULTY_DRAW_BOUND,
    DifficultyDraw,
    FamilyScript,
    GenerationRequest,
    RenderBatch,
    RenderResult,
    ValidationBatch,
    VariantBatch,
    VariantRecord,
)
from benchgen_dagster.stores.bundles import Bundle
from benchgen_dagster.validation.funnel import (
    FunnelSettings,
    ValidatedVariant,
    validate_variant,
    validator_version,
)
from benchgen_dagster.validation.render import SceneRenderer
from benchgen_dagster.validation.scene import VariantContext

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
# Below this many variants, starting more workers costs more than they save.
PARALLEL_MIN_VARIANTS = 48
CONSOLE_LIMIT = 4000
DRAW_BOUND = DIFFICULTY_DRAW_BOUND
TIER_ORDER = ("easy", "medium", "hard", "very_hard")
PACKAGE = Path(__file__).resolve().parents[1]


def code_versions(script: FamilyScript) -> dict[str, str]:
    return {
        "benchgen": __version__,
        "validator": validator_version(),
        "family": script.code_version,
    }


@cache
def module_version(*files: str) -> str:
    """A hash of files of the package (`"sandbox/worker.py"`, templates too): the code version
    of a step that runs them, so that editing them, and only them, makes its results stale."""
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (PACKAGE / name).read_bytes())
    return digest.hexdigest()[:12]


def request_version(request: GenerationRequest) -> str:
    """The data version of a request: a hash of all of it (prompt, family, seeds, params)."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()[:16]


def inputs_fingerprint(
    request: GenerationRequest,
    script: FamilyScript,
    funnel: FunnelSettings,
    cameras: Sequence[str],
    width: int,
    height: int,
) -> str:
    """What a partition's shards are made from: the request, the family script with the kit it
    imports, the validator, benchgen itself, and the settings the results depend on (renders,
    robustness, certificate and difficulty trials). Equal fingerprints mean nothing to redo."""
    parts = [
        request.model_dump_json(),
        script.code_version,
        validator_version(),
        __version__,
        f"{width}x{height}:{','.join(cameras)}",
        f"{funnel.robust_trials}/{funnel.robust_min_successes}",
        f"{funnel.certificate_trials}/{funnel.difficulty_max_trials}",
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def run_variants(
    request: GenerationRequest,
    script: FamilyScript,
    launcher: Launcher,
    limits: Limits,
    progress: Progress | None = None,
    workers: int = 1,
) -> Bundle[VariantBatch]:
    """Run the family script for every seed of the request in sandboxed batches: one worker,
    or one per core for a request large enough to pay for their start."""
    jobs = [Job(index, seed, dict(request.params)) for index, seed in enumerate(request.seeds)]
    lock, done = threading.Lock(), 0

    def count(_: JobOutcome) -> None:
        nonlocal done
        with lock:
            done += 1
            if progress:
                progress(done, len(jobs))

    def run(chunk: list[Job]) -> BatchResult:
        return run_batch(script.source, chunk, launcher, limits, on_outcome=count)

    chunks = split(jobs, workers if len(jobs) >= PARALLEL_MIN_VARIANTS else 1)
    with ThreadPoolExecutor(len(chunks)) as pool:  # the work happens in the sandboxes
        results = list(pool.map(run, chunks))
    outcomes = [o for r in results for o in r.outcomes]
    result = BatchResult(
        outcomes,
        launcher.name,
        sum(r.worker_starts for r in results),
        results[-1].console,
        max(r.peak_memory_bytes for r in results),
    )
    records, files = [], {}
    for outcome in result.outcomes:
        scenario_id = scenario_id_for(request.request_id, outcome.job.seed)
        if isinstance(outcome, ScriptFailure):
            records.append(
                VariantRecord(
                    scenario_id=scenario_id,
                    seed=outcome.job.seed,
                    index=outcome.job.index,
                    produced=False,
                    reason=outcome.reason,
                    message=outcome.message[:2000],
                    seconds=outcome.seconds,
                )
            )
            continue
        for worker_name, data in outcome.meshes.items():
            files[stored_mesh_name(scenario_id, worker_name)] = data
        records.append(
            VariantRecord(
                scenario_id=scenario_id,
                seed=outcome.job.seed,
                index=outcome.job.index,
                produced=True,
                seconds=outcome.seconds,
                build=outcome.build,
            )
        )
    batch = VariantBatch(
        request_id=request.request_id,
        family=script.family,
        sandbox=result.sandbox,
        script_sha256=script.sha256,
        worker_starts=result.worker_starts,
        console=result.console[-CONSOLE_LIMIT:],
        worker_peak_memory_mb=round(result.peak_memory_bytes / 2**20, 1),
        variants=records,
    )
    return Bundle(batch, files)


def stored_mesh_name(scenario_id: str, worker_name: str) -> str:
    """`3.parts.0.0.stl` from job 3 is stored as `<scenario_id>.parts.0.0.stl`."""
    return scenario_id + worker_name[worker_name.index(".") :]


def outcomes_of(variants: Bundle[VariantBatch]) -> list[JobOutcome]:
    """The sandbox outcomes back from a stored variant bundle."""
    outcomes: list[JobOutcome] = []
    for record in variants.record.variants:
        job = Job(record.index, record.seed)
        if not record.produced or record.build is None:
            outcomes.append(
                ScriptFailure(
                    job, record.reason or Reason.script_error, record.message, record.seconds
                )
            )
            continue
        build = record.build
        names = [n for group in (build.parts, build.solution) for ns in group.values() for n in ns]
        meshes = {n: variants.files[stored_mesh_name(record.scenario_id, n)] for n in names}
        outcomes.append(RawVariant(job, build, meshes, record.seconds or 0.0))
    return outcomes


def validate_variants(
    request: GenerationRequest,
    script: FamilyScript,
    variants: Bundle[VariantBatch],
    settings: FunnelSettings = FunnelSettings(),
    progress: Progress | None = None,
    workers: int = 1,
    timings: dict[str, float] | None = None,
) -> Bundle[ValidationBatch]:
    """Every variant through the funnel; accepted ones bring their MJCF files. Seconds per
    stage are added to `timings` when given."""
    lineage = Lineage(
        request_id=request.request_id,
        prompt_sha256=request.prompt_sha256,
        script_sha256=script.sha256,
        code_versions=code_versions(script),
        sandbox=variants.record.sandbox,
        family_source=script.origin,
        trace_id=script.trace_id,
    )
    context = VariantContext(script.family, split_of(script.family, request.split), lineage)
    reports, scenarios, files, geometry = [], [], {}, {}
    outcomes = outcomes_of(variants)
    for done, validated in enumerate(_validated(outcomes, context, settings, workers), 1):
        reports.append(validated.report)
        if timings is not None:
            for stage, seconds in validated.seconds.items():
                timings[stage] = timings.get(stage, 0.0) + seconds
        scenario = validated.scenario
        if scenario and validated.xml and validated.solution_xml and validated.geometry_sha256:
            scenarios.append(scenario)
            files[f"{scenario.scenario_id}.mjcf.xml"] = validated.xml.encode()
            files[f"{scenario.scenario_id}.solution.mjcf.xml"] = validated.solution_xml.encode()
            if validated.controls is not None:
                files[f"{scenario.scenario_id}.{CONTROLS}"] = member_json(
                    validated.controls.model_dump(mode="json")
                )
            geometry[scenario.scenario_id] = validated.geometry_sha256
        if progress:
            progress(done, len(outcomes))
    batch = ValidationBatch(
        request_id=request.request_id,
        family=script.family,
        reports=reports,
        scenarios=scenarios,
        geometry=geometry,
    )
    return Bundle(batch, files)


def at_least(scenario: Scenario, asked: str) -> bool:
    """Whether a scenario's difficulty tier is the asked one or harder (easy < medium < hard
    < very_hard); an untiered scenario is not."""
    tier = scenario.difficulty.tier if scenario.difficulty else None
    return tier in TIER_ORDER and TIER_ORDER.index(tier) >= TIER_ORDER.index(asked)


def validate_request(
    request: GenerationRequest,
    script: FamilyScript,
    variants: Bundle[VariantBatch],
    launcher: Callable[[], Launcher],
    limits: Limits,
    settings: FunnelSettings = FunnelSettings(),
    progress: Progress | None = None,
    workers: int = 1,
    timings: dict[str, float] | None = None,
) -> Bundle[ValidationBatch]:
    """The request's variants through the funnel. A request with a difficulty then draws the
    seeds after its last one, a request's worth at a time through the same sandbox and limits,
    until `variants` accepted scenarios are of that tier or harder or `DRAW_BOUND` × variants
    seeds have been tried; the accepted ones easier than asked are left out of the scenarios
    (their reports stay, so the funnel counts every seed tried). Without a difficulty this is
    `validate_variants`, unchanged. `launcher` is called only when more seeds are needed."""
    validated = validate_variants(request, script, variants, settings, progress, workers, timings)
    asked = request.difficulty
    if asked is None:
        return validated
    reports, scenarios = list(validated.record.reports), list(validated.record.scenarios)
    geometry, files = dict(validated.record.geometry), dict(validated.files)
    drawn: list[VariantRecord] = []
    bound = DRAW_BOUND * request.variants
    tried = request.variants
    while sum(at_least(s, asked) for s in scenarios) < request.variants and tried < bound:
        count = min(request.variants, bound - tried)
        more = request.model_copy(
            update={"seed_start": request.seed_start + tried, "variants": count}
        )
        extra = run_variants(more, script, launcher(), limits, workers=workers)
        records = [v.model_copy(update={"index": v.index + tried}) for v in extra.record.variants]
        extra = Bundle(extra.record.model_copy(update={"variants": records}), extra.files)
        more_validated = validate_variants(more, script, extra, settings, None, workers, timings)
        drawn += records
        files.update(extra.files)
        files.update(more_validated.files)
        reports += more_validated.record.reports
        scenarios += more_validated.record.scenarios
        geometry.update(more_validated.record.geometry)
        tried += count
    kept = [s for s in scenarios if at_least(s, asked)]
    easier = [s.scenario_id for s in scenarios if not at_least(s, asked)]
    for sid in easier:
        del files[f"{sid}.mjcf.xml"], files[f"{sid}.solution.mjcf.xml"], geometry[sid]
        files.pop(f"{sid}.{CONTROLS}", None)
    draw = DifficultyDraw(
        asked=asked,
        wanted=request.variants,
        found=len(kept),
        seeds_tried=tried,
        bound=bound,
        shortfall=max(0, request.variants - len(kept)),
        easier_left_out=easier,
        variants=drawn,
    )
    batch = validated.record.model_copy(
        update={"reports": reports, "scenarios": kept, "geometry": geometry, "draw": draw}
    )
    return Bundle(batch, files)


def _validated(
    outcomes: list[JobOutcome],
    context: VariantContext,
    settings: FunnelSettings,
    workers: int,
) -> Iterator[ValidatedVariant]:
    """Validated variants in order, from a pool of processes when there are enough of them.
    Validation is a pure function of its inputs, so the pool changes nothing but the time."""
    if workers <= 1 or len(outcomes) < PARALLEL_MIN_VARIANTS:
        yield from (validate_variant(o, context, settings) for o in outcomes)
        return
    tasks = [(o, context, settings) for o in outcomes]
    spawn = multiprocessing.get_context("spawn")  # never fork a process that runs threads
    with ProcessPoolExecutor(
        workers, mp_context=spawn, initializer=end_with, initargs=(os.getpid(),)
    ) as pool:
        yield from pool.map(_validate, tasks, chunksize=4)


def _validate(task: tuple[JobOutcome, VariantContext, FunnelSettings]) -> ValidatedVariant:
    return validate_variant(*task)


def parallelism(partition_sizes: list[int], workers: int) -> tuple[int, int]:
    """How to spread partitions over `workers` cores: (partitions at once, workers inside each).
    Partitions side by side, one worker each, pay their start-up (a sandbox, imports) once per
    partition; only when there are fewer partitions than cores do large ones use the spare
    cores inside. One level of parallelism never oversubscribes."""
    at_once = max(1, min(workers, len(partition_sizes)))
    large = max(partition_sizes, default=0) >= PARALLEL_MIN_VARIANTS
    return at_once, max(1, workers // at_once) if large else 1


def split(items: list[Job], parts: int) -> list[list[Job]]:
    """Contiguous chunks of nearly equal size, in order."""
    size, extra = divmod(len(items), max(1, parts))
    chunks, start = [], 0
    for k in range(max(1, parts)):
        end = start + size + (1 if k < extra else 0)
        chunks.append(items[start:end])
        start = end
    return [c for c in chunks if c] or [[]]


def _controls(data: bytes | None) -> Controls | None:
    return None if data is None else Controls.model_validate_json(data)


def render_scenarios(
    validated: Bundle[ValidationBatch], cameras: tuple[str, ...], width: int, height: int
) -> Bundle[RenderBatch]:
    """Render every accepted scenario from its fixed cameras; a kinematic one also gets a
    filmstrip of its reference run."""
    results, files = [], {}
    with SceneRenderer(width, height) as renderer:
        for scenario in validated.record.scenarios:
            sid = scenario.scenario_id
            try:
                images = renderer.render(validated.files[f"{sid}.mjcf.xml"].decode(), cameras)
            except Exception as error:
                stage = StageResult(
                    stage=Stage.render,
                    passed=False,
                    reason=Reason.render_failed,
                    message=str(error)[:500],
                )
                results.append(RenderResult(scenario_id=sid, stage=stage, files=[]))
                continue
            names = [f"{sid}.render_{k}.png" for k in range(len(images))]
            files.update(zip(names, images, strict=True))
            if scenario.tier == "kinematic":
                names.append(f"{sid}.{FILMSTRIP}")
                files[names[-1]] = renderer.filmstrip(
                    validated.files[f"{sid}.solution.mjcf.xml"].decode(),
                    _controls(validated.files.get(f"{sid}.{CONTROLS}")),
                    scenario.simulation.duration_s,
                )
            stage = StageResult(
                stage=Stage.render, passed=True, measurements={"images": len(images)}
            )
            results.append(RenderResult(scenario_id=sid, stage=stage, files=names))
    return Bundle(RenderBatch(request_id=validated.record.request_id, results=results), files)
