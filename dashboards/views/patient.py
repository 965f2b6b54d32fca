"""One patient's dashboard (/dashboards/patients/<id>/): each vital sign and lab result over time
against its typical reference range (vitals first, then labs), the risk history of each disease
with the bands of the model that made each figure, and the imaging timeline.

Access goes through patients.selectors.patient_get_for_user (404, audited, for anyone outside the
patient's care teams); the page read is audited like the record page. The charts are never cached:
a result saved a moment ago must show.
"""

import datetime as dt
from typing import Any, ClassVar
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.audit import audit_request, client_ip
from accounts.decorators import AuthedRequest
from accounts.models import AuditAction
from dashboards.charts import BAND_COLOURS, PALETTE, Chart, Table, axis, rounded, series_style
from dashboards.views.base import CARE_ROLES, ChartView
from dashboards.views.home import title_short
from dashboards.views.tabs import dashboard_tabs
from imaging.selectors import modality_words, studies_timeline_for_patient, study_title
from patients.catalog import OBSERVATION_TYPES
from patients.models import Patient
from patients.selectors import (
    observation_history,
    observation_kinds_for_patient,
    patient_get_for_user,
    reference_flag,
    reference_range,
)
from prediction.selectors import assessments_for_patient, disease_title

OBSERVATION_POINTS = 200
RISK_POINTS = 300
IMAGING_POINTS = 200
FLAG_COLOUR = PALETTE[3]  # vermillion: a result outside the reference range
RANGE_FILL = PALETTE[2] + "26"  # bluish green, translucent: the reference band


def _day(at: dt.datetime) -> str:
    return timezone.localtime(at).date().isoformat()


def _minute(at: dt.datetime) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")


def _labels(times: list[dt.datetime]) -> list[str]:
    """ISO dates as category labels; with the time too when two fall on one day."""
    days = [_day(t) for t in times]
    return days if len(set(days)) == len(days) else [_minute(t) for t in times]


def _care_user_check(request: AuthedRequest) -> None:
    user = request.user
    if user.role not in CARE_ROLES and not user.is_portal_admin:
        raise PermissionDenied("Your role does not open patient records.")


# --- the page ---------------------------------------------------------------------------------


@login_required
@require_GET
def patient_dashboard(request: AuthedRequest, patient_id: UUID) -> HttpResponse:
    _care_user_check(request)
    patient = patient_get_for_user(user=request.user, public_id=patient_id, ip=client_ip(request))
    kinds = observation_kinds_for_patient(patient=patient)
    studies = studies_timeline_for_patient(patient=patient, limit=IMAGING_POINTS)
    audit_request(request, action=AuditAction.READ, obj=patient, detail={"page": "dashboard"})
    return render(
        request,
        "dashboards/patient.html",
        {
            "dashboard_tabs": dashboard_tabs(request.user, ""),
            "patient": patient,
            "vitals": [k for k in kinds if k.category == "vital-signs"],
            "labs": [k for k in kinds if k.category != "vital-signs"],
            "studies": [{"study": s, "title": study_title(s)} for s in reversed(studies)],
        },
    )


# --- charts -----------------------------------------------------------------------------------


class PatientChart(ChartView):
    """A chart of one patient: the patient is looked up (and access checked) first."""

    roles: ClassVar[frozenset[str]] = CARE_ROLES

    def cache_scope(self) -> str | None:
        return None

    def patient(self) -> Patient:
        return patient_get_for_user(
            user=self.user, public_id=self.kwargs["patient_id"], ip=client_ip(self.request)
        )


def _reference_words(low: float | None, high: float | None, unit: str) -> str:
    if low is not None and high is not None:
        return f"{low:g} to {high:g} {unit}"
    if low is not None:
        return f"at least {low:g} {unit}"
    if high is not None:
        return f"at most {high:g} {unit}"
    return ""


class PatientObservationChart(PatientChart):
    """One code's results over time as a line, the reference range as a shaded band behind it,
    results outside the range drawn as larger vermillion triangles."""

    def chart(self) -> Chart:
        patient = self.patient()
        code = self.kwargs["code"]
        history = observation_history(patient=patient, code=code, limit=OBSERVATION_POINTS)
        if not history:
            raise Http404("This patient has no result of that code.")
        kind = OBSERVATION_TYPES.get(code)
        display = kind.display if kind else history[-1].display
        unit = kind.unit if kind else history[-1].unit
        low, high = reference_range(code=code)
        labels = _labels([o.effective_at for o in history])
        values = [rounded(o.value, 3) for o in history]
        flags = [reference_flag(code=code, value=o.value) for o in history]
        outside = [bool(f) for f in flags]
        style = series_style(0)
        point_colours = [FLAG_COLOUR if o else style["borderColor"] for o in outside]
        datasets: list[dict[str, Any]] = []
        band = {
            "type": "line",
            "borderColor": PALETTE[2],
            "borderWidth": 1,
            "borderDash": [4, 4],
            "pointRadius": 0,
            "pointHitRadius": 0,
            "backgroundColor": RANGE_FILL,
        }
        if low is not None:
            datasets.append(
                {
                    **band,
                    "label": "Reference low" if high is not None else "Reference range",
                    "data": [low] * len(history),
                    "fill": "end" if high is None else False,
                }
            )
        if high is not None:
            datasets.append(
                {
                    **band,
                    "label": "Reference high" if low is not None else "Reference range",
                    "data": [high] * len(history),
                    "fill": "-1" if low is not None else "start",
                }
            )
        datasets.insert(
            0,
            {
                **style,
                "label": f"{display} ({unit})",
                "data": values,
                "fill": False,
                "tension": 0,
                "pointStyle": ["triangle" if o else "circle" for o in outside],
                "pointRadius": [6 if o else 3 for o in outside],
                "pointBackgroundColor": point_colours,
                "pointBorderColor": point_colours,
                "order": 0,
            },
        )
        reference = _reference_words(low, high, unit)
        notes = []
        if reference:
            notes.append(
                f"Shaded: a typical adult reference range ({reference}), not the laboratory's "
                "own interval; results outside it are drawn as larger vermillion triangles."
            )
        else:
            notes.append("No typical reference range is known for this code.")
        flagged = sum(outside)
        if flagged:
            notes.append(f"{flagged} of {len(history)} results outside the reference range.")
        if len(history) == OBSERVATION_POINTS:
            notes.append(f"The newest {OBSERVATION_POINTS} results are shown.")
        first, last = history[0].effective_at, history[-1].effective_at
        return Chart(
            type="line",
            title=display,
            description=(
                f"This patient's {display.lower()} results ({code}) in {unit}, "
                f"{_day(first)} to {_day(last)}, against a typical reference range."
            ),
            labels=labels,
            datasets=datasets,
            options={
                "scales": {
                    "x": axis("Date"),
                    "y": {**axis(f"{display} ({unit})"), **_padded(values, low, high)},
                },
                "plugins": {"filler": {"propagate": False}},
            },
            table=Table(
                columns=["When", f"Value ({unit})", "Reference", "Flag"],
                rows=[
                    [_minute(o.effective_at), values[n], reference or None, flags[n] or None]
                    for n, o in enumerate(history)
                ],
                caption=f"{display}: every result shown, oldest first",
            ),
            notes=notes,
        )


def _padded(values: list[float | None], low: float | None, high: float | None) -> dict[str, float]:
    """suggestedMin/Max a tenth of the span beyond the values and the reference bounds, so that
    neither the line nor the band's edge sits on the frame."""
    span = [v for v in [*values, low, high] if v is not None]
    if not span:
        return {}
    bottom, top = min(span), max(span)
    pad = (top - bottom) / 10 or abs(top) / 10 or 1.0
    return {"suggestedMin": round(bottom - pad, 3), "suggestedMax": round(top + pad, 3)}


class PatientRiskChart(PatientChart):
    """Probability over time of each disease assessed, with the band thresholds of the model
    version behind each assessment (the newest version's as dashed lines)."""

    def chart(self) -> Chart:
        patient = self.patient()
        assessments = list(assessments_for_patient(patient=patient)[:RISK_POINTS])
        assessments.reverse()  # oldest first
        diseases = sorted({a.disease for a in assessments}, key=disease_title)
        times = sorted({a.created_at for a in assessments})
        labels = _labels(times)
        at_label = dict(zip(times, labels, strict=True))
        index = {label: n for n, label in enumerate(labels)}
        datasets: list[dict[str, Any]] = []
        notes = []
        synthetic = False
        for i, disease in enumerate(diseases):
            rows = [a for a in assessments if a.disease == disease]
            data: list[float | None] = [None] * len(labels)
            for a in rows:
                data[index[at_label[a.created_at]]] = rounded(a.probability, 4)
            title = title_short(disease_title(disease))
            datasets.append(
                {
                    **series_style(i),
                    "label": f"{title} risk",
                    "data": data,
                    "spanGaps": True,
                    "fill": False,
                    "tension": 0,
                    "pointRadius": 4,
                }
            )
            bands = (rows[-1].model_version.manifest or {}).get("bands") or {}
            if "high" in bands:
                # The threshold of the newest version, dashed, in the disease's colour.
                datasets.append(
                    {
                        "label": f"{title}: high from {100 * float(bands['high']):.0f} %",
                        "data": [float(bands["high"])] * len(labels),
                        "borderColor": series_style(i)["borderColor"],
                        "backgroundColor": series_style(i)["borderColor"],
                        "borderDash": [6, 4],
                        "borderWidth": 1.5,
                        "pointStyle": "line",  # the legend shows a line, not a dot
                        "pointRadius": 0,
                        "pointHitRadius": 0,
                        "fill": False,
                    }
                )
            synthetic = synthetic or any(a.model_version.is_synthetic for a in rows)
        table_rows = []
        for a in assessments:
            bands = (a.model_version.manifest or {}).get("bands") or {}
            table_rows.append(
                [
                    _minute(a.created_at),
                    disease_title(a.disease),
                    rounded(100 * a.probability, 1),
                    a.get_risk_band_display(),
                    _percent(bands.get("moderate")),
                    _percent(bands.get("high")),
                    a.model_version.version,
                ]
            )
        if diseases:
            notes.append(
                "Dashed lines: the high-risk threshold of the newest model version of each "
                "disease; each assessment's own thresholds are in the table."
            )
        if synthetic:
            notes.append(
                "Made by models trained on synthetic data: for demonstration, not for care."
            )
        if len(assessments) == RISK_POINTS:
            notes.append(f"The newest {RISK_POINTS} assessments are shown.")
        period = f", {_day(times[0])} to {_day(times[-1])}" if times else ""
        return Chart(
            type="line",
            title="Risk history",
            description=(
                "This patient's estimated probability of each disease at every risk assessment"
                f"{period}, with the model's high-risk threshold."
            ),
            labels=labels,
            datasets=datasets,
            options={
                "scales": {
                    "x": axis("Assessment date"),
                    "y": axis("Estimated probability", minimum=0, maximum=1, percent=True),
                }
            },
            table=Table(
                columns=[
                    "When",
                    "Disease",
                    "Probability (%)",
                    "Band",
                    "Moderate from (%)",
                    "High from (%)",
                    "Model version",
                ],
                rows=table_rows,
                caption="Every risk assessment, oldest first",
            ),
            notes=notes,
            empty_text="No risk assessment has been made for this patient yet.",
        )


def _percent(value: Any) -> float | None:
    return None if value is None else round(100 * float(value), 1)


class PatientImagingChart(PatientChart):
    """Each study as a point: its date and the AI's probability of an abnormal finding (DONE
    studies), one series per modality; studies without a result on the zero line, marked."""

    def chart(self) -> Chart:
        patient = self.patient()
        studies = studies_timeline_for_patient(patient=patient, limit=IMAGING_POINTS)
        labels = _labels([s.uploaded_at for s in studies])
        modalities = sorted({s.modality for s in studies if s.abnormal_probability is not None})
        datasets: list[dict[str, Any]] = []
        for i, modality in enumerate(modalities):
            data = [
                rounded(s.abnormal_probability, 4)
                if s.modality == modality and s.abnormal_probability is not None
                else None
                for s in studies
            ]
            datasets.append(
                {
                    **series_style(i),
                    "label": f"{modality_words(modality)}: probability abnormal",
                    "data": data,
                    "showLine": False,
                    "pointRadius": 6,
                    "pointHoverRadius": 8,
                }
            )
        pending = [s for s in studies if s.abnormal_probability is None]
        if pending:
            datasets.append(
                {
                    "label": "No result (queued, running or failed)",
                    "data": [0 if s.abnormal_probability is None else None for s in studies],
                    "showLine": False,
                    "pointStyle": "crossRot",
                    "pointRadius": 8,
                    "clip": False,  # whole crosses on the 0 line, not halves
                    "borderWidth": 2,
                    "borderColor": BAND_COLOURS["high"] if _any_failed(pending) else PALETTE[7],
                    "backgroundColor": PALETTE[7],
                }
            )
        rows = [
            [
                _minute(s.uploaded_at),
                study_title(s),
                s.get_state_display(),
                s.predicted_class or None,
                rounded(s.abnormal_probability, 3),
            ]
            for s in studies
        ]
        notes = []
        if pending:
            notes.append(
                f"{len(pending)} studies without a result are drawn as crosses on the 0 line."
            )
        if any(s.model_version is not None and s.model_version.is_synthetic for s in studies):
            notes.append(
                "Probabilities from an imaging model trained on synthetic images: for "
                "demonstration, not for care."
            )
        period = (
            f", {_day(studies[0].uploaded_at)} to {_day(studies[-1].uploaded_at)}"
            if studies
            else ""
        )
        return Chart(
            type="line",
            title="Imaging timeline",
            description=(
                "Each imaging study of this patient by upload date, at the AI's probability of "
                f"an abnormal finding{period}."
            ),
            labels=labels,
            datasets=datasets,
            options={
                "scales": {
                    "x": axis("Upload date"),
                    "y": axis("Probability abnormal", minimum=0, maximum=1, percent=True),
                }
            },
            table=Table(
                columns=["Uploaded", "Study", "State", "AI finding", "Probability abnormal"],
                rows=rows,
                caption="Every imaging study, oldest first",
            ),
            notes=notes,
            empty_text="No imaging study of this patient yet.",
        )


def _any_failed(studies: list[Any]) -> bool:
    return any(s.state == "failed" for s in studies)


urlpatterns: list[URLPattern] = [
    path("patients/<uuid:patient_id>/", patient_dashboard, name="patient"),
    path(
        "data/patients/<uuid:patient_id>/observations/<str:code>/",
        PatientObservationChart.as_view(),
        name="data_patient_observation",
    ),
    path(
        "data/patients/<uuid:patient_id>/risk/",
        PatientRiskChart.as_view(),
        name="data_patient_risk",
    ),
    path(
        "data/patients/<uuid:patient_id>/imaging/",
        PatientImagingChart.as_view(),
        name="data_patient_imaging",
    ),
]
