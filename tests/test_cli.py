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
    assert [s["stage"] for s in report["stages"]][-1] == "robust"


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
