"""Stages measured on their own, in one process, CPU time.

    python benchmarks/stages.py scripts [--seeds 6] [--profile]
    python benchmarks/stages.py validation [--seeds 4] [--profile]
    python benchmarks/stages.py difficulty [--seeds 2]

`scripts` runs every registered family's script for its first seeds in this one process, as a
warm sandbox worker runs a batch (build123d already imported), and prints the scripts' own CPU
per variant; with `--profile`, where it goes. `validation` runs the first seeds of every family
through the funnel as `benchgen bench`'s phase A does (no difficulty trials) and prints each
stage's CPU per variant; with `--profile`, where the funnel's time goes. `difficulty`
validates the first seeds of every family and times the difficulty stage's trials in place
against a model compiled per trial (`difficulty_throughput`, as `benchgen bench` does on its
sample), with whether every scenario's trials and successes agree; then it runs the in-place
trials once more with MuJoCo's `mj_step` timed, for the ratio no reuse of a model can pass:
the recompiled trials' time over the in-place trials' physics steps alone.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mujoco

from benchgen_dagster.catalogue.registry import get_family, registry
from benchgen_dagster.sandbox.protocol import Job, jobs_json
from benchgen_dagster.sandbox.runner import Limits
from benchgen_dagster.sandbox.select import choose_launcher
from benchgen_dagster.schema.records import FamilyScript, GenerationRequest, VariantBatch
from benchgen_dagster.stores.bundles import Bundle
from benchgen_dagster.validation.bench import VALIDATION, difficulty_throughput
from benchgen_dagster.validation.difficulty import random_baseline
from benchgen_dagster.validation.steps import run_variants, validate_variants


def scripts(seeds: int, profile: bool) -> None:
    import build123d  # noqa: F401  (a warm worker has imported it before its first batch)

    from benchgen_dagster.sandbox import worker

    profiler = cProfile.Profile()
    cpu, count = 0.0, 0
    console = os.dup(1), os.dup(2)  # the worker sends both to its console.log
    for family in sorted(registry()):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "out").mkdir()
            (folder / "script.py").write_text(get_family(family).script().source)
            jobs = [Job(seed, seed) for seed in range(seeds)]
            (folder / "jobs.json").write_text(jobs_json(jobs, 0.5, 0.3))
            started = time.process_time()
            if profile:
                profiler.enable()
            worker.main([str(folder), str(folder / "out")])
            profiler.disable()
            cpu += time.process_time() - started
            count += seeds
            os.dup2(console[0], 1)
            os.dup2(console[1], 2)
    note = " (profiled: inflated)" if profile else ""
    per_variant = cpu / count * 1000
    print(f"{count} variants of {len(registry())} families: {per_variant:.1f} ms CPU each{note}")
    if profile:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def _sandboxed(
    family: str, seeds: int
) -> tuple[GenerationRequest, FamilyScript, Bundle[VariantBatch]]:
    """The family's first seeds run in the strongest sandbox there is, as a partition runs them."""
    request = GenerationRequest(request_id=family, prompt=family, family=family, variants=seeds)
    script = get_family(family).script()
    return request, script, run_variants(request, script, choose_launcher("auto"), Limits())


def validation(seeds: int, profile: bool) -> None:
    profiler = cProfile.Profile()
    timings: dict[str, float] = {}
    count = 0
    for family in sorted(registry()):
        request, script, variants = _sandboxed(family, seeds)
        if profile:
            profiler.enable()
        validate_variants(request, script, variants, VALIDATION, timings=timings)
        profiler.disable()
        count += seeds
    print(f"{count} variants of {len(registry())} families, CPU ms per variant:")
    for stage, seconds in timings.items():
        print(f"  {stage:<10}{seconds / count * 1000:>8.1f}")
    if profile:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def difficulty(seeds: int) -> None:
    sample = []
    for family in sorted(registry()):
        request, script, variants = _sandboxed(family, seeds)
        # as the bench's sample: validated without the trials that are timed here
        validated = validate_variants(request, script, variants, VALIDATION)
        for scenario in validated.record.scenarios:
            xml = validated.files[f"{scenario.scenario_id}.mjcf.xml"].decode()
            sample.append((scenario, xml))
    result = difficulty_throughput(sample, say=print)
    print(
        f"{result['trials']} trials on {result['scenarios']} scenarios of {result['families']} "
        f"families: {result['in_place_trials_per_s_per_core']:.0f} trials/s per core in place, "
        f"{result['recompiled_trials_per_s_per_core']:.0f} recompiled → {result['speedup']:.2f}× "
        f"(outcomes agree: {result['outcomes_agree']})"
    )
    with physics_timed() as physics:
        started = time.process_time()
        for scenario, xml in sample:
            random_baseline(xml, scenario)
        in_place = time.process_time() - started
    recompiled = result["trials"] / result["recompiled_trials_per_s_per_core"]
    print(
        f"in place again: {in_place:.2f} s CPU, {physics[0]:.2f} s of it in mj_step; recompiled "
        f"{recompiled:.2f} s → at most {recompiled / physics[0]:.2f}× were nothing but the "
        "physics to cost"
    )


@contextmanager
def physics_timed() -> Iterator[list[float]]:
    """MuJoCo's `mj_step` timed (CPU seconds, summed in the list) while inside."""
    step, spent = mujoco.mj_step, [0.0]

    def timed(*args: object, **kwargs: object) -> None:
        started = time.process_time()
        step(*args, **kwargs)
        spent[0] += time.process_time() - started

    mujoco.mj_step = timed
    try:
        yield spent
    finally:
        mujoco.mj_step = step


def _seeds(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seeds (1 or more)")
    return int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    on_scripts = commands.add_parser("scripts", help="the family scripts' own CPU per variant")
    on_scripts.add_argument("--seeds", type=_seeds, default=6)
    on_scripts.add_argument("--profile", action="store_true")
    on_validation = commands.add_parser("validation", help="the funnel's stages per variant")
    on_validation.add_argument("--seeds", type=_seeds, default=4)
    on_validation.add_argument("--profile", action="store_true")
    on_difficulty = commands.add_parser("difficulty", help="difficulty trials, in place and not")
    on_difficulty.add_argument("--seeds", type=_seeds, default=2)
    args = parser.parse_args()
    if args.command == "scripts":
        scripts(args.seeds, args.profile)
    elif args.command == "validation":
        validation(args.seeds, args.profile)
    else:
        difficulty(args.seeds)


if __name__ == "__main__":
    main()
