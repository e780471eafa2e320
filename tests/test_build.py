"""`benchgen build` as a function: each build keeps to its own data folder and instance."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchgen_dagster.orchestration.build import build_dataset


def test_two_builds_in_one_process_keep_to_their_own_data_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    environment = dict(os.environ)
    for name in ("first", "second"):
        said: list[str] = []
        assert build_dataset(tmp_path / name, 1, 1, False, ["ball_bin"], said.append) == 0
        assert f"Dagster home: {tmp_path / name / 'dagster'}" in said
        assert not any("up to date" in line for line in said)  # nothing of the first build
        assert (tmp_path / name / "datasets" / "default" / "manifest.json").is_file()
    assert dict(os.environ) == environment
