"""Solvers over a split: PHYRE's metrics, deterministic random baselines, the oracle and the
null baseline on the shared dataset, `benchgen solve`, script solvers in the sandbox, and the
leaderboard the release's card shows."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from dagster import materialize

from benchgen_dagster.assets import ALL_ASSETS
from benchgen_dagster.cli import main
from benchgen_dagster.dataset import ScenarioSample, load, verify
from benchgen_dagster.resources import PipelineSettings
from benchgen_dagster.sandbox.docker import docker_available
from benchgen_dagster.sandbox.runner import Limits
from benchgen_dagster.schema.contract import MATERIALS, Box3
from benchgen_dagster.validation.scoring import ruled_out
from benchgen_dagster.validation.solvers import (
    BASELINES,
    AttemptResult,
    Proposal,
    ReferenceSolver,
    ScenarioResult,
    ScriptSolver,
    auccess,
    draw_parts,
    metrics,
    solve,
    success_curve,
)
from tests.helpers import resources_for

SECRET_NAME = "BENCHGEN_TEST_SECRET"
SCRIPT_LIMITS = Limits(variant_timeout_s=4, startup_timeout_s=60, memory_mb=512)


@pytest.fixture(scope="module")
def test_split(built_dataset: Path) -> list[ScenarioSample]:
    samples = list(load(built_dataset, split="test"))
    assert samples
    return samples


def outcome(*successes: bool | None) -> ScenarioResult:
    """A scenario's attempts: True a success, False a miss, None an invalid design."""
    attempts = [
        AttemptResult(valid=s is not None, success=bool(s), cost=2.0 * k, weight_g=100.0 * k)
        for k, s in enumerate(successes, start=1)
    ]
    return ScenarioResult(scenario_id="x", family="f", attempts=attempts)


# --- metrics ------------------------------------------------------------------------------


def test_auccess_is_phyres_weighted_area_over_attempts() -> None:
    solved_at = [1, 2, None, 3]
    assert success_curve(solved_at, 3) == [0.25, 0.5, 0.75]
    weights = [math.log(2), math.log(3) - math.log(2), math.log(4) - math.log(3)]
    expected = (weights[0] * 0.25 + weights[1] * 0.5 + weights[2] * 0.75) / math.log(4)
    assert auccess(solved_at, 3) == pytest.approx(expected)
    assert auccess([1, 1], 10) == pytest.approx(1.0)
    assert auccess([None, None], 10) == 0.0
    # solving at the K-th attempt only is worth the last weight's share
    assert auccess([5], 5) == pytest.approx((math.log(6) - math.log(5)) / math.log(6))


def test_metrics_count_successes_within_k_and_average_the_winning_designs() -> None:
    results = [outcome(True), outcome(False, None, True), outcome(None, False, False)]
    m = metrics(results, 3)
    assert (m.scenarios, m.solved) == (3, 2)
    assert m.success_at_1 == pytest.approx(1 / 3, abs=1e-4)
    assert m.success_at_k == pytest.approx(2 / 3, abs=1e-4)
    assert m.auccess == pytest.approx(auccess([1, 3, None], 3), abs=1e-4)
    assert m.attempts_made == 7 and m.invalid_attempts == 2
    assert m.mean_cost == pytest.approx((2.0 + 6.0) / 2)  # attempt 1 of one, attempt 3 of other
    assert m.mean_weight_g == pytest.approx((100.0 + 300.0) / 2)
    assert metrics([outcome(False)], 3).mean_cost is None


# --- random parts -------------------------------------------------------------------------


def test_random_parts_are_inside_the_zone_and_within_the_limits() -> None:
    zone = Box3(min=(-0.2, -0.15, 0.0), max=(0.4, 0.15, 0.3))
    wood = MATERIALS["wood"]
    for seed in range(40):
        parts = draw_parts(
            np.random.default_rng(seed), zone, 300.0, 5.0, wood, ("plank", "block", "wedge"), 3
        )
        assert len(parts) == 3
        assert sum(p.volume for p in parts) * wood.density * 1000 <= 300.0 + 1e-6
        for part in parts:
            half = part.half_extents()
            assert np.all(np.array(part.center) - half >= np.array(zone.min) - 1e-9)
            assert np.all(np.array(part.center) + half <= np.array(zone.max) + 1e-9)
            if part.kind == "plank":
                assert part.size[2] == pytest.approx(0.01) and abs(part.pitch) <= math.pi / 4


def test_random_part_drawing_is_a_pure_function_of_the_generator() -> None:
    zone = Box3(min=(0.0, 0.0, 0.0), max=(0.5, 0.3, 0.3))
    draw = lambda seed: draw_parts(  # noqa: E731
        np.random.default_rng(seed), zone, 500.0, 10.0, MATERIALS["wood"], ("plank",), 1
    )
    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


@pytest.mark.parametrize("name", ["random-plank", "random-parts"])
def test_random_baselines_are_seeded_by_scenario_and_attempt(test_split, name: str) -> None:
    sample = test_split[0]
    first, again = BASELINES[name](), BASELINES[name]()
    designs = [first(sample, attempt) for attempt in range(3)]
    assert [again(sample, attempt) for attempt in range(3)] == designs
    assert len({d.design for d in designs}) == 3
    for proposal in designs:  # redrawn until clear: never ruled out before it is simulated
        assert ruled_out(sample, proposal.design, proposal.material) == []


# --- baselines on the shared dataset --------------------------------------------------------


def test_the_reference_solves_most_and_null_none_of_the_test_split(test_split) -> None:
    reference = solve(test_split, BASELINES["reference"](), 3, name="reference", split="test")
    assert reference.overall.success_at_1 >= 0.75
    assert reference.overall.mean_cost and reference.overall.mean_weight_g
    assert set(reference.families) == {s.scenario.family for s in test_split}
    null = solve(test_split, BASELINES["null"](), 3, name="null", split="test")
    assert null.overall.success_at_k == 0.0 and null.overall.auccess == 0.0
    assert null.overall.invalid_attempts == 0 and null.overall.mean_cost is None


def test_a_solver_that_raises_has_a_failed_attempt_and_solving_stops_at_a_success(
    test_split,
) -> None:
    reference = ReferenceSolver()
    asked: list[int] = []

    def solver(sample: ScenarioSample, attempt: int) -> Proposal:
        asked.append(attempt)
        if attempt == 0:
            raise RuntimeError("not yet")
        return reference(sample, attempt)

    result = solve(test_split[:1], solver, 3)
    (scenario,) = result.scenarios
    assert asked == [0, 1]
    assert scenario.solved_at == 2 and "not yet" in scenario.attempts[0].reason
    assert result.overall.success_at_1 == 0.0 and result.overall.success_at_k == 1.0


# --- the command ----------------------------------------------------------------------------


def test_solve_prints_json_with_overall_and_family_metrics(built_dataset: Path) -> None:
    result = CliRunner().invoke(
        main, ["solve", str(built_dataset), "--solver", "random-plank", "-k", "2", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    for key in ("success_at_1", "success_at_k", "auccess", "mean_cost", "mean_weight_g"):
        assert key in document["overall"]
    assert document["attempts"] == 2 and document["split"] == "test"
    assert set(document["families"]) == {s["family"] for s in document["scenarios"]}
    assert all(1 <= len(s["attempts"]) <= 2 for s in document["scenarios"])


def test_several_solvers_make_a_leaderboard(built_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    args = ["solve", str(built_dataset), "--solver", "null", "--solver", "random-parts"]
    result = CliRunner().invoke(main, [*args, "-k", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "| solver | scenarios | success@1 |" in result.output
    assert [r["solver"] for r in json.loads(out.read_text())] == ["null", "random-parts"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--solver", "nonsense"], "unknown solver"),
        (["--solver", "no_such_module:solve"], "cannot load solver"),
        (["--solver", "missing/solver.py"], "cannot read the solver script"),
        (["--solver", "null", "--split", "holdout"], "unknown split"),
    ],
)
def test_solve_refuses_bad_input_with_status_2(
    built_dataset: Path, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["solve", str(built_dataset), *args])
    assert result.exit_code == 2 and message in result.output


def test_solve_refuses_a_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["solve", str(tmp_path), "--solver", "null"])
    assert result.exit_code == 2 and "not a benchgen dataset" in result.output


def test_a_trusted_solver_is_imported_as_module_and_callable(built_dataset: Path) -> None:
    spec = "benchgen_dagster.validation.solvers:NullSolver"
    result = CliRunner().invoke(main, ["solve", str(built_dataset), "--solver", spec, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["overall"]["solved"] == 0


# --- script solvers in the sandbox ----------------------------------------------------------


def needs_docker() -> None:
    if not docker_available():
        if os.environ.get("CI") == "true":
            pytest.fail("the Docker sandbox is not available; `make test` starts it")
        pytest.skip("the Docker sandbox is not available on this machine")


def script_solver(source: str) -> ScriptSolver:
    needs_docker()
    return ScriptSolver(source, "docker", SCRIPT_LIMITS)


PLANK_SCRIPT = """
from build123d import Box, Pos


def solve(scenario, attempt):
    zone = scenario["build_zone"]
    x, y = ((zone["min"][i] + zone["max"][i]) / 2 for i in (0, 1))
    z = zone["max"][2] - 0.01
    if attempt == 0:  # MJCF bodies, in metres
        body = f'<body name="plank" pos="{x} {y} {z}"><geom type="box" size=".04 .04 .004"/></body>'
        return f"<mujoco><worldbody>{body}</worldbody></mujoco>"
    block = Pos(x * 1000, y * 1000, z * 1000) * Box(40, 40, 8)  # build123d, in millimetres
    return {"block": block}, "aluminium"
"""


def test_a_script_solver_runs_in_the_sandbox_and_its_designs_are_scored(
    test_split, tmp_path: Path
) -> None:
    marker = tmp_path / "ran-here.txt"
    source = (
        PLANK_SCRIPT
        + f"\ntry:\n    open({str(marker)!r}, 'w').write('x')\nexcept OSError:\n    pass\n"
    )
    result = solve(test_split[:1], script_solver(source), 2)
    attempts = result.scenarios[0].attempts
    assert len(attempts) == 2
    assert all("solver script failed" not in a.reason for a in attempts), attempts
    assert attempts[0].weight_g == pytest.approx(80 * 80 * 8 * 1e-3, rel=0.01)  # MuJoCo's density
    assert attempts[1].weight_g == pytest.approx(40 * 40 * 8 * 2.7e-3, rel=0.02)  # aluminium
    assert not marker.exists()  # it ran in the container, not in this process


def test_a_hostile_script_solver_is_contained(test_split, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-solver-4242"
    monkeypatch.setenv(SECRET_NAME, secret)
    source = f"""
import os


def solve(scenario, attempt):
    if attempt == 0:
        raise RuntimeError("found " + os.environ.get({SECRET_NAME!r}, "no secret"))
    if attempt == 1:
        return '<mujoco><asset><mesh name="m" file="/etc/passwd"/></asset>' \\
            '<worldbody><body><geom type="mesh" mesh="m"/></body></worldbody></mujoco>'
    while True:
        pass
"""
    started = time.monotonic()
    result = solve(test_split[:1], script_solver(source), 3)
    reasons = [a.reason for a in result.scenarios[0].attempts]
    assert "found no secret" in reasons[0] and secret not in json.dumps(result.model_dump())
    assert "script_output_invalid" in reasons[1] and "may not name files" in reasons[1]
    assert "script_timeout" in reasons[2]
    assert time.monotonic() - started < 60
    assert not any(a.valid or a.success for a in result.scenarios[0].attempts)


def test_a_script_solver_runs_from_the_command(built_dataset: Path, tmp_path: Path) -> None:
    needs_docker()
    script = tmp_path / "solver.py"
    script.write_text(PLANK_SCRIPT)
    args = ["solve", str(built_dataset), "--solver", str(script), "-k", "1", "--json"]
    result = CliRunner().invoke(main, [*args, "--sandbox", "docker"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["overall"]["attempts_made"] >= 1


# --- the leaderboard in the release -----------------------------------------------------------


def test_solver_baselines_adds_the_leaderboard_to_the_release(
    built_dataset: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(built_dataset, data / "datasets" / "default")
    settings = PipelineSettings(data_dir=str(data))
    result = materialize(
        ALL_ASSETS, selection=["solver_baselines"], resources=resources_for(settings)
    )
    assert result.success
    metadata = result.asset_materializations_for_node("solver_baselines")[0].metadata
    assert "| reference |" in metadata["leaderboard"].value
    dataset = data / "datasets" / "default"
    board = json.loads((dataset / "leaderboard.json").read_text())
    assert [s["solver"] for s in board["solvers"]] == list(BASELINES)
    assert board["attempts"] == 3 and board["split"] == "test"
    card = (dataset / "README.md").read_text()
    assert "## Leaderboard" in card and "| null |" in card
    assert verify(dataset).ok  # the manifest lists the leaderboard and the card's new hash
