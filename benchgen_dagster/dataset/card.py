"""The dataset card: a README.md in the Hugging Face dataset-card format, written from the
release's own manifest and index, never by hand."""

from __future__ import annotations

from collections import Counter

import yaml

from benchgen_dagster.schema.contract import REPORTED_STAGES, DatasetManifest, IndexRow

LIMITATIONS = [
    "Scenery and solutions are static: the payload is the only moving body, so solvers design "
    "passive mechanisms (ramps, chutes, stops, bridges), not actuated ones.",
    "Solvability is proven by one reference solution per family and a few seeded perturbations "
    "of the payload's start; other solutions are not enumerated.",
    "MuJoCo collides convex hulls: a concave part with flat faces is split into exact convex "
    "pieces, a curved one is decomposed with CoACD, which approximates its shape within a small "
    "tolerance.",
    "Difficulty measures are geometric (distance, drop, clearance), not a learned estimate.",
]


def size_category(count: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if count < limit:
            return name
    return "100K<n<1M"


def _brace_pattern(manifest: DatasetManifest, split: str) -> str:
    """The split's shards as one brace pattern, e.g. `shards/test-{00000..00002}.tar`."""
    paths = [shard.path for shard in manifest.shards if shard.split == split]
    if len(paths) == 1:
        return paths[0]
    stem, _, first = paths[0].rpartition("-")
    last = paths[-1].rpartition("-")[2]
    return f"{stem}-{{{first.removesuffix('.tar')}..{last.removesuffix('.tar')}}}.tar"


def dataset_card(
    manifest: DatasetManifest, rows: list[IndexRow], license_id: str, pictures: list[str]
) -> str:
    total = len(rows)
    splits = sorted({r.split.value for r in rows})
    example = "test" if "test" in splits else splits[0]  # the split the loading examples use
    header = {
        "pretty_name": f"benchgen {manifest.name}",
        "license": license_id,
        "task_categories": ["robotics", "reinforcement-learning"],
        "tags": ["physics", "mujoco", "build123d", "benchmark", "engineering-design", "webdataset"],
        "size_categories": [size_category(total)],
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": split, "path": f"shards/{split}-*.tar"} for split in splits
                ],
            }
        ],
        "dataset_info": {
            "splits": [
                {"name": split, "num_examples": manifest.counts["splits"].get(split, 0)}
                for split in splits
            ],
        },
    }
    prompts = {p.family: p.prompt for p in manifest.partitions}
    family_split = {r.family: r.split.value for r in rows}
    per_family = Counter(r.family for r in rows)
    stages = manifest.counts["stages"]
    versions = ", ".join(f"{k} {v}" for k, v in sorted(manifest.code_versions.items()))
    generated = stages.get("generated", 0) or 1
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False).rstrip(),
        "---",
        "",
        f"# benchgen {manifest.name} ({manifest.version})",
        "",
        f"{total} physics benchmark scenarios for engineering agents, generated and validated "
        "by benchgen. Each scenario is a small MuJoCo world: a payload, a goal zone it must "
        "reach, forbid zones it must never touch, a build zone where a solver may place parts, "
        "and cost and weight limits. A solver designs a mechanism that brings the payload to the "
        "goal.",
        "",
        "## Families",
        "",
        "Splits assign whole families, so the validation and test splits hold families a "
        "solver never saw in training.",
        "",
        "| family | split | scenarios | description | unique geometries | near-duplicates |",
        "|---|---|---|---|---|---|",
    ]
    for family in sorted(per_family):
        diversity = manifest.diversity.get(family)
        lines.append(
            f"| {family} | {family_split[family]} | {per_family[family]} | "
            f"{prompts.get(family, '')} | {diversity.unique_geometries if diversity else ''} | "
            f"{diversity.near_duplicates if diversity else ''} |"
        )
    lines += [
        "",
        *(f"![{path}]({path})" for path in pictures),
        "",
        "## How it was made",
        "",
        "Each family is a parametric build123d script `build(seed, params)` with declared "
        "randomisation ranges. A script runs in a sandboxed worker (no network, limited memory, "
        "time and processes) for a batch of seeds; trusted code then converts its parts to "
        "metres, decomposes concave parts, assembles the MuJoCo model and simulates it. The "
        "same family, seed and parameters always give byte-identical files.",
        "",
        "## Validation",
        "",
        "A scenario is packaged only if it passes every stage: the script runs; the geometry is "
        "closed and sound; the static rules hold (zones inside the bounds, goal larger than the "
        "payload, reference solution inside the build zone and within cost and weight); the "
        "model compiles without interpenetration; it is stable; it is not solved by gravity "
        "alone; the reference solution solves it; and it still does from seeded perturbations "
        "of the payload's start (the robust stage). It is then rendered.",
        "",
        "| stage | passed | rate |",
        "|---|---|---|",
        *(
            f"| {stage} | {stages.get(stage, 0)} | {stages.get(stage, 0) / generated:.1%} |"
            for stage in REPORTED_STAGES
            if stage in stages
        ),
        "",
        "## Loading",
        "",
        "```python",
        "from benchgen_dagster.dataset.reader import load",
        "",
        'for sample in load("path/to/this/folder", split="test"):',
        "    model = sample.model()  # mujoco.MjModel",
        "```",
        "",
        "The shards are WebDataset tars, so the `webdataset` library and Hugging Face "
        "`datasets` read them as they are:",
        "",
        "```python",
        "import webdataset as wds",
        "",
        f'samples = wds.WebDataset("{_brace_pattern(manifest, example)}").decode()',
        "",
        "from datasets import load_dataset",
        "",
        f'files = {{"{example}": "shards/{example}-*.tar"}}',
        'dataset = load_dataset("webdataset", data_files=files)',
        "```",
        "",
        "On S3 the same loaders stream the shards through presigned links (the endpoint and "
        "credentials come from the usual `AWS_*` variables and `BENCHGEN_S3_ENDPOINT`):",
        "",
        "```python",
        "from benchgen_dagster.dataset.reader import shard_urls",
        "",
        f'urls = shard_urls("s3://bucket/prefix/datasets/{manifest.name}", split="{example}")',
        "samples = wds.WebDataset(urls).decode()",
        f'dataset = load_dataset("webdataset", data_files={{"{example}": urls}}, streaming=True)',
        "```",
        "",
        "## Lineage",
        "",
        f"Code versions: {versions}. "
        "Every scenario's `scenario.json` records its request, prompt hash, script hash, seed, "
        "parameters, code versions and sandbox; `manifest.json` also records the Dagster run "
        "that built each partition (`benchgen inspect DATASET SCENARIO_ID` shows it all):",
        "",
        "| request | family | family code version |",
        "|---|---|---|",
        *(
            f"| {p.request_id} | {p.family} | {p.family_code_version} |"
            for p in manifest.partitions
        ),
        "",
        "## Known limitations",
        "",
        *(f"- {limitation}" for limitation in LIMITATIONS),
        "",
    ]
    return "\n".join(lines)
