"""Throughput of the pipeline, against a naive baseline measured in the same run.

The pipeline path is what the assets run: each family is one partition (sandboxed script
batch, validation, render, shards), partitions spread over a process pool as Dagster's
multiprocess runs spread them over cores, then one release. Each process of the pool keeps its
warm sandbox worker from one partition to the next, as one run's process does. It runs in two
timed phases so that validation has its own rate: (A) scripts and validation (run → meshes →
model → every simulation check, as the design defines the rate: no renders, no difficulty),
(B) the difficulty stage, renders and shards, then the release. The naive baseline is a fresh
Python process per variant that imports everything, runs the script and validates as phase A
does, as a simple implementation would; it runs on a sample of the same seeds.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from benchgen_dagster import __version__
from benchgen_dagster.catalogue.registry import get_family, registry
from benchgen_dagster.dataset.release import pack_shards, write_release
from benchgen_dagster.sandbox.reaper import end_with
from benchgen_dagster.sandbox.runner import Limits
from benchgen_dagster.sandbox.select import choose_launcher
from benchgen_dagster.sandbox.warm import keep_warm
from benchgen_dagster.schema.contract import Scenario
from benchgen_dagster.schema.records import GenerationRequest, ShardBatch, ValidationBatch
from benchgen_dagster.stores.bundles import Bundle
from benchgen_dagster.stores.local import LocalStore, Store
from benchgen_dagster.validation.funnel import FunnelSettings
from benchgen_dagster.validation.steps import (
    parallelism,
    render_scenarios,
    run_variants,
    validate_variants,
)

STAGES = (
    "script",
    "geometry",
    "rules",
    "model",
    "stable",
    "solvable",
    "difficulty",
    "render",
    "packaging",
)
DIFFICULTY_SAMPLE = 24  # scenarios whose trials are timed both ways, every family first
Pick = TypeVar("Pick")
# Phase A's funnel: everything but the random-design trials, which phase B times on their own.
VALIDATION = FunnelSettings(difficulty_max_trials=0)


@dataclass
class PartitionResult:
    family: str
    variants: int
    accepted: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    worker_peak_mb: float = 0.0
    worker_starts: int = 0
    in_scripts_s: float = 0.0  # of the script stage: inside the scripts, as the worker timed them
    process_peak_mb: float = 0.0
    tier: str = "spatial"  # kinematic when its scenarios are


def _request(family: str, count: int) -> GenerationRequest:
    return GenerationRequest(
        request_id=family, prompt=f"bench {family}", family=family, variants=count
    )


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def validate_partition(
    family: str, count: int, sandbox: str, workers: int
) -> tuple[PartitionResult, Any]:
    """Phase A for one partition: the sandboxed batch and the funnel, without renders; a large
    partition spreads over `workers` processes, as the assets do."""
    request, script = _request(family, count), get_family(family).script()
    result = PartitionResult(family, count)
    started = time.perf_counter()
    launcher = choose_launcher(sandbox, warn=lambda _: None)
    variants = run_variants(request, script, launcher, Limits(), workers=workers)
    result.seconds["script"] = time.perf_counter() - started
    result.worker_peak_mb = variants.record.worker_peak_memory_mb
    result.worker_starts = variants.record.worker_starts
    result.in_scripts_s = sum(v.seconds or 0.0 for v in variants.record.variants)
    timings: dict[str, float] = {}
    validated = validate_variants(
        request, script, variants, VALIDATION, workers=workers, timings=timings
    )
    result.seconds.update({str(k): v for k, v in timings.items()})
    result.accepted = len(validated.record.scenarios)
    if any(s.tier == "kinematic" for s in validated.record.scenarios):
        result.tier = "kinematic"
    result.process_peak_mb = _peak_mb()
    return result, (validated.record, dict(validated.files))


def package_partition(
    family: str, count: int, validated: Any, cameras: tuple[str, ...]
) -> tuple[dict[str, float], Any]:
    """Phase B for one partition: the difficulty stage (a trivial scenario leaves), renders
    and shards; their seconds, and the scenarios left."""
    request, script = _request(family, count), get_family(family).script()
    started = time.process_time()
    bundle = with_difficulty(Bundle(validated[0], validated[1]))
    rendering = time.process_time()
    renders = render_scenarios(bundle, cameras, 320, 240)
    packing = time.process_time()
    shards = pack_shards(request, script, bundle, renders)
    seconds = {
        "difficulty": rendering - started,
        "render": packing - rendering,
        "packaging": time.process_time() - packing,
        "accepted": len(bundle.record.scenarios),
    }
    return seconds, (shards.record, dict(shards.files))


def with_difficulty(validated: Bundle[ValidationBatch]) -> Bundle[ValidationBatch]:
    """The funnel's difficulty stage on phase A's accepted scenarios: each gets its random-
    design record, and one random designs solve often is left out, as the funnel would."""
    from benchgen_dagster.validation.difficulty import is_trivial, random_baseline

    kept, files = [], dict(validated.files)
    for scenario in validated.record.scenarios:
        sid = scenario.scenario_id
        result = random_baseline(files[f"{sid}.mjcf.xml"].decode(), scenario)
        if is_trivial(result.difficulty):
            del files[f"{sid}.mjcf.xml"], files[f"{sid}.solution.mjcf.xml"]
            continue
        kept.append(scenario.model_copy(update={"difficulty": result.difficulty}))
    geometry = {
        k: v for k, v in validated.record.geometry.items() if k in {s.scenario_id for s in kept}
    }
    record = validated.record.model_copy(update={"scenarios": kept, "geometry": geometry})
    return Bundle(record, files)


def plan(scenarios: int) -> dict[str, int]:
    """Variants per family: the total spread evenly over every registered family."""
    families = sorted(registry())
    base, extra = divmod(scenarios, len(families))
    return {f: base + (1 if i < extra else 0) for i, f in enumerate(families) if base or i < extra}


def _start_pool_process(bench: int, warm_workers: bool) -> None:
    end_with(bench)
    if warm_workers:
        keep_warm()


def run_pipeline(
    scenarios: int,
    workers: int,
    sandbox: str,
    cameras: tuple[str, ...],
    say: Callable[[str], None],
    warm_workers: bool = True,
) -> dict[str, Any]:
    counts = plan(scenarios)
    at_once, inside = parallelism(list(counts.values()), workers)
    spawn = multiprocessing.get_context("spawn")
    say(
        f"  phase A: scripts and validation of {scenarios} variants "
        f"({at_once} partition(s) at once, {inside} worker(s) inside each)"
    )
    started = time.perf_counter()
    bench = os.getpid()
    # One pool for both phases, as a run's process carries on from a partition's validation to
    # its renders: phase B pays no start-up of its own. At most `at_once` partitions (there are
    # no more) run side by side in phase A.
    with ProcessPoolExecutor(
        workers, mp_context=spawn, initializer=_start_pool_process, initargs=(bench, warm_workers)
    ) as pool:
        results = pool.map(
            validate_partition,
            counts,
            counts.values(),
            [sandbox] * len(counts),
            [inside] * len(counts),
        )
        phase_a = dict(zip(counts, results, strict=True))
        wall_a = time.perf_counter() - started
        say(f"  phase B: difficulty, renders and shards ({len(cameras)} camera(s))")
        started = time.perf_counter()
        results = pool.map(
            package_partition,
            counts,
            counts.values(),
            [v for _, v in phase_a.values()],
            [cameras] * len(counts),
        )
        phase_b = dict(zip(counts, results, strict=True))
        wall_b = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="benchgen-bench-") as tmp:
        started = time.perf_counter()
        batches = {
            f: Bundle(ShardBatch.model_validate(r), files) for f, (_, (r, files)) in phase_b.items()
        }
        write_release(LocalStore(tmp), "bench", batches, [], {"benchgen": __version__})
        wall_release = time.perf_counter() - started
    per_family = [
        [
            (Scenario.model_validate(s), files[f"{s['scenario_id']}.mjcf.xml"].decode())
            for s in _dumped(record)["scenarios"][:DIFFICULTY_SAMPLE]
        ]
        for _, (record, files) in phase_a.values()
    ]
    difficulty = difficulty_throughput(difficulty_sample(per_family), say=say)
    partitions = [phase_a[f][0] for f in counts]
    for partition in partitions:
        packed = dict(phase_b[partition.family][0])
        partition.accepted = int(packed.pop("accepted"))
        for stage, seconds in packed.items():
            partition.seconds[stage] = partition.seconds.get(stage, 0.0) + seconds
    accepted = sum(p.accepted for p in partitions)
    return {
        "scenarios": scenarios,
        "accepted": accepted,
        "wall_s": {"validation": wall_a, "render_and_shards": wall_b, "release": wall_release},
        "validation_per_s": scenarios / wall_a,
        "end_to_end_per_s": scenarios / (wall_a + wall_b + wall_release),
        "stage_cpu_s": {s: sum(p.seconds.get(s, 0.0) for p in partitions) for s in STAGES},
        "frames": accepted * len(cameras),
        "frames_per_s_per_core": accepted
        * len(cameras)
        / max(sum(p.seconds.get("render", 0.0) for p in partitions), 1e-9),
        "worker_peak_mb": max(p.worker_peak_mb for p in partitions),
        "script_in_scripts_s": sum(p.in_scripts_s for p in partitions),
        "batches": sum(p.worker_starts for p in partitions),
        "validator_peak_mb": max(p.process_peak_mb for p in partitions),
        "partitions": [asdict(p) for p in partitions],
        "tiers": tier_costs(partitions),
        "difficulty": {
            **difficulty,
            "core_s_per_scenario": sum(p.seconds.get("difficulty", 0.0) for p in partitions)
            / scenarios,
        },
    }


def tier_costs(partitions: list[PartitionResult]) -> dict[str, dict[str, float]]:
    """Per tier (spatial, kinematic): how many variants, and the cpu ms per variant of the
    validation (script to difficulty, no renders) and of everything."""
    out: dict[str, dict[str, float]] = {}
    for tier in sorted({p.tier for p in partitions}):
        mine = [p for p in partitions if p.tier == tier]
        variants = sum(p.variants for p in mine)
        validation = sum(p.seconds.get(s, 0.0) for p in mine for s in STAGES[:-2])
        everything = sum(p.seconds.get(s, 0.0) for p in mine for s in STAGES)
        out[tier] = {
            "variants": variants,
            "validation_ms_per_variant": validation / variants * 1000,
            "total_ms_per_variant": everything / variants * 1000,
        }
    return out


def _dumped(record: Any) -> dict[str, Any]:
    return record if isinstance(record, dict) else record.model_dump(mode="json")


def difficulty_sample(
    per_family: Sequence[Sequence[Pick]], size: int = DIFFICULTY_SAMPLE
) -> list[Pick]:
    """`size` scenarios taken a family at a time: the first of every family, then the second
    of every family and so on, so every family (and so every tier) is in the sample when
    `size` is at least the number of families."""
    rounds = max((len(scenarios) for scenarios in per_family), default=0)
    taken = [scenarios[n] for n in range(rounds) for scenarios in per_family if n < len(scenarios)]
    return taken[:size]


def difficulty_throughput(
    scenarios: list[tuple[Scenario, str]], say: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """The difficulty stage's trials two ways on the same draws, in this one process (one
    core): as the stage runs them (`random_baseline`: one model per scenario, its parts moved
    in place, its shortcuts and sequential stop, the model's compile and part-free run
    included), and as a plain implementation makes the same trials (`naive_trial`: a model
    compiled for every draw, the scenario's full rule). CPU time, so another load on the
    machine counts less. The successes must agree."""
    from benchgen_dagster.validation.difficulty import MAX_TRIALS, naive_trial, random_baseline

    say(f"  difficulty: the stage's trials on {len(scenarios)} scenarios, in place and recompiled")
    in_place = compiled = 0.0
    count = 0
    agree = True
    for scenario, xml in scenarios:
        started = time.process_time()
        measured = random_baseline(xml, scenario).difficulty
        middle = time.process_time()
        trials = successes = number = 0
        while trials < measured.trials and number < 4 * MAX_TRIALS:
            _, run = naive_trial(xml, scenario, number)
            number += 1
            if run is not None:
                trials += 1
                successes += run.success
        compiled += time.process_time() - middle
        in_place += middle - started
        count += trials
        agree = agree and (trials, successes) == (measured.trials, measured.successes)
    in_place_rate = count / max(in_place, 1e-9)
    compiled_rate = count / max(compiled, 1e-9)
    return {
        "scenarios": len(scenarios),
        "trials": count,
        "outcomes_agree": agree,
        "families": len({scenario.family for scenario, _ in scenarios}),
        "tiers": sorted({scenario.tier for scenario, _ in scenarios}),
        "in_place_trials_per_s_per_core": in_place_rate,
        "recompiled_trials_per_s_per_core": compiled_rate,
        "speedup": in_place_rate / compiled_rate,
    }


def naive_variant(family: str, seed: int) -> None:
    """The baseline's unit of work, run in a fresh interpreter: import, run, validate."""
    from benchgen_dagster.sandbox import worker
    from benchgen_dagster.sandbox.protocol import Job, jobs_json, read_outcome
    from benchgen_dagster.schema.contract import Lineage
    from benchgen_dagster.validation.funnel import validate_variant
    from benchgen_dagster.validation.scene import VariantContext

    script = get_family(family).script()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "out").mkdir()
        (folder / "script.py").write_text(script.source)
        (folder / "jobs.json").write_text(jobs_json([Job(0, seed)], 0.5, 0.3))
        stdout = os.dup(1)
        worker.main([str(folder), str(folder / "out")])  # runs the script in this process
        os.dup2(stdout, 1)
        outcome = read_outcome(folder / "out", Job(0, seed), Limits().max_triangles)
    lineage = Lineage(
        request_id=family,
        prompt_sha256="",
        script_sha256=script.sha256,
        code_versions={},
        sandbox="none",
        family_source="builtin",
    )
    context = VariantContext(family, get_family(family).split, lineage)
    report = validate_variant(outcome, context, VALIDATION).report
    print(json.dumps({"accepted": report.accepted}))


def run_baseline(sample: int, counts: dict[str, int], say: Callable[[str], None]) -> dict[str, Any]:
    """A fresh process per variant, on `sample` of the pipeline's own (family, seed) pairs."""
    pairs = [(f, seed) for seed in range(max(counts.values())) for f in counts if seed < counts[f]]
    pairs = pairs[:sample]
    say(f"  baseline: {len(pairs)} variants, one fresh process each")
    started = time.perf_counter()
    for family, seed in pairs:
        code = f"from {__name__} import naive_variant; naive_variant({family!r}, {seed})"
        subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            capture_output=True,
            preexec_fn=partial(end_with, os.getpid()),  # a killed bench leaves none running
        )
    wall = time.perf_counter() - started
    return {"variants": len(pairs), "wall_s": wall, "per_s": len(pairs) / wall}


REFERENCE_SCENE = """<mujoco><worldbody><geom type="plane" size="1 1 0.1"/>
<body pos="0 0 0.2"><freejoint/><geom type="box" size="0.05 0.04 0.03"/></body>
<body pos="0.03 0.01 0.4"><freejoint/><geom type="sphere" size="0.04"/></body>
</worldbody></mujoco>"""


def machine_speed(steps: int = 5000, additions: int = 2_000_000) -> dict[str, float]:
    """How fast this machine is, on two fixed workloads (CPU time): a step of a small MuJoCo
    scene (a box and a ball dropped on a plane), and a plain Python loop. Absolute figures from
    two machines compare only through these."""
    import mujoco

    model = mujoco.MjModel.from_xml_string(REFERENCE_SCENE)
    data = mujoco.MjData(model)
    started = time.process_time()
    for _ in range(steps):
        mujoco.mj_step(model, data)
    stepping = time.process_time() - started
    started, total = time.process_time(), 0
    for number in range(additions):
        total += number
    return {
        "mj_step_us": stepping / steps * 1e6,
        "python_loop_ms": (time.process_time() - started) * 1000,
        "python_loop_additions": additions,
    }


def run_bench(
    scenarios: int,
    sample: int,
    workers: int,
    sandbox: str,
    cameras: tuple[str, ...],
    say: Callable[[str], None],
    warm_workers: bool = True,
) -> dict[str, Any]:
    say(
        f"benchgen bench: {scenarios} scenarios over {len(plan(scenarios))} families, "
        f"{workers} worker(s), sandbox {sandbox}, {'warm' if warm_workers else 'cold'} workers"
    )
    machine = machine_speed()
    baseline = run_baseline(sample, plan(scenarios), say)
    pipeline = run_pipeline(scenarios, workers, sandbox, cameras, say, warm_workers)
    return {
        "benchgen": __version__,
        "cores": os.cpu_count(),
        "machine": machine,
        "workers": workers,
        "sandbox": sandbox,
        "warm_workers": warm_workers,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "baseline": baseline,
        "pipeline": pipeline,
        "validation_speedup": pipeline["validation_per_s"] / baseline["per_s"],
    }


def table(result: dict[str, Any]) -> str:
    """The result as a plain-text table."""
    pipeline, baseline = result["pipeline"], result["baseline"]
    difficulty = pipeline["difficulty"]
    scenarios = pipeline["scenarios"]
    lines = [f"{'stage':<12}{'s':>10}{'ms / scenario':>16}"]
    for stage, seconds in pipeline["stage_cpu_s"].items():
        lines.append(f"{stage:<12}{seconds:>10.2f}{seconds / scenarios * 1000:>16.1f}")
    lines += [
        "(script: the sandboxed batches' wall time, summed; the others: CPU time of the "
        "validating processes)",
        "",
        f"validation (no renders): {pipeline['validation_per_s']:.2f} scenarios/s "
        f"on {result['workers']} worker(s); naive baseline {baseline['per_s']:.3f}/s "
        f"→ {result['validation_speedup']:.0f}× faster",
        f"end to end (renders, shards, release): {pipeline['end_to_end_per_s']:.2f} scenarios/s; "
        f"{pipeline['accepted']} of {scenarios} accepted",
        f"renders: {pipeline['frames_per_s_per_core']:.1f} frames/s per core at 320×240 "
        "(model load and mesh upload included)",
        f"difficulty: {difficulty['in_place_trials_per_s_per_core']:.0f} trials/s per core in "
        f"place, {difficulty['recompiled_trials_per_s_per_core']:.0f} recompiling each trial "
        f"→ {difficulty['speedup']:.1f}× (outcomes agree: {difficulty['outcomes_agree']}, on "
        f"{difficulty['scenarios']} scenarios of {difficulty['families']} families, "
        f"{' and '.join(difficulty['tiers'])}); "
        "the stage adds "
        f"{difficulty['core_s_per_scenario']:.3f} core-s per scenario",
        f"script stage: {pipeline['script_in_scripts_s'] / scenarios * 1000:.1f} ms / scenario "
        f"inside the scripts (wall time in the worker); the rest is the sandbox (start-up, "
        f"imports, transfer) over {pipeline['batches']} batches",
        f"peak memory: sandbox worker {pipeline['worker_peak_mb']:.0f} MiB, "
        f"validation process {pipeline['validator_peak_mb']:.0f} MiB",
        "wall: " + ", ".join(f"{k} {v:.1f} s" for k, v in pipeline["wall_s"].items()),
    ]
    machine = result["machine"]
    lines.append(
        f"machine: {machine['mj_step_us']:.1f} µs per step of the reference scene, "
        f"{machine['python_loop_ms']:.0f} ms for a Python loop of "
        f"{machine['python_loop_additions']:,} additions (CPU time; compare machines by these)"
    )
    tiers = pipeline.get("tiers", {})
    if {"spatial", "kinematic"} <= set(tiers):
        spatial, kinematic = tiers["spatial"], tiers["kinematic"]
        validation = kinematic["validation_ms_per_variant"], spatial["validation_ms_per_variant"]
        total = kinematic["total_ms_per_variant"] / spatial["total_ms_per_variant"]
        lines.append(
            f"kinematic variants cost {validation[0]:.0f} cpu ms each to validate, spatial "
            f"{validation[1]:.0f} → {validation[0] / validation[1]:.2f}×; with renders {total:.2f}×"
        )
    return "\n".join(lines)


def per_scenario_ms(results: list[dict[str, Any]]) -> str:
    """For scale runs: each stage's cost per scenario at every size, to show it stays flat."""
    sizes = [r["pipeline"]["scenarios"] for r in results]
    lines = [f"{'stage':<12}" + "".join(f"{n:>10}" for n in sizes) + "   (ms / scenario)"]
    for stage in [*STAGES, "release"]:
        row = []
        for r in results:
            p = r["pipeline"]
            seconds = p["wall_s"]["release"] if stage == "release" else p["stage_cpu_s"][stage]
            row.append(seconds / p["scenarios"] * 1000)
        lines.append(f"{stage:<12}" + "".join(f"{v:>10.2f}" for v in row))
    return "\n".join(lines)


def storage_throughput(
    stores: dict[str, Store], shard_mb: int, shards: int, say: Callable[[str], None]
) -> dict[str, Any]:
    """Write the same shard-sized objects to each store; MB/s each and the ratio to the first."""
    data = os.urandom(shard_mb * 1024 * 1024)
    result: dict[str, Any] = {"shard_mb": shard_mb, "shards": shards, "mb_per_s": {}}
    for name, store in stores.items():
        started = time.perf_counter()
        for number in range(shards):
            store.put(f"bench/shard-{number:05d}.tar", data)
        seconds = time.perf_counter() - started
        for number in range(shards):
            store.delete(f"bench/shard-{number:05d}.tar")
        result["mb_per_s"][name] = round(shard_mb * shards / seconds, 1)
        say(f"  {name}: {result['mb_per_s'][name]} MB/s")
    baseline = next(iter(result["mb_per_s"].values()))
    result["ratio"] = {k: round(v / baseline, 3) for k, v in result["mb_per_s"].items()}
    return result
