"""`benchgen inspect`: a released dataset at a glance, as rich tables in the terminal."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from benchgen_dagster.dataset.tiers import TIERS, by_family
from benchgen_dagster.schema.contract import REPORTED_STAGES, DatasetManifest
from benchgen_dagster.validation.difficulty import FRAGILE_LOW95

WIDTH = 132


def print_summary(
    manifest: DatasetManifest, rows: list[dict[str, object]], console: Console | None = None
) -> None:
    console = console or Console(width=WIDTH)
    size = sum(s.bytes for s in manifest.shards) / 1e6
    total = sum(manifest.counts["splits"].values())
    console.print(
        f"[bold]{manifest.name}[/bold] {manifest.version}: {total} scenarios in "
        f"{len(manifest.shards)} shards, {size:.1f} MB (created {manifest.created_at})"
    )
    console.print("splits: " + ", ".join(f"{k} {v}" for k, v in manifest.counts["splits"].items()))
    console.print(funnel_table(manifest))
    console.print(family_table(manifest, rows))
    console.print(difficulty_table(manifest, rows))
    fragile = [f for f in by_family(rows, manifest.partitions) if f.fragile]
    if fragile:
        console.print(
            "fragile references (certificate lower bound below "
            f"{FRAGILE_LOW95:.0%}): " + ", ".join(f"{f.family} ({len(f.fragile)})" for f in fragile)
        )


def funnel_table(manifest: DatasetManifest) -> Table:
    stages = manifest.counts["stages"]
    generated = stages.get("generated") or 1
    table = Table(title="Validation funnel", title_justify="left")
    table.add_column("stage")
    table.add_column("passed", justify="right")
    table.add_column("rate", justify="right")
    for stage in REPORTED_STAGES:
        if stage in stages:
            table.add_row(stage, str(stages[stage]), f"{stages[stage] / generated:.1%}")
    return table


def family_table(manifest: DatasetManifest, rows: list[dict[str, object]]) -> Table:
    """Per family: what was tried and packaged, robustness, and how varied the variants are.
    A family may have several partitions (requests); its counts are theirs together."""
    tried: Counter[str] = Counter()
    for partition in manifest.partitions:
        tried[partition.family] += partition.funnel.get("generated", 0)
    table = Table(title="Families", title_justify="left")
    for column in ("family", "split"):
        table.add_column(column)
    for column in ("tried", "packaged", "robust", "geometries", "near-dup", "goal x std m"):
        table.add_column(column, justify="right")
    table.add_column("to goal m", justify="right")
    table.add_column("drop m", justify="right")
    for family, diversity in manifest.diversity.items():
        if family == "all":
            continue
        mine = [r for r in rows if r["family"] == family]
        successes = int(sum(float(r.get("robust.successes") or 0) for r in mine))
        trials = int(sum(float(r.get("robust.trials") or 0) for r in mine))
        spreads = diversity.spreads
        distance, drop = spreads["distance_to_goal_m"], spreads["height_change_m"]
        table.add_row(
            family,
            str(mine[0]["split"]) if mine else "",
            str(tried.get(family, 0)),
            str(len(mine)),
            f"{successes}/{trials}",
            str(diversity.unique_geometries),
            str(diversity.near_duplicates),
            f"{spreads['goal_x_m'].std:.3f}",
            f"{distance.min:.2f}–{distance.max:.2f}",
            f"{drop.min:.2f}–{drop.max:.2f}",
        )
    return table


def difficulty_table(manifest: DatasetManifest, rows: list[dict[str, object]]) -> Table:
    """Per family: the tier mix, the median random solve rate, what was rejected as trivial,
    and the reference's certificate over perturbed starts."""
    table = Table(title="Difficulty", title_justify="left")
    table.add_column("family")
    for column in (*TIERS, "median rate", "trivial", "certificate", "low95", "fragile"):
        table.add_column(column, justify="right")
    for family in by_family(rows, manifest.partitions):
        table.add_row(
            family.family,
            *(str(family.tiers[tier]) for tier in TIERS),
            f"{family.median_rate:.1%}",
            str(family.trivial_rejected),
            f"{family.certificate_successes}/{family.certificate_trials}",
            f"{family.certificate_low95:.0%}",
            str(len(family.fragile)),
        )
    return table
