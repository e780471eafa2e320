"""Faults stay where they happen: a failing partition fails alone, with its reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchgen_dagster.orchestration.build import BuildTarget, PartitionResult, run_partitions


def flaky(partition: str, target: BuildTarget) -> PartitionResult:
    if partition == "b":
        raise RuntimeError("the daemon went away")
    return PartitionResult(partition, True, 0.1)


def test_a_failing_partition_does_not_stop_the_others(tmp_path: Path) -> None:
    said: list[str] = []
    target = BuildTarget(tmp_path, tmp_path / "dagster", variants=1)
    results = run_partitions(["a", "b", "c"], target, 2, said.append, run=flaky)
    by_partition = {r.partition: r for r in results}
    assert by_partition["a"].success and by_partition["c"].success
    assert not by_partition["b"].success and "the daemon went away" in by_partition["b"].error
    assert any("b: FAILED" in line for line in said)


def crashing(partition: str, target: BuildTarget) -> PartitionResult:
    if partition == "b":
        os._exit(3)  # as a segfault or the OOM killer would end it: no result, no exception
    return PartitionResult(partition, True, 0.1)


def test_a_partition_whose_process_crashes_fails_alone(tmp_path: Path) -> None:
    said: list[str] = []
    target = BuildTarget(tmp_path, tmp_path / "dagster", variants=1)
    results = run_partitions(["a", "b", "c"], target, 2, said.append, run=crashing)
    by_partition = {r.partition: r for r in results}
    assert sorted(by_partition) == ["a", "b", "c"] and len(results) == 3
    assert by_partition["a"].success and by_partition["c"].success
    assert not by_partition["b"].success and "ended abruptly" in by_partition["b"].error


def test_a_partition_process_that_fails_reports_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    said: list[str] = []
    [result] = run_partitions(["no-such-partition"], BuildTarget.on(tmp_path, 1), 1, said.append)
    assert not result.success
    assert "no-such-partition" in result.error
    assert any("no-such-partition: FAILED" in line for line in said)
