"""The clinician home (/dashboards/home/): my care teams' patients at high risk, the studies
waiting and recently finished, the recommendations awaiting my decision, and two charts (my
patients by risk band per disease; studies per day). Every figure is over the patients the user
may see (patients.selectors.patients_visible_to); researchers are sent to the population page.
"""

import datetime as dt
import textwrap
from typing import Any, ClassVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.audit import audit_request
from accounts.decorators import AuthedRequest
from accounts.models import AuditAction
from dashboards.charts import BAND_COLOURS, Chart, Table, axis, colour
from dashboards.views.base import CARE_ROLES, ChartView, user_is_researcher
from dashboards.views.tabs import dashboard_tabs
from imaging.selectors import (
    studies_finished_for_user,
    studies_per_day_for_user,
    studies_summary_for_user,
    studies_waiting_for_user,
    study_title,
)
from patients.selectors import patients_visible_count
from prediction.models import RiskBand
from prediction.selectors import (
    disease_title,
    high_risk_latest_for_user,
    high_risk_patient_count_for_user,
    model_versions_active,
    risk_band_counts_for_user,
)
from recommendations.selectors import URGENCY_WORDS, recommendations_awaiting, user_may_decide

STUDY_ROWS = 10
RECOMMENDATION_ROWS = 10
FINISHED_DAYS = 7
STUDY_CHART_DAYS = 14
BANDS = (RiskBand.LOW, RiskBand.MODERATE, RiskBand.HIGH)


# --- the page ---------------------------------------------------------------------------------


def _person(patient: Any) -> str:
    return f"{patient.given_name} {patient.family_name}".strip()


@login_required
@require_GET
def home(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if user_is_researcher(user):
        return redirect("dashboards:population")
    if user.role not in CARE_ROLES and not user.is_portal_admin:
        raise PermissionDenied("Your role has no clinician home.")
    now = timezone.now()
    since = now - dt.timedelta(days=FINISHED_DAYS)
    studies = studies_summary_for_user(user=user, finished_since=since)
    high_risk = high_risk_latest_for_user(user=user)
    may_decide = user_may_decide(user=user)
    awaiting: list[Any] = []
    awaiting_count = 0
    if may_decide:
        pending = recommendations_awaiting(user=user)
        awaiting_count = pending.count()
        awaiting = list(pending[:RECOMMENDATION_ROWS])
    waiting = studies_waiting_for_user(user=user, limit=STUDY_ROWS)
    finished = studies_finished_for_user(user=user, finished_since=since, limit=STUDY_ROWS)
    context = {
        "dashboard_tabs": dashboard_tabs(user, "dashboards:home"),
        "tiles": {
            "patients": patients_visible_count(user=user),
            "high_risk": high_risk_patient_count_for_user(user=user),
            "waiting": studies["waiting"],
            "finished": studies["finished"],
            "failed": studies["failed"],
            "awaiting": awaiting_count,
        },
        "may_decide": may_decide,
        "finished_days": FINISHED_DAYS,
        "high_risk": [
            {
                "patient": a.patient,
                "name": _person(a.patient),
                "disease": disease_title(a.disease),
                "percent": round(100 * a.probability),
                "at": a.created_at,
            }
            for a in high_risk
        ],
        "waiting": [
            {"study": s, "name": _person(s.patient), "title": study_title(s)} for s in waiting
        ],
        "finished": [
            {"study": s, "name": _person(s.patient), "title": study_title(s)} for s in finished
        ],
        "awaiting": [
            {
                "rec": r,
                "name": _person(r.patient),
                "urgency": URGENCY_WORDS.get(r.urgency, str(r.urgency)),
            }
            for r in awaiting
        ],
    }
    shown = {a.patient_id for a in high_risk} | {r.patient_id for r in awaiting}
    shown |= {s.patient_id for s in [*waiting, *finished]}
    audit_request(
        request,
        action=AuditAction.READ,
        object_type="patients.patient",
        detail={"page": "dashboards-home", "count": len(shown)},
    )
    return render(request, "dashboards/home.html", context)


# --- charts -----------------------------------------------------------------------------------


def title_lines(title: str, width: int = 30) -> list[str]:
    """ "Heart disease (Cleveland cohort)" -> ["Heart disease", "(Cleveland cohort)"]: a Chart.js
    label of several lines, none much longer than `width` characters, so that a long disease
    title is not cut off at the chart's edge."""
    head, sep, tail = title.partition(" (")
    parts = [head, f"({tail}"] if sep else [title]
    return [line for part in parts for line in textwrap.wrap(part, width) or [part]]


def title_short(title: str) -> str:
    """ "Heart disease (Cleveland cohort)" -> "Heart disease" (for legends)."""
    return title.partition(" (")[0]


class HomeRiskBandsChart(ChartView):
    """Stacked bars: per disease, my patients by the band of their latest assessment."""

    roles: ClassVar[frozenset[str]] = CARE_ROLES

    def chart(self) -> Chart:
        counts = risk_band_counts_for_user(user=self.user)
        versions = {v.disease: v for v in model_versions_active()}
        diseases = sorted(set(counts) | set(versions), key=disease_title)
        titles = [disease_title(d) for d in diseases]
        # Two lines per label: the disease, then its cohort in brackets (the titles are long).
        labels = [title_lines(t) for t in titles]
        datasets = [
            {
                "label": band.label,
                "data": [counts.get(d, {}).get(band, 0) for d in diseases],
                "backgroundColor": BAND_COLOURS[band],
                "borderColor": BAND_COLOURS[band],
                "stack": "bands",
            }
            for band in BANDS
        ]
        rows = []
        for disease, label in zip(diseases, titles, strict=True):
            by_band = counts.get(disease, {})
            total = sum(by_band.values())
            high = by_band.get(RiskBand.HIGH, 0)
            rows.append(
                [
                    label,
                    by_band.get(RiskBand.LOW, 0),
                    by_band.get(RiskBand.MODERATE, 0),
                    high,
                    total,
                    round(100 * high / total, 1) if total else None,
                ]
            )
        notes = []
        if any(v.is_synthetic for v in versions.values()):
            notes.append(
                "The risk models were trained on synthetic data: for demonstration, not for care."
            )
        if not any(sum(c.values()) for c in counts.values()):
            datasets = [{**d, "data": []} for d in datasets]
        return Chart(
            type="bar",
            title="My patients by risk band",
            description=(
                "Patients of my care teams by the band of their latest risk assessment of each "
                "disease (patients never assessed for a disease are not counted), as of now."
            ),
            labels=labels,
            datasets=datasets,
            options={
                # Horizontal: the disease titles are long.
                "indexAxis": "y",
                "scales": {
                    "x": {**axis("Patients", minimum=0, stacked=True), "ticks": {"precision": 0}},
                    "y": axis("Disease", stacked=True),
                },
            },
            table=Table(
                columns=["Disease", "Low", "Moderate", "High", "Assessed", "High (%)"],
                rows=rows,
                caption="Patients by the band of their latest assessment",
            ),
            notes=notes,
            empty_text="None of my patients has a risk assessment yet.",
        )


class HomeStudiesChart(ChartView):
    """Bars per day over the last STUDY_CHART_DAYS days: studies submitted, finished, failed."""

    roles: ClassVar[frozenset[str]] = CARE_ROLES

    def chart(self) -> Chart:
        today = timezone.localdate()
        first = today - dt.timedelta(days=STUDY_CHART_DAYS - 1)
        since = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
        per_day = studies_per_day_for_user(user=self.user, since=since)
        days = [first + dt.timedelta(days=n) for n in range(STUDY_CHART_DAYS)]
        series = (("submitted", "Submitted"), ("finished", "Finished"), ("failed", "Failed"))
        empty = {"submitted": 0, "finished": 0, "failed": 0}
        values = {key: [per_day.get(day, empty)[key] for day in days] for key, _ in series}
        has_any = any(any(v) for v in values.values())
        datasets = [
            {
                "label": label,
                "data": values[key] if has_any else [],
                "backgroundColor": colour(i),
                "borderColor": colour(i),
            }
            for i, (key, label) in enumerate(series)
        ]
        # The failed series in vermillion (the palette's fourth colour), as elsewhere.
        datasets[2]["backgroundColor"] = datasets[2]["borderColor"] = colour(3)
        return Chart(
            type="bar",
            title="Imaging studies per day",
            description=(
                f"Studies of my care teams' patients submitted, finished and failed per day over "
                f"the last {STUDY_CHART_DAYS} days ({first.isoformat()} to {today.isoformat()})."
            ),
            labels=[day.isoformat() for day in days],
            datasets=datasets,
            options={
                "scales": {
                    "x": axis("Day"),
                    "y": {**axis("Studies", minimum=0), "ticks": {"precision": 0}},
                }
            },
            table=Table(
                columns=["Day", "Submitted", "Finished", "Failed"],
                rows=[
                    [day.isoformat(), *(values[key][n] for key, _ in series)]
                    for n, day in enumerate(days)
                ],
                caption=f"Studies per day, last {STUDY_CHART_DAYS} days",
            ),
            empty_text=f"No study of my patients in the last {STUDY_CHART_DAYS} days.",
        )


urlpatterns: list[URLPattern] = [
    path("home/", home, name="home"),
    path("data/home/risk-bands/", HomeRiskBandsChart.as_view(), name="data_home_risk_bands"),
    path("data/home/studies/", HomeStudiesChart.as_view(), name="data_home_studies"),
]
