"""The dataset card, written from the release's own data, and the shards read by `webdataset`
exactly as the card shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import webdataset as wds
import yaml
from PIL import Image

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


def test_the_shards_load_with_the_webdataset_library_as_the_card_shows(
    built_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = read_manifest(built_dataset)
    card = (built_dataset / "README.md").read_text()
    pattern = re.search(r'wds\.WebDataset\("([^"]+)"\)', card)
    assert pattern, "the card shows no webdataset example"
    monkeypatch.chdir(built_dataset)
    samples = list(wds.WebDataset(pattern.group(1), shardshuffle=False).decode("pil"))
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


def test_the_release_has_a_contact_sheet_and_plots_shown_in_its_card(built_dataset: Path) -> None:
    manifest = read_manifest(built_dataset)
    pictures = {f.path for f in manifest.files if f.path.endswith(".png")}
    assert pictures == {
        "contact_sheet.png",
        "plots/funnel.png",
        "plots/diversity.png",
        "plots/difficulty.png",
    }
    sheet = Image.open(built_dataset / "contact_sheet.png")
    assert sheet.height == 144 * len(manifest.counts["families"])  # a row per family
    _, body = card_of(built_dataset)
    for picture in pictures:
        assert f"]({picture})" in body
        assert Image.open(built_dataset / picture).width >= 400
