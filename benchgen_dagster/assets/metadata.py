"""How the funnel and lineage appear in the Dagster UI."""

from collections import Counter
from collections.abc import Mapping

from dagster import MetadataValue

from benchgen_dagster.schema.contract import (
    FUNNEL,
    REPORTED_STAGES,
    Diversity,
    Reason,
    Scenario,
    Stage,
    ValidationReport,
    stage_counts,
)
from benchgen_dagster.validation.difficulty import tier_mix

# What validated_simulations runs; the render stage is scenario_renders' and comes later.
VALIDATION_STAGES = [stage for stage in FUNNEL if stage is not Stage.render]


def funnel_metadata(reports: list[ValidationReport]) -> dict[str, object]:
    """Pass counts and rates per validation stage, also as a table in funnel order (the UI
    sorts the keys of a JSON value), and a table of rejection reasons."""
    counts = {k: v for k, v in stage_counts(reports).items() if k != Stage.render.value}
    generated = counts["generated"] or 1
    metadata: dict[str, object] = {"generated": counts["generated"]}
    for stage in VALIDATION_STAGES:
        metadata[f"passed_{stage.value}"] = counts[stage.value]
    accepted = sum(r.accepted for r in reports)
    metadata["accepted"] = accepted
    metadata["pass_rate"] = MetadataValue.float(round(accepted / generated, 4))
    metadata["funnel"] = funnel_table(counts)
    reasons = Counter(
        (r.rejection.stage.value, r.rejection.reason.value)
        for r in reports
        if r.rejection and r.rejection.reason
    )
    rows = [f"| {stage} | `{reason}` | {n} |" for (stage, reason), n in reasons.most_common()]
    table = "\n".join(["| stage | reason | variants |", "|---|---|---|", *rows])
    metadata["rejections"] = MetadataValue.md(table if rows else "No rejections.")
    return metadata


def funnel_table(counts: Mapping[str, int]) -> MetadataValue:
    """Counts per stage as a Markdown table, in funnel order: generated, each stage, packaged."""
    generated = counts.get("generated") or 1
    rows = [
        f"| {stage} | {counts[stage]} | {counts[stage] / generated:.1%} |"
        for stage in REPORTED_STAGES
        if stage in counts
    ]
    return MetadataValue.md("\n".join(["| stage | passed | rate |", "|---|---|---|", *rows]))


def diversity_metadata(diversity: Diversity) -> dict[str, object]:
    """Unique geometries, near-duplicates and a table of spreads."""
    rows = [
        f"| {name} | {s.min:.3f} | {s.max:.3f} | {s.std:.3f} |"
        for name, s in diversity.spreads.items()
    ]
    table = "\n".join(["| measure (m) | min | max | std |", "|---|---|---|---|", *rows])
    return {
        "unique_geometries": diversity.unique_geometries,
        "near_duplicates": diversity.near_duplicates,
        "diversity": MetadataValue.md(table if rows else "Nothing accepted."),
    }


def difficulty_metadata(
    scenarios: list[Scenario], reports: list[ValidationReport]
) -> dict[str, object]:
    """The difficulty stage in the UI: the tier mix of the accepted variants, how many were
    rejected as trivial, and each one's random solve rate with its interval."""
    tiers = tier_mix([s.difficulty.tier for s in scenarios if s.difficulty])
    trivial = sum(1 for r in reports if r.rejection and r.rejection.reason is Reason.trivial_random)
    rows = [
        f"| {s.scenario_id} | {d.tier} | {d.successes}/{d.trials} | {d.random_solve_rate:.1%} "
        f"| {d.random_solve_low95:.1%}–{d.random_solve_high95:.1%} |"
        for s in scenarios
        if (d := s.difficulty)
    ]
    table = "\n".join(
        ["| scenario | tier | solved | rate | 95% interval |", "|---|---|---|---|---|", *rows]
    )
    return {
        "rejected_trivial_random": trivial,
        "tier_mix": MetadataValue.json(tiers),
        **{f"tier_{tier}": n for tier, n in tiers.items()},
        "difficulty": MetadataValue.md(table if rows else "Nothing accepted."),
    }
