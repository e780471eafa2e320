"""Secrets from the environment reach no log, metadata, lineage, dataset or sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAFAKEBENCHGENKEY01",
    "AWS_SECRET_ACCESS_KEY": "fake-aws-secret-3c1f9d",
    "OPENAI_API_KEY": "sk-fake-openai-8e2b7a",
    "ANTHROPIC_API_KEY": "sk-ant-fake-5d4c3b",
    "LANGFUSE_PUBLIC_KEY": "pk-lf-fake-1a2b3c",
    "LANGFUSE_SECRET_KEY": "sk-lf-fake-9f8e7d",
}


def test_a_full_build_leaves_no_secret_anywhere(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, **SECRETS, "DAGSTER_HOME": str(data / "dagster")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchgen_dagster.cli",
            "build",
            "--family",
            "ball_bin",
            "--variants",
            "2",
            "--data-dir",
            str(data),
        ],
        env=env,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    outputs = {"stdout": done.stdout, "stderr": done.stderr}
    outputs.update({str(p): p.read_bytes() for p in data.rglob("*") if p.is_file()})
    assert len(outputs) > 20  # the data folder, the Dagster home with its database and logs
    for name, value in SECRETS.items():
        leaks = [where for where, content in outputs.items() if value.encode() in content]
        assert not leaks, f"{name} leaked into {leaks}"
