"""The scenario language measured: the offline planner on the example prompts, and the random
composed courses' diversity and funnel pass rate.

    python benchmarks/courses.py prompts [--seeds 4]
    python benchmarks/courses.py composed [--scenarios 1000]

`prompts` plans each request of `examples/requests/`, runs its seeds through the sandbox and
the whole funnel, and says whether the packaged scenarios match the prompt: the payload's
shape, and every distance the planner understood within 10% of what was built.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import Counter
from pathlib import Path

import yaml

from benchgen_dagster.catalogue.registry import get_family, script_for
from benchgen_dagster.courses.generator import random_spec
from benchgen_dagster.courses.layout import KINEMATIC_MODULES
from benchgen_dagster.courses.planner import PlanError, plan_prompt
from benchgen_dagster.courses.script import spec_script
from benchgen_dagster.kit import draw
from benchgen_dagster.sandbox.runner import Limits
from benchgen_dagster.sandbox.select import choose_launcher
from benchgen_dagster.schema.records import GenerationRequest
from benchgen_dagster.validation.steps import run_variants, validate_variants

ROOT = Path(__file__).resolve().parents[1]
SHAPE_WORDS = {"ball": "sphere", "cube": "box", "cylinder": "cylinder", "puck": "cylinder"}


def validated(source: str, family: str, seeds: int, first: int = 0):
    request = GenerationRequest(request_id=family, prompt=family, variants=seeds, seed_start=first)
    script = script_for(family, source, "planner")
    variants = run_variants(request, script, choose_launcher("auto"), Limits())
    return variants, validate_variants(request, script, variants)


def built_distances(scenario, params: dict) -> dict[str, float]:
    """What was built, in millimetres, under the names the planner's notes use."""
    start = scenario.payload.start_position
    goal = scenario.goal_zone
    built = {
        "goal_distance": ((goal.min[0] + goal.max[0]) / 2 - start[0]) * 1000,
        "start_height": start[2] * 1000,
    }
    size = scenario.payload.size
    built["payload.radius"] = size[0] * 1000
    built["payload.side"] = size[0] * 2000
    for key, value in params.items():
        if key.startswith("m") and "." in key and isinstance(value, int | float):
            built.setdefault(f"module.{key.split('.', 1)[1]}", value)
    return built


def matches(understood: dict, scenario, params: dict) -> bool:
    built = built_distances(scenario, params)
    for name, note in understood.items():
        if "mm" not in note or name not in built:
            continue
        wanted = note["mm"]
        if isinstance(wanted, list):
            if not wanted[0] * 0.9 <= built[name] <= wanted[1] * 1.1:
                return False
        elif abs(built[name] - wanted) > 0.1 * wanted:
            return False
    return True


def prompts(seeds: int) -> None:
    print("| prompt | understood | course | passed | matches |")
    print("|---|---|---|---|---|")
    matched = 0
    for path in sorted((ROOT / "examples" / "requests").glob("*.yaml")):
        request = yaml.safe_load(path.read_text())
        try:
            plan = plan_prompt(request["prompt"], request.get("payload_hint"))
        except PlanError as error:
            print(f"| {path.stem} | {error} | | 0/{seeds} | no |")
            continue
        script = spec_script(plan.spec, path.stem, "planner")
        _variants, batch = validated(script.source, path.stem, seeds)
        accepted = {r.scenario_id for r in batch.record.reports if r.accepted}
        scenarios = [s for s in batch.record.scenarios if s.scenario_id in accepted]
        shape = next((v for k, v in SHAPE_WORDS.items() if k in request["prompt"].lower()), None)
        ok = bool(scenarios) and all(
            (shape is None or s.payload.shape == shape) and matches(plan.understood, s, s.params)
            for s in scenarios
        )
        matched += ok
        notes = "; ".join(f"{k} {v.get('mm', v.get('value'))}" for k, v in plan.understood.items())
        course = plan.understood["course"]["value"]
        print(
            f"| {path.stem} | {notes} | {course} | {len(accepted)}/{seeds} "
            f"| {'yes' if ok else 'no'} |"
        )
    print(f"\nmatched offline: {matched} of 12")


def composed(count: int) -> None:
    params = get_family("composed_course").params
    declared = {k: [c for c in v.choices or []] for k, v in params.items()}
    sequences = Counter()
    kinematic = set()
    for seed in range(count):
        p = draw(declared, seed)
        spec = random_spec(seed, p["module_count"], p["payload_shape"])
        sequences[tuple(m["type"] for m in spec["modules"])] += 1
        if any(m["type"] in KINEMATIC_MODULES for m in spec["modules"]):
            kinematic.add(seed)
    source = (ROOT / "benchgen_dagster" / "families" / "composed_course.py").read_text()
    _variants, batch = validated(source, "composed_course", count)
    hashes = set(batch.record.geometry.values())
    accepted = sum(r.accepted for r in batch.record.reports)
    reasons = Counter(
        r.rejection.reason.value for r in batch.record.reports if r.rejection is not None
    )
    print(f"scenarios: {count}")
    print(f"distinct module sequences: {len(sequences)}")
    print(f"distinct geometry hashes (of those that reached the geometry stage): {len(hashes)}")
    print(f"packaged (accepted by the whole funnel): {accepted} ({accepted / count:.1%})")
    print(f"rejections: {dict(reasons)}")
    moving = [r for r in batch.record.reports if r.seed in kinematic]
    print(
        f"with a gate, lever or slider: {len(moving)}, packaged "
        f"{sum(r.accepted for r in moving)}; their rejections: "
        f"{dict(Counter(r.rejection.reason.value for r in moving if r.rejection is not None))}"
    )
    digest = hashlib.sha256(repr(sorted(sequences)).encode()).hexdigest()[:12]
    print(f"sequence set digest: {digest}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("prompts").add_argument("--seeds", type=int, default=4)
    sub.add_parser("composed").add_argument("--scenarios", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.what == "prompts":
        prompts(args.seeds)
    else:
        composed(args.scenarios)


if __name__ == "__main__":
    main(sys.argv[1:])
