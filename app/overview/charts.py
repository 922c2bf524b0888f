"""The charts' geometry, computed on the server: the templates draw it as inline SVG (no
script, no CDN), and every chart has its figures in a table beside it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate

# The curve's drawing box, in SVG user units (the SVG scales to the page's width).
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 32


@dataclass(frozen=True)
class Bar:
    series: str  # "target", "committed", "disbursed": the CSS class that colours it
    value: Decimal | None
    percent: float  # of the widest bar of the chart, 0–100


def bars(values: dict[str, Decimal | None], widest: Decimal) -> list[Bar]:
    """One row of a bar chart: each series' bar as a share of the chart's widest value."""
    return [
        Bar(series, value, 0.0 if not value or not widest else float(value / widest * 100))
        for series, value in values.items()
    ]


@dataclass(frozen=True)
class Curve:
    years: list[int]
    lines: dict[str, str]  # series -> the polyline's points
    cumulative: dict[str, list[Decimal]]
    x: list[float]  # each year's abscissa
    top: Decimal  # the value at the top of the box


def curve(years: list[int], series: dict[str, list[Decimal]]) -> Curve:
    """Cumulative sums year after year, one line per series, in one shared scale."""
    cumulative = {name: list(accumulate(values)) for name, values in series.items()}
    top = max((v for values in cumulative.values() for v in values), default=Decimal(0))
    span = max(len(years) - 1, 1)
    x = [LEFT + (WIDTH - LEFT - RIGHT) * i / span for i in range(len(years))]

    def y(value: Decimal) -> float:
        inner = HEIGHT - TOP - BOTTOM
        return HEIGHT - BOTTOM - (float(value / top) * inner if top else 0.0)

    lines = {
        name: " ".join(f"{xi:.1f},{y(v):.1f}" for xi, v in zip(x, values, strict=True))
        for name, values in cumulative.items()
    }
    return Curve(years, lines, cumulative, x, top)
