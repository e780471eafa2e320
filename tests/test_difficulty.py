"""The difficulty stage: a seeded random-design baseline, its Wilson interval and tiers, the
rejection of scenarios random parts solve, one model reused in place, and the fields a user
reads in scenario.json, index.parquet, the card and `benchgen inspect`."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import mujoco
import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from benchgen_dagster.catalogue.registry import registry
from benchgen_dagster.cli import main
from benchgen_dagster.dataset import load
from benchgen_dagster.dataset.tiers import release_tier_mix, tier_problems
from benchgen_dagster.sandbox.protocol import Job
from benchgen_dagster.schema.contract import IndexRow, Reason, Split, Stage
from benchgen_dagster.validation import difficulty
from benchgen_dagster.validation.difficulty import (
    MAX_TRIALS,
    MOVING,
    REST_S,
    Box,
    ProbeModel,
    compiled_for,
    naive_trial,
    random_baseline,
    settled,
    tier_of,
    trial_design,
    weight_and_cost,
    wilson,
)
from benchgen_dagster.validation.funnel import ValidatedVariant
from benchgen_dagster.validation.simulate import Checkpoint, simulate
from tests.helpers import SCRIPTS, run_script, validate_all

DIFFICULTY_KEYS = {
    "baseline",
    "trials",
    "successes",
    "random_solve_rate",
    "random_solve_low95",
    "random_solve_high95",
    "tier",
}
INDEX_COLUMNS = (
    "tier",
    "random_solve_rate",
    "random_solve_low95",
    "random_solve_high95",
    "difficulty_tier",
    "robust_successes",
    "robust_trials",
)


@pytest.fixture(scope="module")
def accepted() -> dict[str, ValidatedVariant]:
    """Seed 0 of two families with different scenery, through the whole funnel."""
    variants = {}
    for family in ("ball_bin", "cliff_stop"):
        [variant] = validate_all(family, run_script(registry()[family].source, [Job(0, 0)]))
        assert variant.report.accepted, variant.report.rejection
        variants[family] = variant
    return variants


@pytest.fixture(scope="module")
def swing_gate() -> ValidatedVariant:
    """A kinematic scenario (a hinged gate in the scenery), through the whole funnel."""
    [variant] = validate_all("swing_gate", run_script(registry()["swing_gate"].source, [Job(0, 0)]))
    assert variant.scenario is not None and variant.xml is not None
    return variant


@pytest.fixture(scope="module")
def trivial() -> list[ValidatedVariant]:
    source = (SCRIPTS / "trivial_random.py").read_text()
    return validate_all("trivial-random", run_script(source, [Job(0, 0), Job(1, 1)]))


def test_the_wilson_interval_has_its_known_values() -> None:
    assert wilson(0, 10) == pytest.approx((0.0, 0.27754), abs=1e-5)
    assert wilson(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    assert wilson(1, 64) == pytest.approx((0.00276, 0.08334), abs=1e-5)
    assert wilson(64, 64) == pytest.approx((0.94338, 1.0), abs=1e-5)
    assert wilson(0, 0) == (0.0, 1.0)


def test_tiers_follow_the_documented_rate_boundaries() -> None:
    assert tier_of(0, MAX_TRIALS) == "very_hard"
    assert tier_of(1, MAX_TRIALS) == "hard"  # 1/64 is below 2%
    assert tier_of(2, MAX_TRIALS) == "medium"
    assert tier_of(4, MAX_TRIALS) == "easy"


def test_sampling_stops_early_for_a_trivial_rate_and_runs_to_the_cap_for_a_rare_one() -> None:
    assert settled(6, 8)  # the lower bound is already above 10%
    assert not settled(5, 7)  # too few trials to judge
    assert not settled(0, MAX_TRIALS - 1) and not settled(1, MAX_TRIALS - 1)


def test_no_trials_asked_for_builds_no_model(accepted) -> None:
    """The bench's validation phase asks for none: the record says 0 trials, and the scene's
    MJCF is not even read."""
    scenario = accepted["ball_bin"].scenario
    assert scenario is not None
    result = random_baseline("not an MJCF document", scenario, max_trials=0)
    assert (result.difficulty.trials, result.difficulty.successes) == (0, 0)
    assert result.difficulty.baseline == difficulty.BASELINE


def test_the_same_scenario_gives_the_same_difficulty_block(accepted) -> None:
    variant = accepted["ball_bin"]
    assert variant.scenario is not None and variant.xml is not None
    again = random_baseline(variant.xml, variant.scenario)
    assert again.difficulty == variant.scenario.difficulty
    assert again.difficulty.model_dump_json() == variant.scenario.difficulty.model_dump_json()


def test_an_accepted_scenario_carries_its_difficulty_and_the_reference_certificate(
    accepted,
) -> None:
    variant = accepted["cliff_stop"]
    scenario = variant.scenario
    assert scenario is not None and scenario.difficulty is not None and scenario.tier == "spatial"
    assert set(scenario.difficulty.model_dump()) == DIFFICULTY_KEYS
    assert scenario.difficulty.baseline == difficulty.BASELINE
    assert scenario.difficulty.random_solve_low95 < difficulty.TRIVIAL_LOW95
    stages = {s.stage: s for s in variant.report.stages}
    measured = stages[Stage.difficulty].measurements
    assert measured["trials"] == scenario.difficulty.trials
    assert measured["random_solve_high95"] == scenario.difficulty.random_solve_high95
    robust = stages[Stage.robust].measurements
    assert robust["trials"] == 5 and robust["certificate_trials"] == 16
    assert robust["certificate_successes"] >= robust["successes"]
    low, _ = wilson(int(robust["certificate_successes"]), 16)
    assert robust["certificate_low95"] == pytest.approx(low, abs=1e-6)


def test_a_scenario_random_parts_solve_is_rejected_as_trivial_random(trivial) -> None:
    for variant in trivial:
        rejection = variant.report.rejection
        assert rejection is not None and rejection.stage is Stage.difficulty
        assert rejection.reason is Reason.trivial_random
        assert rejection.measurements["random_solve_low95"] >= difficulty.TRIVIAL_LOW95
        assert rejection.measurements["trials"] < MAX_TRIALS  # settled early, cheaply
        # every stage before it passed: the reference solves it, gravity alone does not
        assert all(s.passed for s in variant.report.stages[:-1])


def test_trials_on_the_reused_model_end_as_a_plain_full_length_trial_does(accepted) -> None:
    """The same draws, on one model reused in place with its shortcuts (no steps until the
    payload nears a part, resumed from the part-free run, resting sooner), and as a plain
    implementation makes them: a model compiled per draw, the scenario's own rule."""
    untouched = resumed = 0
    for variant in accepted.values():
        assert variant.scenario is not None and variant.xml is not None
        probes = ProbeModel(variant.xml, variant.scenario)
        for number in range(16):
            design, _ = trial_design(probes, number)
            plain_design, plain = naive_trial(variant.xml, variant.scenario, number)
            assert design == plain_design
            if design is None or plain is None:
                continue
            untouched += probes.first_approach(design) is None
            resumed += probes.first_approach(design) is not None
            reused = probes.run(design)
            assert reused.success == plain.success
            assert reused.touched_forbid == plain.touched_forbid
            assert reused.left_bounds == plain.left_bounds
            probes.set(design)  # the same trial on the same model from the start, no shortcut
            scenario = variant.scenario
            assert reused == simulate(probes.model, scenario, data=probes.data, rest_s=REST_S)
    assert untouched >= 2 and resumed >= 2  # both shortcuts were taken


def test_every_trial_of_a_kinematic_scenario_ends_as_on_a_model_compiled_for_it(
    swing_gate,
) -> None:
    """All of the stage's trials in its order, moving parts among them (trials 42 and 55 once
    failed in place and succeeded compiled), against the plain trials."""
    scenario, xml = swing_gate.scenario, swing_gate.xml
    probes = ProbeModel(xml, scenario)
    outcomes, plain_outcomes = [], []
    for number in range(MAX_TRIALS):
        design, _ = trial_design(probes, number)
        plain_design, plain = naive_trial(xml, scenario, number)
        assert design == plain_design
        if design is None or plain is None:
            continue
        reused = probes.run(design)
        outcomes.append((reused.success, reused.touched_forbid, reused.left_bounds))
        plain_outcomes.append((plain.success, plain.touched_forbid, plain.left_bounds))
    assert outcomes == plain_outcomes
    assert sum(success for success, _, _ in outcomes) >= 2  # a scenario some designs solve


def _spinning_plank_far_from_everything(probes: ProbeModel) -> Box:
    """A motorised plank a metre above the scene's highest moving geom, at full torque."""
    above = probes.path[..., 2].max() + 1.0
    return Box(MOVING[1], (0.0, 0.0, above), (0.1, 0.02, 0.005), (1.0, 0.0, 0.0, 0.0), 2.0)


def test_a_part_spinning_clear_of_everything_does_not_keep_a_trial_from_resting(
    swing_gate,
) -> None:
    """Without the rule the motor keeps the run going to its time limit; with it the run rests
    as soon as the payload does, with the same outcome."""
    scenario, xml = swing_gate.scenario, swing_gate.xml
    probes = ProbeModel(xml, scenario)
    design = (_spinning_plank_far_from_everything(probes),)
    runs = []
    for aloof in (None, probes._aloof(design)):
        probes.set(design)
        runs.append(
            simulate(
                probes.model,
                scenario,
                data=probes.data,
                rest_s=REST_S,
                controls=difficulty.controls_for(design),
                aloof=aloof,
            )
        )
    spinning, resting = runs
    assert spinning.sim_time >= scenario.simulation.duration_s
    assert resting.sim_time < scenario.simulation.duration_s / 2
    assert resting.success == spinning.success
    assert resting.final_position == pytest.approx(spinning.final_position, abs=1e-4)


def test_a_trial_whose_moving_part_nothing_nears_ends_as_the_part_free_run(swing_gate) -> None:
    scenario, xml = swing_gate.scenario, swing_gate.xml
    probes = ProbeModel(xml, scenario)
    design = (_spinning_plank_far_from_everything(probes),)
    assert probes.first_approach(design) is None
    assert probes.run(design) is probes.alone
    assert difficulty.fresh_run(xml, scenario, design).success == probes.alone.success


def test_a_part_parked_during_a_moving_trial_collides_when_a_later_trial_uses_it(
    swing_gate,
) -> None:
    """A moving part's trial updates the model's constants (`mj_setConst`), which derive each
    body's collision filter from its geoms' while the fixed parts are parked and switched off;
    a later trial's block on the payload must still touch it, as on a model fresh for it."""
    scenario, xml = swing_gate.scenario, swing_gate.xml
    used, fresh = ProbeModel(xml, scenario), ProbeModel(xml, scenario)
    payload = used.at_start.geom_xpos[used.moving[0]]
    block = Box("block", tuple(payload), (0.02, 0.02, 0.02), (1.0, 0.0, 0.0, 0.0))
    plank = Box(MOVING[0], (0.0, 0.0, 0.5), (0.05, 0.01, 0.005), (1.0, 0.0, 0.0, 0.0))
    used.set((plank,))
    for probes in (used, fresh):
        probes.set((block,))
        mujoco.mj_collision(probes.model, probes.data)
        contacts = probes.data.contact[: probes.data.ncon]
        assert any(probes.geoms[0] in pair for pair in contacts.geom.tolist())


def test_a_moving_part_has_the_mass_and_inertia_the_compiler_gives_it(swing_gate) -> None:
    """To the last digit: a hinged part's motion turns a rounding difference into a different
    outcome."""
    scenario, xml = swing_gate.scenario, swing_gate.xml
    probes = ProbeModel(xml, scenario)
    rng = np.random.default_rng(0)
    for _ in range(8):
        half = tuple(rng.uniform(0.003, 0.2, 3).tolist())
        design = (Box(MOVING[0], (0.0, 0.0, 0.3), half, (1.0, 0.0, 0.0, 0.0)),)  # type: ignore[arg-type]
        probes.set(design)
        compiled = compiled_for(xml, scenario, design)
        body = probes.model.body(f"probe_{MOVING[0]}").id
        assert probes.model.body_mass[body] == compiled.body_mass[body]
        assert probes.model.body_inertia[body].tolist() == compiled.body_inertia[body].tolist()


def test_a_run_resumed_from_any_checkpoint_ends_as_the_whole_run(accepted) -> None:
    variant = accepted["cliff_stop"]
    assert variant.scenario is not None
    model = mujoco.MjModel.from_xml_string(variant.solution_xml)
    data = mujoco.MjData(model)
    checkpoints: list[Checkpoint] = []
    whole = simulate(model, variant.scenario, data=data, checkpoints=checkpoints)
    assert whole.success and len(checkpoints) > 10
    for checkpoint in checkpoints[:: len(checkpoints) // 5]:
        mujoco.mj_resetData(model, data)
        assert simulate(model, variant.scenario, data=data, resume=checkpoint) == whole


def test_random_designs_stay_in_the_build_zone_within_budget_and_clear_of_the_scenery(
    accepted,
) -> None:
    variant = accepted["cliff_stop"]
    assert variant.scenario is not None and variant.xml is not None
    scenario = variant.scenario
    probes = ProbeModel(variant.xml, scenario)
    zone = scenario.build_zone
    for number in range(12):
        design, _ = trial_design(probes, number)
        assert design is not None
        weight_g, cost = weight_and_cost(design)
        assert weight_g <= scenario.constraints.max_weight_g
        assert cost <= scenario.constraints.max_unit_cost
        for box in design:
            reach = box.reach()
            assert np.all(np.array(box.center) - reach >= np.array(zone.min) - 1e-9)
            assert np.all(np.array(box.center) + reach <= np.array(zone.max) + 1e-9)
        assert not probes.sunk(design)


def test_scenario_json_holds_the_tier_and_the_difficulty_block(built_dataset: Path) -> None:
    records = []
    for shard in sorted((built_dataset / "shards").glob("*.tar")):
        with tarfile.open(shard) as tar:
            records += [
                json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
                for member in tar.getmembers()
                if member.name.endswith(".scenario.json")
            ]
    assert len(records) == len(list(load(built_dataset)))
    kinematic = {"arm_lift", "lever_toss", "piston_slot", "shelf_lift", "swing_gate", "trapdoor"}
    for record in records:
        assert record["tier"] == ("kinematic" if record["family"] in kinematic else "spatial")
        assert set(record["difficulty"]) == DIFFICULTY_KEYS
        assert record["difficulty"]["tier"] in ("easy", "medium", "hard", "very_hard")
        assert record["difficulty"]["random_solve_low95"] < difficulty.TRIVIAL_LOW95


def test_the_index_has_the_difficulty_and_robustness_columns(built_dataset: Path) -> None:
    table = pq.read_table(built_dataset / "index.parquet")
    for column in INDEX_COLUMNS:
        assert column in table.column_names
        assert table.column(column).null_count == 0, column
    rows = table.to_pylist()
    assert {r["tier"] for r in rows} == {"spatial", "kinematic"}
    assert all(
        r["random_solve_low95"] <= r["random_solve_rate"] <= r["random_solve_high95"] for r in rows
    )
    assert all(r["robust_trials"] == 5 and r["robust.certificate_trials"] == 16 for r in rows)


def test_the_card_and_inspect_show_the_tier_mix_per_family(built_dataset: Path) -> None:
    card = (built_dataset / "README.md").read_text()
    assert "## Difficulty" in card and "| very_hard |" in card
    assert "![plots/difficulty.png](plots/difficulty.png)" in card
    for family in registry():
        assert any(
            line.startswith(f"| {family} |") and "/" in line
            for line in card.split("## Difficulty")[1].splitlines()
        )
    result = CliRunner().invoke(main, ["inspect", str(built_dataset)])
    assert result.exit_code == 0, result.output
    assert "Difficulty" in result.output and "very_hard" in result.output
    assert "certificate" in result.output


def _row(scenario_id: str, tier: str | None, low95: float | None) -> IndexRow:
    return IndexRow(
        scenario_id=scenario_id,
        family="ball_bin",
        seed=0,
        split=Split.test,
        shard="shards/test-ball_bin-00000.tar",
        request_id="ball_bin",
        params_json="{}",
        script_sha256="0" * 64,
        prompt_sha256="0" * 64,
        validator_version="v",
        family_code_version="f",
        sandbox="subprocess",
        geometry_sha256="g",
        random_solve_rate=low95,
        random_solve_low95=low95,
        random_solve_high95=low95,
        difficulty_tier=tier,
        measurements={},
    )


def test_the_release_check_refuses_a_trivial_or_untiered_scenario() -> None:
    sound = [_row("a-s00000", "hard", 0.0), _row("a-s00001", "easy", 0.06)]
    assert tier_problems(sound) == []
    assert release_tier_mix(sound)["all"] == {"easy": 1, "medium": 0, "hard": 1, "very_hard": 0}
    [trivial] = tier_problems([*sound, _row("a-s00002", "easy", 0.12)])
    assert "a-s00002 is trivial" in trivial
    [untiered] = tier_problems([*sound, _row("a-s00003", None, None)])
    assert "a-s00003 has no difficulty tier" in untiered


def test_the_release_declares_a_blocking_tier_mix_check() -> None:
    from benchgen_dagster.assets.packaging import TIER_MIX, dataset_release

    specs = {spec.name: spec for spec in dataset_release.check_specs}
    assert specs[TIER_MIX].blocking


def test_an_unstable_trial_leaves_no_log_file_and_prints_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """MuJoCo's warning goes to the log, not to the console and a MUJOCO_LOG.TXT in the
    folder a run was started from."""
    monkeypatch.chdir(tmp_path)
    model = mujoco.MjModel.from_xml_string(
        '<mujoco><worldbody><body><freejoint/><geom size=".1"/></body></worldbody></mujoco>'
    )
    data = mujoco.MjData(model)
    data.qvel[:] = 1e30
    with caplog.at_level("DEBUG", logger="benchgen_dagster.validation.simulate"):
        mujoco.mj_step(model, data)
    assert data.warning[mujoco.mjtWarning.mjWARN_BADQVEL].number == 1
    assert any("MuJoCo: Nan, Inf or huge value in QVEL" in m for m in caplog.messages)
    assert capfd.readouterr() == ("", "")
    assert not list(tmp_path.iterdir())
