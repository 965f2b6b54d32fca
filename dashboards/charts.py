"""The shape every dashboard chart is served in, and the palette it is drawn with.

A chart payload is JSON for Chart.js 4 (`type`, `data`, `options`) plus what a reader needs
besides the picture: a title, a sentence saying what it shows, when it was computed, notes
(suppressed cells, too few outcomes, synthetic models) and a `table` with the same figures for
screen readers and for anyone who prefers numbers. static/js/dashboards.js draws both.
"""

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common form of colour
# blindness. Black is left out (axes and text); the order puts the most distinct colours first.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black, the eighth series only
)
# Risk bands keep the same colours on every chart: low blue, moderate orange, high vermillion.
BAND_COLOURS = {"low": PALETTE[0], "moderate": PALETTE[1], "high": PALETTE[3]}
# Chart.js also varies dashes and point shapes, so that series differ without colour.
DASHES: tuple[list[int], ...] = ([], [6, 4], [2, 3], [10, 3, 2, 3])
POINT_STYLES = ("circle", "triangle", "rect", "rectRot", "star", "crossRot", "rectRounded", "line")


def palette_colours() -> Iterator[tuple[int, int, int]]:
    """The palette as RGB triples, cycling (django-chartjs's get_colors() contract)."""
    while True:
        for hex_colour in PALETTE:
            yield tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[misc]


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def series_style(index: int, *, fill: bool = False) -> dict[str, Any]:
    """Chart.js dataset options for the index-th series: palette colour, dash and point shape."""
    c = colour(index)
    return {
        "borderColor": c,
        "backgroundColor": c if fill else c + "33",
        "pointBackgroundColor": c,
        "pointStyle": POINT_STYLES[index % len(POINT_STYLES)],
        "borderDash": DASHES[index % len(DASHES)],
    }


@dataclass
class Table:
    """The chart's figures as a table: `columns` are headers, `rows` lists of cells (str or
    numbers; None shows as a dash)."""

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"caption": self.caption, "columns": self.columns, "rows": self.rows}


@dataclass
class Chart:
    """One chart: Chart.js config plus its words and its table. `empty` says there is nothing to
    draw yet (and `empty_text` why): the page shows the sentence instead of a blank canvas."""

    type: str
    title: str
    description: str
    labels: Sequence[Any] = ()
    datasets: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    table: Table | None = None
    notes: list[str] = field(default_factory=list)
    computed_at: dt.datetime | None = None
    empty_text: str = ""

    @property
    def empty(self) -> bool:
        return not any(d.get("data") for d in self.datasets)

    def as_json(self) -> dict[str, Any]:
        computed = self.computed_at or timezone.now()
        return {
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "data": {"labels": list(self.labels), "datasets": self.datasets},
            "options": self.options,
            "table": self.table.as_json() if self.table else None,
            "notes": self.notes,
            "computed_at": computed.isoformat(timespec="seconds"),
            "empty": self.empty,
            "empty_text": self.empty_text or "Nothing to show yet.",
        }


def axis(
    title: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    stacked: bool = False,
    percent: bool = False,
) -> dict[str, Any]:
    """A Chart.js linear/category axis with a title (and optional bounds)."""
    scale: dict[str, Any] = {"title": {"display": True, "text": title}, "stacked": stacked}
    if minimum is not None:
        scale["min"] = minimum
    if maximum is not None:
        scale["max"] = maximum
    if percent:
        scale["ticks"] = {"format": {"style": "percent"}}
    return scale


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)
