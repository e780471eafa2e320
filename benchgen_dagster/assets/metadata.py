"""How the funnel and lineage appear in the Dagster UI."""

from collections import Counter

from dagster import MetadataValue

from benchgen_dagster.schema.contract import FUNNEL, Diversity, ValidationReport, stage_counts


def funnel_metadata(reports: list[ValidationReport]) -> dict[str, object]:
    """Pass counts and rates per stage, and a table of rejection reasons."""
    counts = stage_counts(reports)
    generated = counts["generated"] or 1
    metadata: dict[str, object] = {"generated": counts["generated"]}
    for stage in FUNNEL:
        if stage.value in counts:
            metadata[f"passed_{stage.value}"] = counts[stage.value]
    accepted = sum(r.accepted for r in reports)
    metadata["accepted"] = accepted
    metadata["pass_rate"] = MetadataValue.float(round(accepted / generated, 4))
    reasons = Counter(
        (r.rejection.stage.value, r.rejection.reason.value)
        for r in reports
        if r.rejection and r.rejection.reason
    )
    rows = [f"| {stage} | `{reason}` | {n} |" for (stage, reason), n in reasons.most_common()]
    table = "\n".join(["| stage | reason | variants |", "|---|---|---|", *rows])
    metadata["rejections"] = MetadataValue.md(table if rows else "No rejections.")
    return metadata


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
