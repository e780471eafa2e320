"""The benchmark runs end to end on a tiny size (its numbers are not asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from benchgen_dagster.catalogue.registry import registry
from benchgen_dagster.cli import main
from benchgen_dagster.validation.bench import DIFFICULTY_SAMPLE, difficulty_sample, plan


def test_the_benchmark_measures_both_paths_and_writes_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "--scenarios",
            "3",
            "--sample",
            "1",
            "--sandbox",
            "bubblewrap",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    (written,) = tmp_path.glob("bench-3-*.json")
    report = json.loads(written.read_text())
    assert report["pipeline"]["scenarios"] == 3 and report["baseline"]["variants"] == 1
    assert report["pipeline"]["validation_per_s"] > 0 and report["validation_speedup"] > 0
    assert "scenarios/s" in result.output
    difficulty = report["pipeline"]["difficulty"]
    assert difficulty["trials"] > 0 and difficulty["speedup"] > 0 and difficulty["outcomes_agree"]
    assert "trials/s per core" in result.output
    assert difficulty["tiers"] == ["kinematic", "spatial"]
    # the first three families, arm_lift among them: both tiers, compared in the same run
    assert set(report["pipeline"]["tiers"]) == {"spatial", "kinematic"}
    assert "kinematic variants cost" in result.output
    machine = report["machine"]
    assert machine["mj_step_us"] > 0 and machine["python_loop_ms"] > 0
    assert "µs per step of the reference scene" in result.output


def test_the_difficulty_comparison_samples_every_family_before_a_second_seed() -> None:
    """`benchgen bench --scenarios 40`: the 24 scenarios timed both ways hold every family, so
    every kinematic one, not the first families alphabetically."""
    per_family = [[(family, seed) for seed in range(n)] for family, n in plan(40).items()]
    sample = difficulty_sample(per_family)
    assert len(sample) == DIFFICULTY_SAMPLE
    assert {family for family, _ in sample} == set(registry())
    assert {family for family, seed in sample if seed == 1} == set(sorted(registry())[:5])
