"""The dataset card: a README.md in the Hugging Face dataset-card format, written from the
release's own manifest and index, never by hand."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from importlib.resources import files
from typing import Any

import jinja2
import yaml

from benchgen_dagster.dataset.members import CONTROLS, FILMSTRIP, MAPS, RENDER, card_features
from benchgen_dagster.dataset.tiers import TIERS, by_family, flat_rows
from benchgen_dagster.kit import ACTUATOR_BASE_COST, ACTUATOR_COST_PER_NEWTON
from benchgen_dagster.schema.contract import REPORTED_STAGES, DatasetManifest, IndexRow
from benchgen_dagster.validation.difficulty import (
    BASELINE,
    FRAGILE_LOW95,
    KINEMATIC_BASELINE,
    MAX_TRIALS,
    TRIVIAL_LOW95,
)

TEMPLATE = jinja2.Environment(
    trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined
).from_string(files("benchgen_dagster.dataset").joinpath("card.md.j2").read_text())
MEMBERS = {
    "scenario.json": "the scenario: family, seed, parameters, zones, payload, limits, lineage "
    "(metres)",
    "mjcf.xml": "the world as self-contained MJCF in metres, meshes inline "
    "(`mujoco.MjModel.from_xml_string`)",
    "solution.mjcf.xml": "the same world with the reference solution's parts (and, for a "
    "kinematic solution, its joints and actuators)",
    CONTROLS: "kinematic solutions only: each actuator's control schedule, `[t_s, value]` "
    "points linearly interpolated, set into `data.ctrl` before every step",
    FILMSTRIP: "kinematic scenarios only: frames of the reference run over time, left to "
    "right, in one image (PNG)",
    "script.py": "the family script that made it",
    "validation.json": "every validation stage's result and measurements",
    MAPS: "the open-ended maps of `scenario.json` and `validation.json` (`params`, "
    "`lineage.code_versions`, each stage's `measurements`) as JSON text, for readers that hold "
    "one schema for every row",
}

LIMITATIONS = [
    "Mechanisms are rigid bodies on single hinge or slide joints driven by motor, position or "
    "velocity actuators on open-loop schedules: no linkages, springs, cables or sensors.",
    "Solvability is proven by one reference solution per family and a few seeded perturbations "
    "of the payload's start; other solutions are not enumerated.",
    "MuJoCo collides convex hulls: a concave part with flat faces is split into exact convex "
    "pieces, a curved one is decomposed with CoACD, which approximates its shape within a small "
    "tolerance.",
    "Difficulty tiers come from a random-design baseline (random planks, blocks and wedges in the "
    f"build zone, at most {MAX_TRIALS} trials per scenario): they rank scenarios by how often "
    "chance solves them, not by how hard they are for a capable solver.",
]


LEADERBOARD_START = "<!-- leaderboard -->"
LEADERBOARD_END = "<!-- /leaderboard -->"


def leaderboard_table(board: Mapping[str, Any]) -> str:
    """The solvers of a leaderboard (`leaderboard.json`) as a Markdown table, best AUCCESS
    first."""
    lines = [
        "| solver | scenarios | success@1 | success@K | AUCCESS | mean cost | mean weight (g) |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in sorted(board["solvers"], key=lambda e: -e["overall"]["auccess"]):
        o = entry["overall"]
        cost = "–" if o.get("mean_cost") is None else f"{o['mean_cost']:.2f}"
        weight = "–" if o.get("mean_weight_g") is None else f"{o['mean_weight_g']:.0f}"
        lines.append(
            f"| {entry['solver']} | {o['scenarios']} | {o['success_at_1']:.1%} "
            f"| {o['success_at_k']:.1%} | {o['auccess']:.3f} | {cost} | {weight} |"
        )
    return "\n".join(lines)


def leaderboard_section(board: Mapping[str, Any] | None) -> str:
    """The card's leaderboard, between its markers (only the markers without one)."""
    if not board:
        return f"{LEADERBOARD_START}\n{LEADERBOARD_END}"
    return (
        f"{LEADERBOARD_START}\n## Leaderboard\n\n"
        f"The built-in baselines on the {board['split']} split, {board['attempts']} attempts per "
        "scenario (`benchgen solve`): success@1 and success@K are the shares of scenarios solved "
        "at the first attempt and within K, AUCCESS is PHYRE's weighted area under success@k "
        "for k = 1..K, cost and weight are means over the successful designs. `leaderboard.json` "
        "holds the figures per family.\n\n"
        f"{leaderboard_table(board)}\n{LEADERBOARD_END}"
    )


def with_leaderboard(card: str, board: Mapping[str, Any] | None) -> str:
    """The card with its leaderboard section replaced."""
    start, end = card.index(LEADERBOARD_START), card.index(LEADERBOARD_END) + len(LEADERBOARD_END)
    return card[:start] + leaderboard_section(board) + card[end:]


def size_category(count: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if count < limit:
            return name
    return "100K<n<1M"


def _brace_pattern(manifest: DatasetManifest, split: str) -> str:
    """The split's shards as one webdataset brace pattern: a partition with one shard by name,
    one with several by range: `shards/test-{around_wall-00000,ball_bin-{00000..00002}}.tar`."""
    paths = [shard.path for shard in manifest.shards if shard.split == split]
    if len(paths) == 1:
        return paths[0]
    prefix = f"shards/{split}-"
    numbers: dict[str, list[str]] = {}
    for path in paths:
        request, _, number = path.removeprefix(prefix).removesuffix(".tar").rpartition("-")
        numbers.setdefault(request, []).append(number)
    parts = [
        f"{request}-{found[0]}" if len(found) == 1 else f"{request}-{{{found[0]}..{found[-1]}}}"
        for request, found in numbers.items()
    ]
    return f"{prefix}{parts[0]}.tar" if len(parts) == 1 else f"{prefix}{{{','.join(parts)}}}.tar"


def card_header(
    manifest: DatasetManifest, splits: list[str], license_id: str, members: list[str]
) -> dict[str, object]:
    """The card's YAML: the Hub's metadata, the configuration `datasets` loads (one split per
    shard pattern) and the features of every member, so no reader infers them from a few rows."""
    split_bytes = Counter()
    for shard in manifest.shards:
        split_bytes[shard.split.value] += shard.bytes
    return {
        "pretty_name": f"benchgen {manifest.name}",
        "license": license_id,
        "task_categories": ["robotics", "reinforcement-learning"],
        "tags": ["physics", "mujoco", "build123d", "benchmark", "engineering-design", "webdataset"],
        "size_categories": [size_category(sum(manifest.counts["splits"].values()))],
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": split, "path": f"shards/{split}-*.tar"} for split in splits
                ],
            }
        ],
        "dataset_info": {
            "features": card_features(members),
            "splits": [
                {
                    "name": split,
                    "num_bytes": split_bytes[split],
                    "num_examples": manifest.counts["splits"].get(split, 0),
                }
                for split in splits
            ],
            "download_size": sum(split_bytes.values()),
            "dataset_size": sum(split_bytes.values()),
        },
    }


def member_description(member: str, cameras: Sequence[str]) -> str:
    render = RENDER.fullmatch(member)
    if render:
        k = int(member.removeprefix("render_").removesuffix(".png"))
        camera = f"the `{cameras[k]}` camera" if k < len(cameras) else "a fixed camera"
        return f"a render of the scene at rest from {camera} (PNG)"
    return MEMBERS.get(member, "")


def dataset_card(
    manifest: DatasetManifest,
    rows: list[IndexRow],
    license_id: str,
    pictures: list[str],
    members: Sequence[str] = (),
    cameras: Sequence[str] = (),
    leaderboard: Mapping[str, Any] | None = None,
) -> str:
    """The card, from the release's manifest and index rows: `members` are the files a sample
    holds (`scenario.json`, `render_0.png`, ...), `cameras` the camera of each render,
    `leaderboard` the baselines' results (`leaderboard.json`) when the release has them."""
    splits = sorted({r.split.value for r in rows})
    members = list(members) or list(MEMBERS)
    prompts = {p.family: p.prompt for p in manifest.partitions}
    family_split = {r.family: r.split.value for r in rows}
    per_family = Counter(r.family for r in rows)
    stages = manifest.counts["stages"]
    generated = stages.get("generated", 0) or 1
    example = "test" if "test" in splits else splits[0]  # the split the loading examples use
    header = card_header(manifest, splits, license_id, members)
    families = []
    for family in sorted(per_family):
        diversity = manifest.diversity.get(family)
        families.append(
            {
                "family": family,
                "split": family_split[family],
                "scenarios": per_family[family],
                "description": prompts.get(family, ""),
                "unique_geometries": diversity.unique_geometries if diversity else "",
                "near_duplicates": diversity.near_duplicates if diversity else "",
            }
        )
    return TEMPLATE.render(
        header=yaml.safe_dump(header, sort_keys=False).rstrip(),
        name=manifest.name,
        version=manifest.version,
        total=len(rows),
        families=families,
        pictures=pictures,
        stages=[
            {"stage": s, "passed": stages.get(s, 0), "rate": f"{stages.get(s, 0) / generated:.1%}"}
            for s in REPORTED_STAGES
            if s in stages
        ],
        members=[{"member": m, "description": member_description(m, cameras)} for m in members],
        example=example,
        brace_pattern=_brace_pattern(manifest, example),
        versions=", ".join(f"{k} {v}" for k, v in sorted(manifest.code_versions.items())),
        partitions=manifest.partitions,
        limitations=LIMITATIONS,
        leaderboard=leaderboard_section(leaderboard),
        difficulty=difficulty_rows(manifest, rows),
        tiers=TIERS,
        baseline=BASELINE,
        kinematic_baseline=KINEMATIC_BASELINE,
        actuator_base_cost=ACTUATOR_BASE_COST,
        actuator_cost_per_newton=ACTUATOR_COST_PER_NEWTON,
        max_trials=MAX_TRIALS,
        trivial_low95=f"{TRIVIAL_LOW95:.0%}",
        fragile_low95=f"{FRAGILE_LOW95:.0%}",
    )


def difficulty_rows(manifest: DatasetManifest, rows: list[IndexRow]) -> list[dict[str, object]]:
    """The card's difficulty table: per family, the tier mix, the median random solve rate,
    the scenarios rejected as trivial and the reference's certificate."""
    return [
        {
            "family": f.family,
            "tiers": [f.tiers[t] for t in TIERS],
            "median_rate": f"{f.median_rate:.1%}",
            "trivial": f.trivial_rejected,
            "certificate": f"{f.certificate_successes}/{f.certificate_trials}",
            "certificate_low95": f"{f.certificate_low95:.0%}",
            "fragile": len(f.fragile),
        }
        for f in by_family(flat_rows(rows), manifest.partitions)
        if f.rates or f.trivial_rejected
    ]
