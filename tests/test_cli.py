"""The `benchgen` command as a user runs it: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchgen_dagster.cli import main
from tests.helpers import SCRIPTS

FAMILY = Path(__file__).parents[1] / "benchgen_dagster" / "families" / "ball_bin.py"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_validate_script_accepts_a_sound_family_with_exit_0() -> None:
    code, output = run("validate-script", str(FAMILY), "--seed", "1", "--sandbox", "bubblewrap")
    report = json.loads(output)
    assert code == 0 and report["accepted"] and report["sandbox"] == "bubblewrap"
    assert [s["stage"] for s in report["stages"]][-2:] == ["robust", "difficulty"]


def test_validate_script_rejects_a_broken_script_with_exit_1_and_its_reason() -> None:
    code, output = run(
        "validate-script", str(SCRIPTS / "hostile" / "segfault.py"), "--sandbox", "bubblewrap"
    )
    report = json.loads(output)
    assert code == 1 and report["rejection"]["reason"] == "script_crashed"
    assert "SIGSEGV" in report["rejection"]["message"]


def test_validate_script_reports_the_scripts_output_truncated() -> None:
    code, output = run(
        "validate-script", str(SCRIPTS / "hostile" / "output_flood.py"), "--sandbox", "bubblewrap"
    )
    report = json.loads(output)
    assert code == 1 and 0 < len(report["script_output"]) <= 4000


@pytest.mark.parametrize(
    "args", [["validate-script", "missing.py"], ["validate-script", str(FAMILY), "--sandbox", "vm"]]
)
def test_validate_script_usage_errors_exit_2(args: list[str]) -> None:
    code, _ = run(*args)
    assert code == 2


def test_validate_script_exits_2_when_the_asked_sandbox_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("benchgen_dagster.sandbox.docker.docker_available", lambda: False)
    code, output = run("validate-script", str(FAMILY), "--sandbox", "docker")
    assert code == 2 and "no Docker daemon answers" in output


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["build", "--family", "nope"], {}, "unknown family 'nope'; built-in families:"),
        (["build"], {"BENCHGEN_VARIANTS": "many"}, "BENCHGEN_VARIANTS must be a whole number"),
        (["build"], {"BENCHGEN_VARIANTS": "0"}, "BENCHGEN_VARIANTS must be at least 1"),
        (["build"], {"BENCHGEN_SANDBOX": "vm"}, "BENCHGEN_SANDBOX must be one of"),
        (["inspect", "/nonexistent"], {}, "is not a benchgen dataset"),
        (["verify", "/nonexistent"], {}, "is not a benchgen dataset"),
        (["bench", "--scale", "100,abc"], {}, "--scale: '100,abc' is not a comma-separated list"),
        (["bench", "--cameras", "iso,sde"], {}, "unknown camera 'sde' in 'iso,sde'; the cameras"),
    ],
)
def test_bad_input_gets_one_clear_line_and_exit_2(
    args: list[str],
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = sorted(tmp_path.iterdir())
    result = CliRunner().invoke(
        main, [*args, *(["--data-dir", str(tmp_path)] if args[0] == "build" else [])]
    )
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert sorted(tmp_path.iterdir()) == before  # nothing written


def test_inspect_prints_a_table_per_family_and_the_lineage_of_one_scenario(
    built_dataset: Path,
) -> None:
    code, output = run("inspect", str(built_dataset))
    assert code == 0 and "near-dup" in output and "ball_bin" in output
    code, output = run("inspect", str(built_dataset), "ball_bin-s00001")
    lineage = json.loads(output)
    assert code == 0 and lineage["request_id"] == "ball_bin" and lineage["seed"] == 1
    assert lineage["prompt"] and lineage["dagster_run_id"] and len(lineage["script_sha256"]) == 64
    code, output = run("inspect", str(built_dataset), "no-such-scenario")
    assert code == 2 and "no scenario 'no-such-scenario'" in output


def test_request_writes_a_valid_request_file_and_refuses_an_unknown_family(tmp_path: Path) -> None:
    code, output = run(
        "request",
        "a ball into a bin",
        "--family",
        "ball_bin",
        "--variants",
        "3",
        "--requests-dir",
        str(tmp_path),
    )
    [path] = tmp_path.glob("*.yaml")
    assert code == 0 and path.stem in output
    assert "family: ball_bin" in path.read_text() and "variants: 3" in path.read_text()
    code, output = run("request", "x", "--family", "nope", "--requests-dir", str(tmp_path))
    assert code == 2 and "unknown family 'nope'" in output


@pytest.mark.parametrize(
    "garbage", [b"import os\x00\x01\x02", b"def build(seed, params):\n    return '\xff\xfe'\n"]
)
def test_validate_script_rejects_a_file_that_is_not_text_with_exit_1_and_its_reason(
    tmp_path: Path, garbage: bytes
) -> None:
    script = tmp_path / "garbage.py"
    script.write_bytes(garbage)
    code, output = run("validate-script", str(script), "--sandbox", "subprocess")
    report = json.loads(output)
    assert code == 1 and not report["accepted"]
    assert report["rejection"]["reason"] == "script_not_text"
    assert report["rejection"]["stage"] == "run"


def test_a_request_can_ask_for_a_difficulty_tier(tmp_path: Path) -> None:
    code, output = run(
        "request", "a hard wall", "--family", "over_wall", "--variants", "2",
        "--difficulty", "hard", "--requests-dir", str(tmp_path),
    )  # fmt: skip
    [path] = tmp_path.glob("*.yaml")
    assert code == 0 and path.stem in output and "difficulty: hard" in path.read_text()
    code, _ = run("request", "x", "--family", "over_wall", "--difficulty", "extreme")
    assert code == 2
