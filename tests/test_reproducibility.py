"""A released dataset can be trusted: checked against its manifest, rebuilt from its lineage."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchgen_dagster.cli import main
from benchgen_dagster.dataset import DatasetError, load, read_manifest, verify
from benchgen_dagster.stores.local import STAGED, LocalStore
from benchgen_dagster.validation.checking import rebuild


def first_of_each_family(dataset: Path):  # type: ignore[no-untyped-def]
    seen = {}
    for sample in load(dataset):
        seen.setdefault(sample.scenario.family, sample)
    return list(seen.values())


def test_every_family_rebuilds_byte_identically_from_its_lineage(built_dataset: Path) -> None:
    for sample in first_of_each_family(built_dataset):
        again = rebuild(sample, sandbox="bubblewrap")
        assert again.scenario == sample.scenario
        assert again.xml == sample.mjcf and again.solution_xml == sample.solution_mjcf
        assert json.loads(again.report.model_dump_json()) == json.loads(
            sample.validation.model_copy(
                update={"stages": sample.validation.stages[:-1]}
            ).model_dump_json()
        )  # the shard's report also has the render stage


@pytest.fixture
def dataset_copy(built_dataset: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "default"
    shutil.copytree(built_dataset, copy)
    return copy


def test_verify_accepts_an_untouched_dataset(dataset_copy: Path) -> None:
    result = verify(dataset_copy)
    manifest = read_manifest(dataset_copy)
    assert result.ok and result.checked == len(manifest.shards) + 1 + len(manifest.files)


def test_verify_finds_a_changed_a_missing_and_an_unlisted_file(dataset_copy: Path) -> None:
    shards = sorted((dataset_copy / "shards").iterdir())
    with shards[0].open("r+b") as shard:
        shard.seek(700)
        shard.write(b"X")
    shards[1].unlink()
    (dataset_copy / "shards" / "stray.tar").write_bytes(b"")
    result = verify(dataset_copy)
    assert result.mismatched == [f"shards/{shards[0].name}"]
    assert result.missing == [f"shards/{shards[1].name}"]
    assert result.unlisted == ["shards/stray.tar"]


def test_verify_reports_a_write_a_killed_run_left_half_done(dataset_copy: Path) -> None:
    half_written = dataset_copy / "shards" / f"{STAGED}4194303-abc123"
    half_written.write_bytes(b"half a shard")
    result = verify(dataset_copy)
    assert not result.ok and result.leftovers == [f"shards/{half_written.name}"]
    code = CliRunner().invoke(main, ["verify", str(dataset_copy)])
    assert code.exit_code == 1 and f"leftover: shards/{half_written.name}" in code.output


def test_clearing_leftovers_keeps_the_staged_files_of_running_writers(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    mine = tmp_path / "a" / f"{STAGED}{os.getpid()}-x"
    gone = tmp_path / "a" / f"{STAGED}4194303-y"  # above the kernel's largest pid
    for path in (mine, gone):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"")
    assert store.clear_leftovers() == [f"a/{gone.name}"]
    assert mine.exists() and not gone.exists()
    assert store.list("a") == []


def test_loading_a_truncated_shard_is_a_clear_error(dataset_copy: Path) -> None:
    shard = sorted((dataset_copy / "shards").iterdir())[0]
    shard.write_bytes(shard.read_bytes()[:1000])
    with pytest.raises(DatasetError, match="does not match its manifest hash"):
        list(load(dataset_copy))
