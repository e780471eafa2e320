"""The deployment's configuration (`deploy/`): complete, from the environment, secrets kept out
of it; and the definitions' executor in the deployment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from benchgen_dagster.sandbox.runner import PACKAGE_ROOT
from benchgen_dagster.stack.services import (
    DEFAULTS,
    DEPLOY,
    SECRETS,
    read_env_file,
    stack_environment,
)

INSTANCE = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())


def referenced_variables(text: str) -> set[str]:
    return set(re.findall(r"\{env: (\w+)\}", text))


def test_every_variable_the_instance_reads_reaches_the_run_containers() -> None:
    passed = set(INSTANCE["run_launcher"]["config"]["env_vars"])
    assert referenced_variables((DEPLOY / "dagster.yaml").read_text()) <= passed


def test_every_variable_has_a_default_or_is_a_secret() -> None:
    defaults = read_env_file(DEFAULTS)
    needed = referenced_variables((DEPLOY / "dagster.yaml").read_text())
    needed |= set(INSTANCE["run_launcher"]["config"]["env_vars"])
    assert needed - set(defaults) == set(SECRETS)
    assert not set(SECRETS) & set(defaults)


def test_the_instance_is_postgres_docker_queued_and_s3() -> None:
    assert "postgres" in INSTANCE["storage"]
    assert INSTANCE["run_launcher"]["class"] == "DockerRunLauncher"
    assert INSTANCE["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert INSTANCE["compute_logs"]["class"] == "S3ComputeLogManager"


def test_secrets_come_from_the_environment_when_set(tmp_path: Path) -> None:
    given = {"BENCHGEN_STACK_DIR": str(tmp_path), "BENCHGEN_PG_PASSWORD": "given"}
    env = stack_environment({**given, "AWS_SECRET_ACCESS_KEY": "also-given"})
    assert env["BENCHGEN_PG_PASSWORD"] == "given"
    assert not (tmp_path / "secrets.env").exists()


def test_secrets_set_nowhere_are_made_once_and_kept_private(tmp_path: Path) -> None:
    first = stack_environment({"BENCHGEN_STACK_DIR": str(tmp_path)})
    second = stack_environment({"BENCHGEN_STACK_DIR": str(tmp_path)})
    kept = tmp_path / "secrets.env"
    assert (kept.stat().st_mode & 0o777) == 0o600
    for name in SECRETS:
        assert len(first[name]) >= 32 and first[name] == second[name]
    assert first["DAGSTER_HOME"] == str(tmp_path / "dagster")


def test_the_deployment_runs_each_step_in_a_container() -> None:
    code = (
        "from benchgen_dagster.orchestration.definitions import defs; "
        "print(defs.resolve_job_def('build_partition').executor_def.name)"
    )
    deployed = {**os.environ, "BENCHGEN_STEP_IMAGE": "benchgen-step:1"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE_ROOT,
        env=deployed,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split()[-1] == "docker_steps"


def test_elsewhere_a_run_keeps_its_steps_in_one_process() -> None:
    from benchgen_dagster.orchestration.definitions import defs

    assert defs.resolve_job_def("build_partition").executor_def.name == "in_process"


def test_stack_status_of_a_stack_never_started_says_each_is_stopped(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from benchgen_dagster.cli import main

    environment = {"BENCHGEN_STACK_DIR": str(tmp_path / "stack")}
    result = CliRunner().invoke(main, ["stack", "status"], env=environment)
    assert result.exit_code == 1, result.output
    for service in ("postgres", "s3", "code-server", "daemon", "webserver"):
        assert f"{service}: stopped" in result.output
    assert "BENCHGEN_PG_PASSWORD" not in result.output


def test_stack_up_of_an_unknown_service_is_a_usage_error() -> None:
    from click.testing import CliRunner

    from benchgen_dagster.cli import main

    result = CliRunner().invoke(main, ["stack", "up", "mysql"])
    assert result.exit_code == 2 and "mysql" in result.output
