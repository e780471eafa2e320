"""The dataset card, written from the release's own data, and the shards read by `webdataset`
exactly as the card shows."""

from __future__ import annotations

from pathlib import Path

import pytest
import webdataset as wds
import yaml

from benchgen_dagster.dataset import read_manifest


def card_of(dataset: Path) -> tuple[dict, str]:
    text = (dataset / "README.md").read_text()
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def test_the_release_has_a_dataset_card_listed_in_its_manifest(built_dataset: Path) -> None:
    manifest = read_manifest(built_dataset)
    assert "README.md" in {f.path for f in manifest.files}
    header, body = card_of(built_dataset)
    assert header["license"] and "robotics" in header["task_categories"]
    splits = {s["name"]: s["num_examples"] for s in header["dataset_info"]["splits"]}
    assert splits == manifest.counts["splits"]
    paths = {f["split"]: f["path"] for f in header["configs"][0]["data_files"]}
    assert paths["test"] == "shards/test-*.tar"
    for family in manifest.counts["families"]:
        assert f"| {family} |" in body
    for section in ("## Validation", "## Lineage", "## Known limitations", "## Loading"):
        assert section in body


def test_the_shards_load_with_the_webdataset_library(built_dataset: Path) -> None:
    manifest = read_manifest(built_dataset)
    urls = [str(built_dataset / s.path) for s in manifest.shards if s.split == "test"]
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode("pil"))
    assert len(samples) == manifest.counts["splits"]["test"]
    first = samples[0]
    assert first["scenario.json"]["scenario_id"] == first["__key__"]
    assert first["render_0.png"].size == (320, 240)
    assert b"<mujoco" in first["mjcf.xml"]


def test_the_release_loads_with_hugging_face_datasets_through_its_card(
    built_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    from datasets import load_dataset

    manifest = read_manifest(built_dataset)
    test = load_dataset(str(built_dataset), split="test")
    assert test.num_rows == manifest.counts["splits"]["test"]
    row = test[0]
    assert row["scenario.json"]["scenario_id"] == row["__key__"]
    assert row["render_0.png"].size == (320, 240)
