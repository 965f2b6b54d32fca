"""Imaging operations: is the analysis queue keeping up? For radiologists and administrators.

The page shows the queue now (queued, running, the oldest wait, failures in 24 hours, workers
alive from their heartbeats) and three charts: throughput per hour, time from upload to result
(p50/p95) per hour, and failures by reason over 7 days. Every figure is an aggregate over all the
portal's studies (the queue is shared by every care team): counts and durations, never a patient,
so nothing here is PHI. The charts are cached for 15 seconds, shared by everyone allowed.
"""

import datetime as dt
from typing import Any, ClassVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils import timezone

from accounts.models import Role, User
from dashboards.charts import PALETTE, Chart, Table, axis, series_style
from dashboards.views.base import ChartView
from dashboards.views.tabs import dashboard_tabs
from imaging.selectors import (
    ops_alive_window_s,
    ops_failures_by_code,
    ops_hours,
    ops_latency_by_hour,
    ops_queue_summary,
    ops_throughput_by_hour,
    ops_workers,
)

OPS_ROLES = frozenset({Role.RADIOLOGIST, Role.ADMIN})
HOURS = 24
FAILURE_DAYS = 7
# Submitted blue, done bluish green, failed vermillion: the same on every imaging chart.
STATE_COLOURS = {"submitted": PALETTE[0], "done": PALETTE[2], "failed": PALETTE[3]}
WORKER_BADGES = {"alive": "badge-ok", "stopped": "", "silent": "badge-danger"}


def _hour_label(hour: dt.datetime, first: bool) -> str:
    """ "14:00", with the date at the first hour and at midnight ("9 Mar 00:00")."""
    if first or hour.hour == 0:
        return f"{hour.day} {hour:%b %H:00}"
    return f"{hour:%H:00}"


def _hour_labels(hours: list[dt.datetime]) -> list[str]:
    return [_hour_label(hour, i == 0) for i, hour in enumerate(hours)]


def _when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class ImagingOpsChart(ChartView):
    """The imaging operations charts: radiologists and admins, one cache entry for all of them."""

    roles: ClassVar[frozenset[str]] = OPS_ROLES
    cache_seconds: ClassVar[int | None] = 15

    def cache_scope(self) -> str | None:
        return "all"  # the same portal-wide figures for everyone allowed to see them


class ThroughputChart(ImagingOpsChart):
    def chart(self) -> Chart:
        now = timezone.now()
        hours = ops_hours(now=now, hours=HOURS)
        counts = ops_throughput_by_hour(since=hours[0])
        series = (
            ("submitted", "Submitted"),
            ("done", "Done (result)"),
            ("failed", "Failed"),
        )
        total = sum(sum(counts[key].values()) for key, _ in series)
        datasets = []
        for i, (key, label) in enumerate(series):
            datasets.append(
                {
                    "label": label,
                    "data": [counts[key].get(hour, 0) for hour in hours] if total else [],
                    **series_style(i, fill=True),
                    "backgroundColor": STATE_COLOURS[key],
                    "borderColor": STATE_COLOURS[key],
                }
            )
        rows = [[_when(hour), *(counts[key].get(hour, 0) for key, _ in series)] for hour in hours]
        return Chart(
            type="bar",
            title="Throughput per hour",
            description=(
                f"Studies submitted (by upload time), analysed and failed (by finish time) in "
                f"each hour of the last {HOURS} hours, all care teams."
            ),
            labels=_hour_labels(hours),
            datasets=datasets,
            options={
                "scales": {
                    "x": axis("Hour (UTC)"),
                    "y": {**axis("Studies", minimum=0), "ticks": {"precision": 0}},
                },
            },
            table=Table(
                columns=["Hour starting", "Submitted", "Done", "Failed"],
                rows=rows,
                caption=f"Studies per hour, last {HOURS} hours (UTC).",
            ),
            notes=["The last hour is the current one, still filling."] if total else [],
            empty_text=f"No study was submitted or finished in the last {HOURS} hours.",
        )


class LatencyChart(ImagingOpsChart):
    def chart(self) -> Chart:
        now = timezone.now()
        hours = ops_hours(now=now, hours=HOURS)
        latency = ops_latency_by_hour(since=hours[0])
        datasets = []
        if latency:
            for i, (key, label) in enumerate((("p50", "Median (p50)"), ("p95", "p95"))):
                datasets.append(
                    {
                        "label": label,
                        "data": [latency.get(hour, {}).get(key) for hour in hours],
                        **series_style(i),
                        "pointRadius": 3,
                        "spanGaps": False,
                    }
                )
        rows = [
            [
                _when(hour),
                latency.get(hour, {}).get("n", 0),
                latency.get(hour, {}).get("p50"),
                latency.get(hour, {}).get("p95"),
            ]
            for hour in hours
        ]
        notes = []
        if latency:
            notes.append("Nearest-rank percentiles; an hour without a finished study has no point.")
        if any(figures["n"] < 20 for figures in latency.values()):
            notes.append(
                "In hours with fewer than 20 results the p95 is the slowest study or close to it."
            )
        return Chart(
            type="line",
            title="Time from upload to result",
            description=(
                f"Median and 95th percentile of the seconds between upload and result of the "
                f"studies analysed in each hour of the last {HOURS} hours, all care teams."
            ),
            labels=_hour_labels(hours),
            datasets=datasets,
            options={
                "scales": {"x": axis("Hour of the result (UTC)"), "y": axis("Seconds", minimum=0)},
            },
            table=Table(
                columns=["Hour starting", "Results", "p50 (s)", "p95 (s)"],
                rows=rows,
                caption="Seconds from upload to result per hour (DONE studies).",
            ),
            notes=notes,
            empty_text=f"No study was analysed in the last {HOURS} hours.",
        )


class FailuresChart(ImagingOpsChart):
    def chart(self) -> Chart:
        now = timezone.now()
        failures = ops_failures_by_code(since=now - dt.timedelta(days=FAILURE_DAYS))
        datasets = []
        if failures:
            datasets.append(
                {
                    "label": "Failed studies",
                    "data": [failure["n"] for failure in failures],
                    **series_style(0, fill=True),
                    "backgroundColor": STATE_COLOURS["failed"],
                    "borderColor": STATE_COLOURS["failed"],
                }
            )
        return Chart(
            type="bar",
            title=f"Failures in the last {FAILURE_DAYS} days",
            description=(
                f"Studies that ended FAILED in the last {FAILURE_DAYS} days, by reason, "
                "all care teams."
            ),
            labels=[failure["title"] for failure in failures],
            datasets=datasets,
            options={
                "indexAxis": "y",
                "scales": {
                    "x": {**axis("Studies", minimum=0), "ticks": {"precision": 0}},
                    "y": axis("Reason"),
                },
                "plugins": {"legend": {"display": False}},
            },
            table=Table(
                columns=["Reason", "Code", "Studies", "Last", "What the uploader was told"],
                rows=[
                    [f["title"], f["code"], f["n"], _when(f["last_at"]), f["reason"]]
                    for f in failures
                ],
                caption=f"Failed studies by failure code, last {FAILURE_DAYS} days.",
            ),
            notes=["Intake refusals at upload create no study and are not counted here."],
            empty_text=f"No study failed in the last {FAILURE_DAYS} days.",
        )


def _may_see(user: Any) -> bool:
    return isinstance(user, User) and (user.is_portal_admin or user.role in OPS_ROLES)


@login_required
def imaging_ops(request: HttpRequest) -> HttpResponse:
    """The imaging operations page: tiles, the workers table and the chart cards."""
    user = request.user
    if not _may_see(user):
        raise PermissionDenied("Imaging operations are for radiologists and administrators.")
    assert isinstance(user, User)
    now = timezone.now()
    summary = ops_queue_summary(now=now)
    oldest = summary["oldest_waiting_at"]
    workers = ops_workers(now=now)
    for worker in workers:
        worker["last_seen_text"] = _when(worker["last_seen_at"])
        worker["queues_text"] = ", ".join(worker["queues"]) or "—"
        worker["badge"] = WORKER_BADGES[worker["state"]]
    context = {
        "dashboard_tabs": dashboard_tabs(user, "dashboards:imaging_ops"),
        "summary": summary,
        "oldest_minutes": None if oldest is None else int((now - oldest).total_seconds() // 60),
        "workers": workers,
        "workers_alive": sum(1 for worker in workers if worker["state"] == "alive"),
        "alive_window_s": round(ops_alive_window_s()),
        "hours": HOURS,
        "failure_days": FAILURE_DAYS,
        "computed_at": _when(now),
    }
    return render(request, "dashboards/imaging_ops.html", context)


urlpatterns: list[URLPattern] = [
    path("imaging/", imaging_ops, name="imaging_ops"),
    path(
        "data/imaging/throughput/",
        ThroughputChart.as_view(),
        name="data_imaging_throughput",
    ),
    path("data/imaging/latency/", LatencyChart.as_view(), name="data_imaging_latency"),
    path("data/imaging/failures/", FailuresChart.as_view(), name="data_imaging_failures"),
]
