"""The benchmark runs end to end on a tiny size (its numbers are not asserted)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from benchgen_dagster.cli import main


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
    # the first three families, arm_lift among them: both tiers, compared in the same run
    assert set(report["pipeline"]["tiers"]) == {"spatial", "kinematic"}
    assert "kinematic variants cost" in result.output
