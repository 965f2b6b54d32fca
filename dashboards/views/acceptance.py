"""The recommendation acceptance dashboard: per guideline rule, how many of its recommendations
were accepted and declined (portal decisions, the latest per recommendation, and CDS Hooks
feedback), over the past 30, 90 or 365 days or all time, with the commonest decline reasons.

The figures are counts per rule over every patient and identify nobody; researchers get no count
under 5 (dashboards.privacy.suppress_small_cells).
"""

import datetime as dt
from collections.abc import Hashable, Sequence
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone

from accounts.models import Role, User
from dashboards.charts import Chart, Table, axis, series_style
from dashboards.privacy import SMALL_CELL, SUPPRESSED_NOTE, Sum, suppress_small_cells
from dashboards.views.base import ChartView, user_is_researcher
from dashboards.views.tabs import dashboard_tabs
from recommendations.selectors import acceptance_rates, decline_reason_labels

ROLES = frozenset({Role.CLINICIAN, Role.RESEARCHER, Role.ADMIN})
PERIODS = {"30": 30, "90": 90, "365": 365, "all": None}
PERIOD_WORDS = {"30": "30 days", "90": "90 days", "365": "year", "all": ""}
DEFAULT_PERIOD = "90"
# Rules drawn on the chart (the canvas has room for about this many bars); the table lists all.
CHART_RULES = 12
TOP_REASONS = 3
LABEL_CHARS = 42
REASON_LABELS = dict(decline_reason_labels())


def period_from(request: HttpRequest) -> str:
    """The `?days=` of the request (30, 90, 365 or all; 90 when absent); ValueError otherwise."""
    days = request.GET.get("days") or DEFAULT_PERIOD
    if days not in PERIODS:
        raise ValueError("days must be one of 30, 90, 365 or all.")
    return days


def period_phrase(days: str) -> str:
    return "since records began" if PERIODS[days] is None else f"in the past {PERIOD_WORDS[days]}"


def reason_label(code: str) -> str:
    if code == "unspecified":
        return "No reason given"
    return REASON_LABELS.get(code, code.replace("_", " ").capitalize())


def _short(title: str) -> str:
    return title if len(title) <= LABEL_CHARS else title[: LABEL_CHARS - 1].rstrip() + "…"


def _suppressed(rows: Sequence[dict[str, Any]]) -> dict[Hashable, int | None]:
    """Every count of `rows` keyed ("n"|"acc"|"dec", rule) / ("reason", rule, code), with the
    all-rules totals, small ones suppressed for researchers."""
    values: dict[Hashable, int] = {}
    sums: list[Sum] = []
    for row in rows:
        rule = row["rule_id"]
        values[("n", rule)] = row["decided"]
        values[("acc", rule)] = row["accepted"]
        values[("dec", rule)] = row["declined"]
        sums.append(([("acc", rule), ("dec", rule)], ("n", rule), False))
        reasons = [("reason", rule, code) for code in row["reasons"]]
        for key in reasons:
            values[key] = row["reasons"][key[2]]
        sums.append((reasons, ("dec", rule), False))
    for kind in ("n", "acc", "dec"):
        values[(kind, "*")] = sum(values[(kind, row["rule_id"])] for row in rows)
        sums.append(([(kind, row["rule_id"]) for row in rows], (kind, "*"), True))
    sums.append(([("acc", "*"), ("dec", "*")], ("n", "*"), True))
    return suppress_small_cells(values, sums, minimum=SMALL_CELL)


def _rate(accepted: int | None, decided: int | None) -> float | None:
    if accepted is None or not decided:
        return None
    return round(100 * accepted / decided, 1)


def _reasons_text(row: dict[str, Any], figures: dict[Hashable, int | None]) -> str:
    rule = row["rule_id"]
    ranked = sorted(row["reasons"], key=lambda code: (-row["reasons"][code], code))
    parts = []
    for code in ranked[:TOP_REASONS]:
        n = figures[("reason", rule, code)]
        parts.append(f"{reason_label(code)} ({n if n is not None else 'fewer than 5'})")
    return "; ".join(parts)


class AcceptanceChart(ChartView):
    """data/recommendations/acceptance/?days=30|90|365|all: accepted and declined per rule."""

    roles = ROLES

    def cache_scope(self) -> str | None:
        # The same counts for everyone; researchers get them with small cells suppressed.
        return "researcher" if user_is_researcher(self.user) else "everyone"

    def chart(self) -> Chart:
        days = period_from(self.request)
        span = PERIODS[days]
        since = None if span is None else timezone.now() - dt.timedelta(days=span)
        researcher = user_is_researcher(self.user)
        rates = acceptance_rates(since=since)
        decided = sorted(
            (row for row in rates if row["decided"]),
            key=lambda row: (-row["decided"], row["title"]),
        )
        figures: dict[Hashable, int | None]
        if researcher:
            figures = _suppressed(decided)
        else:
            figures = {}
            for row in decided:
                rule = row["rule_id"]
                figures[("n", rule)] = row["decided"]
                figures[("acc", rule)] = row["accepted"]
                figures[("dec", rule)] = row["declined"]
                for code, n in row["reasons"].items():
                    figures[("reason", rule, code)] = n
            for kind, key in (("n", "decided"), ("acc", "accepted"), ("dec", "declined")):
                figures[(kind, "*")] = sum(row[key] for row in decided)

        drawn = decided[:CHART_RULES]
        datasets = [
            {
                "label": label,
                "data": [figures[(kind, row["rule_id"])] for row in drawn],
                **series_style(index, fill=True),
                "borderWidth": 1,
            }
            for index, (kind, label) in enumerate((("acc", "Accepted"), ("dec", "Declined")))
        ]
        table_rows: list[list[Any]] = []
        for row in decided:
            rule = row["rule_id"]
            n, acc = figures[("n", rule)], figures[("acc", rule)]
            dec = figures[("dec", rule)]
            table_rows.append(
                [row["title"], n, acc, dec, _rate(acc, n), _reasons_text(row, figures)]
            )
        if decided:
            n, acc = figures[("n", "*")], figures[("acc", "*")]
            table_rows.append(["All rules", n, acc, figures[("dec", "*")], _rate(acc, n), ""])

        notes = []
        if researcher and any(v is None for v in figures.values()):
            notes.append(SUPPRESSED_NOTE)
        if len(decided) > CHART_RULES:
            notes.append(
                f"The chart shows the {CHART_RULES} rules decided most often; the table lists "
                f"all {len(decided)}."
            )
        idle = len(rates) - len(decided)
        if idle:
            notes.append(f"{idle} rules had no decision {period_phrase(days)}.")
        notes.append(
            "A recommendation counts once, by its latest decision; CDS Hooks feedback counts once "
            "per card."
        )
        return Chart(
            type="bar",
            title="Recommendation acceptance per rule",
            description=(
                "Accepted and declined recommendations of each guideline rule "
                f"{period_phrase(days)}, over all patients (portal decisions and CDS Hooks "
                "feedback)."
            ),
            labels=[_short(row["title"]) for row in drawn],
            datasets=datasets if decided else [{**d, "data": []} for d in datasets],
            options={
                "indexAxis": "y",
                "scales": {
                    "x": axis("Decisions", minimum=0, stacked=True),
                    "y": {**axis("Rule", stacked=True), "ticks": {"autoSkip": False}},
                },
                "plugins": {"tooltip": {"mode": "index", "intersect": False}},
            },
            table=Table(
                columns=[
                    "Rule",
                    "Decided",
                    "Accepted",
                    "Declined",
                    "Acceptance rate (%)",
                    "Top decline reasons",
                ],
                rows=table_rows,
                caption=f"Decisions per rule {period_phrase(days)}.",
            ),
            notes=notes,
            empty_text=f"No recommendation was accepted or declined {period_phrase(days)}.",
        )


@login_required
def acceptance(request: HttpRequest) -> HttpResponse:
    """The acceptance dashboard (`?days=30|90|365|all`): clinicians, researchers, admins."""
    user = request.user
    assert isinstance(user, User)
    if user.role not in ROLES and not user.is_portal_admin:
        raise PermissionDenied("Recommendation acceptance is shown to clinicians and researchers.")
    try:
        days = period_from(request)
    except ValueError:
        days = DEFAULT_PERIOD
    periods = [
        {
            "key": key,
            "label": "All time" if PERIODS[key] is None else f"{PERIODS[key]} days",
            "url": f"?days={key}",
            "current": key == days,
        }
        for key in PERIODS
    ]
    context = {
        "dashboard_tabs": dashboard_tabs(user, "dashboards:acceptance"),
        "periods": periods,
        "period_phrase": period_phrase(days),
        "chart_url": reverse("dashboards:data_acceptance") + f"?days={days}",
        "researcher": user_is_researcher(user),
    }
    return render(request, "dashboards/acceptance.html", context)


urlpatterns = [
    path("recommendations/", acceptance, name="acceptance"),
    path(
        "data/recommendations/acceptance/",
        AcceptanceChart.as_view(),
        name="data_acceptance",
    ),
]
