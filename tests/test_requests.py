"""Requests at the door: one check for `benchgen request` and the `new_requests` sensor, every
problem named, bad files set aside before they become a partition, and no seed made twice."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from dagster import DagsterInstance, SensorResult, build_sensor_context

from benchgen_dagster.catalogue.builtin import builtin_requests
from benchgen_dagster.catalogue.checks import check_request, first_free_seed
from benchgen_dagster.catalogue.requests import RequestBook
from benchgen_dagster.cli import main
from benchgen_dagster.orchestration.sensors import new_requests
from benchgen_dagster.resources import PipelineSettings

BUILTIN_VARIANTS = 4  # the built-in over_wall partition holds seeds 0–3

UNKNOWN_FAMILY = "prompt: a ball over a wall\nfamily: nope\nvariants: 2\n"
OUT_OF_RANGE = (
    "prompt: a very high wall\nfamily: over_wall\nparams:\n  wall_height: 999\n"
    "  material: gold\n  colour: red\nsplit: test\n"
)


def book_in(folder: Path) -> RequestBook:
    return RequestBook(folder / "requests", BUILTIN_VARIANTS)


def tick(root: Path, instance: DagsterInstance, cursor: str | None = None) -> SensorResult:
    settings = PipelineSettings(data_dir=str(root), builtin_variants=BUILTIN_VARIANTS)
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"settings": settings}
    )
    return new_requests(context)


def drop(root: Path, name: str, text: str) -> None:
    (root / "requests").mkdir(parents=True, exist_ok=True)
    (root / "requests" / name).write_text(text)


def accepted(root: Path) -> dict[str, dict[str, object]]:
    folder = root / "requests" / "accepted"
    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.yaml"))}


def test_every_problem_of_a_request_is_named_not_only_the_first() -> None:
    data = {
        "request_id": "r",
        "prompt": "a ball over a wall",
        "family": "over_wall",
        "variants": 0,
        "seed_start": True,
        "params": {"wall_height": 999, "material": "gold", "colour": "red", "scale_y": "wide"},
        "split": "test",
        "famly": "typo",
    }
    problems = check_request(data, [], builtin_requests(BUILTIN_VARIANTS)).problems
    assert [p.split(":")[0] for p in problems] == [
        "variants",
        "famly",
        "params.wall_height",
        "params.material",
        "params.colour",
        "params.scale_y",
        "split",
        "seed_start",
    ]
    assert "999 is outside over_wall's declared range 120–220" in problems[2]
    assert "'gold' is not one of over_wall's choices" in problems[3]


def test_a_request_within_its_familys_ranges_is_accepted_as_it_is() -> None:
    data = {"request_id": "r", "prompt": "p", "family": "over_wall", "seed_start": 100}
    params = {"wall_height": 120.0, "material": "steel", "scale_y": 1}
    verdict = check_request({**data, "params": params}, [], builtin_requests(BUILTIN_VARIANTS))
    assert verdict.ok and verdict.notes == [] and verdict.admitted.seed_start == 100


def test_a_bad_request_file_is_set_aside_with_every_problem_and_the_tick_says_why(
    tmp_path: Path,
) -> None:
    drop(tmp_path, "unknown-family.yaml", UNKNOWN_FAMILY)
    drop(tmp_path, "out-of-range.yaml", OUT_OF_RANGE)
    with DagsterInstance.ephemeral() as instance:
        result = tick(tmp_path, instance)
    assert result.run_requests == [] and result.dynamic_partitions_requests == []
    assert accepted(tmp_path) == {}
    why = result.skip_reason.skip_message  # what the UI shows for the tick
    assert "rejected unknown-family.yaml: family: unknown family 'nope'" in why
    assert "rejected out-of-range.yaml: params.wall_height: 999 is outside" in why
    rejected = tmp_path / "requests" / "rejected"
    reason = (rejected / "out-of-range.yaml.reason.txt").read_text()
    assert reason.startswith("out-of-range.yaml is refused (4 problems):")
    for problem in ("params.wall_height", "params.material", "params.colour", "split"):
        assert f"\n- {problem}: " in reason
    assert (rejected / "out-of-range.yaml").read_text() == OUT_OF_RANGE


def test_the_command_line_refuses_what_the_sensor_refuses_with_the_same_problems(
    tmp_path: Path,
) -> None:
    args = ["request", "a very high wall", "--family", "over_wall", "--split", "test"]
    args += ["--param", "wall_height=999", "--param", "material=gold", "--param", "colour=red"]
    result = CliRunner().invoke(main, [*args, "--requests-dir", str(tmp_path / "requests")])
    assert result.exit_code == 2
    drop(tmp_path, "same.yaml", OUT_OF_RANGE)
    with DagsterInstance.ephemeral() as instance:
        tick(tmp_path, instance)
    reason = (tmp_path / "requests" / "rejected" / "same.yaml.reason.txt").read_text()
    for line in reason.splitlines()[1:]:
        assert line.removeprefix("- ") in result.output
    assert not list((tmp_path / "requests").glob("*.yaml"))  # the command wrote nothing


def test_an_unknown_family_is_refused_by_the_command_line_with_exit_2(tmp_path: Path) -> None:
    args = ["request", "x", "--family", "nope", "--requests-dir", str(tmp_path)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "unknown family 'nope'" in result.output
    assert "Traceback" not in result.output and not list(tmp_path.glob("*"))


def test_a_request_repeating_a_built_in_partitions_seeds_gets_fresh_seeds_with_a_note(
    tmp_path: Path,
) -> None:
    drop(
        tmp_path, "wall.yaml", "prompt: a ball must clear a wall\nfamily: over_wall\nvariants: 3\n"
    )
    with DagsterInstance.ephemeral() as instance:
        result = tick(tmp_path, instance)
        assert [r.partition_key for r in result.run_requests] == list(accepted(tmp_path))
    [request] = accepted(tmp_path).values()
    assert request["seed_start"] == BUILTIN_VARIANTS  # after the built-in over_wall's 0–3
    assert book_in(tmp_path).load(str(request["request_id"])).seeds == range(4, 7)


def test_a_request_naming_seeds_another_request_holds_is_refused_with_the_overlap_named(
    tmp_path: Path,
) -> None:
    text = "prompt: a ball must clear a wall\nfamily: over_wall\nvariants: 3\nseed_start: 2\n"
    drop(tmp_path, "wall.yaml", text)
    with DagsterInstance.ephemeral() as instance:
        result = tick(tmp_path, instance)
    assert result.run_requests == [] and accepted(tmp_path) == {}
    reason = (tmp_path / "requests" / "rejected" / "wall.yaml.reason.txt").read_text()
    assert "seed_start: seeds 2–4 would repeat request over_wall's seeds 0–3" in reason
    assert "use seed_start 4" in reason


def test_requests_of_one_tick_get_seeds_of_their_own(tmp_path: Path) -> None:
    for name in ("a", "b"):
        drop(tmp_path, f"{name}.yaml", f"prompt: wall {name}\nfamily: over_wall\nvariants: 2\n")
    with DagsterInstance.ephemeral() as instance:
        assert len(tick(tmp_path, instance).run_requests) == 2
    seeds = sorted(r["seed_start"] for r in accepted(tmp_path).values())
    assert seeds == [4, 6]


def test_other_params_or_another_family_may_use_the_same_seeds(tmp_path: Path) -> None:
    drop(
        tmp_path, "low.yaml", "prompt: a low wall\nfamily: over_wall\nparams: {wall_height: 130}\n"
    )
    drop(tmp_path, "bin.yaml", "prompt: a bin\nfamily: ball_bin\nseed_start: 10\n")
    with DagsterInstance.ephemeral() as instance:
        assert len(tick(tmp_path, instance).run_requests) == 2
    assert sorted(r.get("seed_start", 0) for r in accepted(tmp_path).values()) == [0, 10]


def test_the_same_request_sent_twice_is_one_partition(tmp_path: Path) -> None:
    args = ["request", "a ball into a bin", "--family", "ball_bin", "--variants", "2"]
    args += ["--requests-dir", str(tmp_path / "requests")]
    assert CliRunner().invoke(main, args).exit_code == 0
    with DagsterInstance.ephemeral() as instance:
        first = tick(tmp_path, instance)
        [fields] = accepted(tmp_path).values()
        assert CliRunner().invoke(main, args).output.endswith("nothing new\n")
        drop(tmp_path, "again.yaml", yaml.safe_dump(fields))  # say, a tick killed mid-intake
        again = tick(tmp_path, instance, cursor=first.cursor)
    assert len(first.run_requests) == 1 and again.run_requests == []
    assert "again.yaml: the same request is already accepted" in again.skip_reason.skip_message
    assert len(accepted(tmp_path)) == 1 and not (tmp_path / "requests" / "rejected").exists()


def test_the_command_line_says_which_seeds_a_repeating_request_will_get(tmp_path: Path) -> None:
    args = ["request", "a ball must clear a wall", "--family", "over_wall", "--variants", "8"]
    result = CliRunner(env={"BENCHGEN_VARIANTS": "16"}).invoke(
        main, [*args, "--requests-dir", str(tmp_path)]
    )
    assert result.exit_code == 0
    assert "seeds 0–7 would repeat request over_wall's seeds 0–15" in result.output
    assert "given seeds 16–23 instead" in result.output
    [path] = tmp_path.glob("*.yaml")
    assert "seed_start" not in path.read_text()  # given when the sensor accepts it


@pytest.mark.parametrize(
    ("taken", "count", "start"),
    [
        ([], 3, 0),
        ([range(0, 16)], 8, 16),
        ([range(0, 4), range(10, 12)], 6, 4),
        ([range(2, 5)], 3, 5),
    ],
)
def test_the_first_free_seeds_are_the_lowest_run_no_request_holds(
    taken: list[range], count: int, start: int
) -> None:
    assert first_free_seed(count, taken) == start
