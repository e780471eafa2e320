"""Pictures of a release: a contact sheet of renders, one row per family, and plots of the
funnel, the diversity and the difficulty. Same data, same bytes (no timestamps)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from benchgen_dagster.dataset.members import FILMSTRIP_FRAMES
from benchgen_dagster.schema.contract import REPORTED_STAGES, IndexRow

THUMB = (192, 144)
LABEL_WIDTH = 150  # at least; wider when a family's name needs it
LABEL_PADDING = 12
LABEL_SIZE = 24  # pixels: legible when the sheet is shown at half its width
PER_FAMILY = 6


@cache
def label_font(size: int = LABEL_SIZE) -> ImageFont.FreeTypeFont:
    """DejaVu Sans, the TrueType font matplotlib ships: the same on every machine."""
    import matplotlib

    return ImageFont.truetype(
        str(Path(matplotlib.get_data_path(), "fonts/ttf/DejaVuSans.ttf")), size
    )


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def shrink_png(data: bytes, width: int) -> bytes:
    image = Image.open(io.BytesIO(data))
    height = round(image.height * width / image.width)
    return _png(image.convert("RGB").resize((width, height)))


def filmstrip_frames(filmstrip: bytes, frames: int = FILMSTRIP_FRAMES) -> list[bytes]:
    """The frames of a filmstrip (views side by side), each as a PNG."""
    image = Image.open(io.BytesIO(filmstrip)).convert("RGB")
    width = image.width // frames
    return [_png(image.crop((k * width, 0, (k + 1) * width, image.height))) for k in range(frames)]


def contact_sheet(renders: Mapping[str, Sequence[bytes]], per_family: int = PER_FAMILY) -> bytes:
    """A grid: a row per family (sorted), its name, then its first `per_family` renders."""
    families = sorted(renders)
    font = label_font()
    label_width = max(
        [LABEL_WIDTH, *(round(font.getlength(f)) + 2 * LABEL_PADDING for f in families)]
    )
    width = label_width + per_family * THUMB[0]
    sheet = Image.new("RGB", (width, max(1, len(families)) * THUMB[1]), "white")
    draw = ImageDraw.Draw(sheet)
    for row, family in enumerate(families):
        top = row * THUMB[1]
        draw.text(
            (LABEL_PADDING, top + THUMB[1] // 2), family, fill="black", font=font, anchor="lm"
        )
        for column, data in enumerate(renders[family][:per_family]):
            thumb = Image.open(io.BytesIO(data)).convert("RGB").resize(THUMB)
            sheet.paste(thumb, (label_width + column * THUMB[0], top))
    return _png(sheet)


def _figure_png(figure) -> bytes:  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def funnel_plot(stages: Mapping[str, int]) -> bytes:
    """The share of generated variants that passed each stage."""
    plt = _pyplot()
    order = [s for s in REPORTED_STAGES if s in stages]
    generated = stages.get("generated") or 1
    figure, axes = plt.subplots(figsize=(8, 3.5))
    axes.bar(order, [100 * stages[s] / generated for s in order], color="#3a7bd5")
    axes.set_ylabel("% of generated variants")
    axes.set_ylim(0, 105)
    axes.set_title("Validation funnel")
    axes.tick_params(axis="x", rotation=30)
    figure.tight_layout()
    return _figure_png(figure)


def diversity_plot(rows: Sequence[IndexRow]) -> bytes:
    """Goal positions relative to the payload's start, per family, and payload sizes."""
    plt = _pyplot()
    figure, (placement, sizes) = plt.subplots(1, 2, figsize=(11, 4.5))
    families = sorted({r.family for r in rows})
    for family in families:
        mine = [r.measurements for r in rows if r.family == family]
        placement.scatter(
            [m["goal_x_m"] - m["start_x_m"] for m in mine],
            [m["goal_y_m"] - m["start_y_m"] for m in mine],
            s=12,
            label=family,
        )
    placement.set_xlabel("goal − start, x (m)")
    placement.set_ylabel("goal − start, y (m)")
    placement.set_title("Where the goal lies")
    placement.legend(fontsize=6, ncol=2)
    sizes.boxplot(
        [
            [r.measurements["payload_radius_m"] * 1000 for r in rows if r.family == f]
            for f in families
        ]
    )
    sizes.set_xticks(range(1, len(families) + 1), families, rotation=60, fontsize=7)
    sizes.set_ylabel("payload bounding radius (mm)")
    sizes.set_title("Payload size")
    figure.tight_layout()
    return _figure_png(figure)


TIER_COLORS = {"easy": "#8cc63f", "medium": "#f2b134", "hard": "#e5683a", "very_hard": "#8e2c48"}


def difficulty_plot(rows: Sequence[IndexRow]) -> bytes:
    """Per family: the tier mix, and each scenario's random solve rate with its 95% Wilson
    interval."""
    from benchgen_dagster.dataset.tiers import TIERS, by_family, flat_rows

    plt = _pyplot()
    summary = by_family(flat_rows(rows))
    families = [f.family for f in summary]
    figure, (mix, rates) = plt.subplots(1, 2, figsize=(12, 4.5))
    bottom = [0] * len(summary)
    for tier in TIERS:
        counts = [f.tiers[tier] for f in summary]
        mix.bar(families, counts, bottom=bottom, label=tier, color=TIER_COLORS[tier])
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    mix.set_ylabel("scenarios")
    mix.set_title("Difficulty tiers per family")
    mix.tick_params(axis="x", rotation=60, labelsize=7)
    mix.legend(fontsize=7)
    for position, family in enumerate(families):
        mine = sorted(
            (r for r in rows if r.family == family and r.random_solve_rate is not None),
            key=lambda r: r.scenario_id,
        )
        for offset, row in enumerate(mine):
            x = position + (offset + 0.5) / max(len(mine), 1) * 0.7 - 0.35
            low, high = row.random_solve_low95 or 0.0, row.random_solve_high95 or 0.0
            rate = row.random_solve_rate or 0.0
            rates.errorbar(
                x,
                100 * rate,
                yerr=[[100 * (rate - low)], [100 * (high - rate)]],
                fmt="o",
                markersize=3,
                elinewidth=0.6,
                color=TIER_COLORS.get(row.difficulty_tier or "", "#555555"),
            )
    rates.axhline(10, color="black", linestyle="--", linewidth=0.8)
    rates.set_xticks(range(len(families)), families, rotation=60, fontsize=7)
    rates.set_ylabel("random solve rate (%), 95% interval")
    rates.set_title("Random-design solve rates (dashed: trivial lower bound)")
    figure.tight_layout()
    return _figure_png(figure)
