"""Faults stay where they happen: a failing partition fails alone, with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchgen_dagster.orchestration.build import (
    PartitionResult,
    _partition_process,
    _run_all,
    dagster_home,
)


def flaky(partition: str) -> PartitionResult:
    if partition == "b":
        raise RuntimeError("the daemon went away")
    return PartitionResult(partition, True, 0.1)


def test_a_failing_partition_does_not_stop_the_others() -> None:
    said: list[str] = []
    results = {r.partition: r for r in _run_all(["a", "b", "c"], 2, said.append, run=flaky)}
    assert results["a"].success and results["c"].success
    assert not results["b"].success and "the daemon went away" in results["b"].error
    assert any("b: FAILED" in line for line in said)


def test_a_partition_process_that_fails_reports_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    dagster_home(tmp_path)  # sets DAGSTER_HOME for the child
    result = _partition_process("no-such-partition")
    assert not result.success
    assert "no-such-partition" in result.error
