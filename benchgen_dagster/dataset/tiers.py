"""A release's difficulty per family: the tier mix, random solve rates, the scenarios rejected
as trivial, and the reference solution's certificate (16 perturbed starts) with the scenarios
whose reference is fragile under it. The card, the plots and `benchgen inspect` read it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median

from benchgen_dagster.schema.contract import IndexRow, PartitionLineage
from benchgen_dagster.validation.difficulty import FRAGILE_LOW95, TIER_BANDS, TRIVIAL_LOW95, wilson

TIERS = tuple(tier for tier, _, _ in reversed(TIER_BANDS))  # easy first


@dataclass
class FamilyDifficulty:
    family: str
    tiers: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIERS, 0))
    rates: list[float] = field(default_factory=list)
    trivial_rejected: int = 0
    certificate_successes: int = 0
    certificate_trials: int = 0
    fragile: list[str] = field(default_factory=list)

    @property
    def median_rate(self) -> float:
        return median(self.rates) if self.rates else 0.0

    @property
    def certificate_low95(self) -> float:
        return wilson(self.certificate_successes, self.certificate_trials)[0]


def flat_rows(rows: Iterable[IndexRow]) -> list[dict[str, object]]:
    """Index rows as index.parquet holds them: columns and measurements side by side."""
    return [{**r.model_dump(mode="json", exclude={"measurements"}), **r.measurements} for r in rows]


def by_family(
    rows: Sequence[Mapping[str, object]], partitions: Sequence[PartitionLineage] = ()
) -> list[FamilyDifficulty]:
    """Per family, sorted by name, from flat index rows and the partitions' funnel counts."""
    families: dict[str, FamilyDifficulty] = {}
    for row in rows:
        family = str(row["family"])
        entry = families.setdefault(family, FamilyDifficulty(family))
        tier = row.get("difficulty_tier")
        if tier in entry.tiers:
            entry.tiers[str(tier)] += 1
        rate = row.get("random_solve_rate")
        if rate is not None:
            entry.rates.append(float(rate))  # type: ignore[arg-type]
        trials = row.get("robust.certificate_trials")
        if trials is not None:
            entry.certificate_successes += int(float(row["robust.certificate_successes"]))  # type: ignore[arg-type]
            entry.certificate_trials += int(float(trials))  # type: ignore[arg-type]
            if float(row["robust.certificate_low95"]) < FRAGILE_LOW95:  # type: ignore[arg-type]
                entry.fragile.append(str(row["scenario_id"]))
    for partition in partitions:
        entry = families.setdefault(partition.family, FamilyDifficulty(partition.family))
        funnel = partition.funnel
        if "difficulty" in funnel:
            entry.trivial_rejected += funnel.get("robust", 0) - funnel["difficulty"]
    return [families[name] for name in sorted(families)]


def tier_problems(rows: Iterable[IndexRow]) -> list[str]:
    """What is wrong with a release's difficulty: a packaged scenario without a tier, or one
    random designs solve often (trivial). Empty when the tier mix is sound."""
    problems = []
    for row in rows:
        if row.difficulty_tier is None or row.random_solve_low95 is None:
            problems.append(f"{row.scenario_id} has no difficulty tier")
        elif row.random_solve_low95 >= TRIVIAL_LOW95:
            problems.append(
                f"{row.scenario_id} is trivial (random solve rate lower bound "
                f"{row.random_solve_low95:.1%})"
            )
    return problems


def release_tier_mix(rows: Iterable[IndexRow]) -> dict[str, dict[str, int]]:
    """The tier counts per family, and of the whole release under `all`."""
    mix: dict[str, dict[str, int]] = {"all": dict.fromkeys(TIERS, 0)}
    for row in rows:
        family = mix.setdefault(row.family, dict.fromkeys(TIERS, 0))
        if row.difficulty_tier in family:
            family[row.difficulty_tier] += 1
            mix["all"][row.difficulty_tier] += 1
    return dict(sorted(mix.items()))
