"""The solution evaluator on packaged scenarios: reference solutions succeed, an empty design
fails, a design outside the build zone or inside the scenery is ruled out."""

from __future__ import annotations

from pathlib import Path

import pytest
from build123d import Box, Pos
from click.testing import CliRunner

import benchgen_dagster
from benchgen_dagster.cli import main
from benchgen_dagster.dataset import ScenarioSample, load
from benchgen_dagster.schema.contract import MATERIALS
from benchgen_dagster.validation.geometry import piece_from_stl
from benchgen_dagster.validation.scoring import reference_design

FAMILIES = ("ball_bin", "cube_gap", "puck_shelf")  # a sphere, a box and a cylinder


@pytest.fixture(scope="module")
def samples(built_dataset: Path) -> dict[str, ScenarioSample]:
    first: dict[str, ScenarioSample] = {}
    for sample in load(built_dataset):
        first.setdefault(sample.scenario.family, sample)
    return first


@pytest.mark.parametrize("family", FAMILIES)
def test_the_reference_solution_scores_as_a_success(samples, family: str) -> None:
    design, material = reference_design(samples[family])
    result = benchgen_dagster.evaluate(samples[family], design, material=material)
    assert result.valid and result.success, result.reasons
    assert result.robust_successes >= 4 and result.time_to_goal_s
    again = benchgen_dagster.evaluate(samples[family], design, material=material)
    assert again == result  # deterministic


def test_an_empty_design_fails(samples) -> None:
    result = benchgen_dagster.evaluate(samples["ball_bin"], {})
    assert result.valid and not result.success
    assert "from the goal" in result.reasons[0]


def test_a_design_outside_the_build_zone_is_ruled_out(samples) -> None:
    zone = samples["ball_bin"].scenario.build_zone
    beyond = Pos(zone.max[0] * 1000 + 80, 0, zone.max[2] * 1000) * Box(40, 40, 40)
    result = benchgen_dagster.evaluate(samples["ball_bin"], {"block": beyond})
    assert not result.valid and not result.success
    assert "outside the build zone" in result.reasons[0]


def test_a_design_sunk_into_the_scenery_is_ruled_out(samples) -> None:
    zone = samples["cube_gap"].scenario.build_zone
    # cube_gap's build zone takes in the upper slope: a block at its low corner sits in it
    corner = Pos(zone.min[0] * 1000 + 30, 0, zone.min[2] * 1000 + 30) * Box(40, 40, 40)
    result = benchgen_dagster.evaluate(samples["cube_gap"], {"block": corner})
    assert not result.valid and "overlap" in result.reasons[0]


def mjcf_of(design: dict[str, list[bytes]], density: float) -> str:
    """The same parts as MJCF bodies: each convex piece an inline mesh."""
    assets, bodies = [], []
    for label, stls in design.items():
        geoms = []
        for number, hull in enumerate(h for stl in stls for h in piece_from_stl(stl).hulls):
            name = f"{label}_{number}"
            vertex = " ".join(f"{v:.6f}" for v in hull.vertices.ravel())
            face = " ".join(str(f) for f in hull.faces.ravel())
            assets.append(f'<mesh name="{name}" vertex="{vertex}" face="{face}"/>')
            pos = " ".join(f"{c:.6f}" for c in hull.offset)
            geoms.append(f'<geom type="mesh" mesh="{name}" pos="{pos}" density="{density}"/>')
        bodies.append(f'<body name="{label}">{"".join(geoms)}</body>')
    return (
        f"<mujoco><asset>{''.join(assets)}</asset><worldbody>{''.join(bodies)}</worldbody></mujoco>"
    )


def test_the_reference_as_mjcf_bodies_scores_like_its_parts(samples) -> None:
    design, material = reference_design(samples["ball_bin"])
    as_parts = benchgen_dagster.evaluate(samples["ball_bin"], design, material=material)
    xml = mjcf_of(design, MATERIALS[material].density)
    as_bodies = benchgen_dagster.evaluate(samples["ball_bin"], xml, material=material)
    assert as_bodies.valid and as_bodies.success, as_bodies.reasons
    assert as_bodies.weight_g == pytest.approx(as_parts.weight_g, rel=0.02)
    assert as_bodies.cost == pytest.approx(as_parts.cost, rel=0.02)


def test_mjcf_bodies_outside_the_build_zone_or_loose_geoms_are_ruled_out(samples) -> None:
    zone = samples["ball_bin"].scenario.build_zone
    x, z = zone.max[0] + 0.1, zone.max[2]
    post = f'<body name="post" pos="{x} 0 {z}"><geom type="box" size=".02 .02 .02"/></body>'
    outside = f"<mujoco><worldbody>{post}</worldbody></mujoco>"
    result = benchgen_dagster.evaluate(samples["ball_bin"], outside)
    assert not result.valid and "post reaches outside the build zone" in result.reasons[0]
    loose = '<mujoco><worldbody><geom type="box" size=".02 .02 .02"/></worldbody></mujoco>'
    with pytest.raises(ValueError, match="inside <body> elements"):
        benchgen_dagster.evaluate(samples["ball_bin"], loose)
    with pytest.raises(ValueError, match="MJCF does not load"):
        benchgen_dagster.evaluate(samples["ball_bin"], "<mujoco><worldbody>")


def test_the_command_scores_a_design_file_and_the_reference(
    built_dataset: Path, samples, tmp_path: Path
) -> None:
    design = tmp_path / "design.py"
    design.write_text(
        "from build123d import Box, Pos\n\n\n"
        "def design(scenario):\n"
        "    zone = scenario.build_zone\n"
        "    return {'block': Pos(*(c * 1000 + 15 for c in zone.min)) * Box(20, 20, 20)}\n"
    )
    scenario_id = samples["ball_bin"].scenario.scenario_id
    runner = CliRunner()
    failed = runner.invoke(main, ["evaluate", str(built_dataset), scenario_id, str(design)])
    assert failed.exit_code == 1 and '"success": false' in failed.output
    solved = runner.invoke(main, ["evaluate", str(built_dataset), scenario_id, "--reference"])
    assert solved.exit_code == 0 and '"success": true' in solved.output
    xml = tmp_path / "design.xml"
    xml.write_text(mjcf_of(*reference_design(samples["ball_bin"])[:1], density=600))
    as_mjcf = runner.invoke(main, ["evaluate", str(built_dataset), scenario_id, str(xml)])
    assert as_mjcf.exit_code == 0 and '"success": true' in as_mjcf.output
    neither = runner.invoke(main, ["evaluate", str(built_dataset), scenario_id])
    assert neither.exit_code == 2 and "DESIGN file or --reference" in neither.output
