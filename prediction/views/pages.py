"""The risk pages: the panel of the patient record, the assessment form, the result with its
outcome form, and the model cards.

Access follows the patient pages: a patient is fetched through `patient_get_for_user` (a 404,
audited, for anyone outside the patient's care teams) and every page that shows PHI appends an
audit READ. Clinicians and admins assess and record outcomes; nurses and radiologists on the care
team see the panel and the results (they act on them) but do not run models, whose inputs are
clinical judgements (a stale value re-entered, a measurement typed in). Model cards hold no PHI:
any signed-in member of staff may read them.
"""

import math
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.audit import audit_request, client_ip
from accounts.decorators import AuthedRequest
from accounts.models import AuditAction
from healthmentor.artifacts import ArtifactIntegrityError
from patients.models import Patient
from patients.selectors import patient_get_for_user
from prediction.features import features_for_patient
from prediction.forms import OutcomeForm, RiskAssessmentForm
from prediction.ml.diseases import DISEASES
from prediction.models import ModelVersion, RiskAssessment, RiskBand
from prediction.selectors import (
    assessment_get_for_user,
    assessments_for_patient,
    model_version_get,
    model_versions_active,
)
from prediction.services import risk_assess, risk_outcome_record, user_may_assess
from prediction.views.wording import card_context, iso_day, percent, title_of, value_text

PANEL_ASSESSMENTS = 10
TOP_FACTORS = 5


def _add_service_errors(form: BaseForm, exc: ValidationError) -> None:
    """A service's ValidationError onto the form: by field where the form has that field."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _read(request: AuthedRequest, patient: Patient, page: str, **detail: Any) -> None:
    audit_request(request, action=AuditAction.READ, obj=patient, detail={"page": page, **detail})


# --- the panel of the patient page --------------------------------------------------------------


def risk_panel(request: AuthedRequest, patient: Patient) -> tuple[str, dict[str, Any]] | None:
    """The record page's risk panel (registered in PredictionConfig.ready): the active models
    to assess with, and the patient's previous assessments."""
    versions = list(model_versions_active().order_by("disease"))
    assessments = list(
        assessments_for_patient(patient=patient).select_related("model_version")[:PANEL_ASSESSMENTS]
    )
    return (
        "prediction/_patient_panel.html",
        {
            "models": [{"version": v, "title": title_of(v)} for v in versions],
            "assessments": [
                {
                    "assessment": a,
                    "percent": percent(a.probability),
                    "title": title_of(a.model_version),
                }
                for a in assessments
            ],
            "may_assess": user_may_assess(user=request.user),
            "more": len(assessments) == PANEL_ASSESSMENTS,
        },
    )


# --- assess -------------------------------------------------------------------------------------


def _active_version(disease: str) -> ModelVersion:
    version = (
        model_versions_active().filter(disease=disease).first() if disease in DISEASES else None
    )
    if version is None:
        raise Http404("No active model for this disease.")
    return version


@login_required
@require_http_methods(["GET", "POST"])
def assessment_create(request: AuthedRequest, public_id: UUID, disease: str) -> HttpResponse:
    patient = patient_get_for_user(user=request.user, public_id=public_id, ip=client_ip(request))
    if not user_may_assess(user=request.user):
        raise PermissionDenied
    version = _active_version(disease)
    form = RiskAssessmentForm(
        request.POST if request.method == "POST" else None,
        features=features_for_patient(patient=patient, disease=disease),
    )
    if form.is_bound and form.is_valid():
        try:
            assessment = risk_assess(
                by=request.user, patient=patient, disease=disease, overrides=form.overrides()
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        except ArtifactIntegrityError:
            form.add_error(
                None,
                "This model's file failed its integrity check, so it cannot be used. An "
                "administrator must re-register or replace it.",
            )
        else:
            return redirect("prediction:assessment", public_id=assessment.public_id)
    _read(request, patient, "risk_assess", disease=disease)
    rows = form.rows()
    return render(
        request,
        "prediction/assess.html",
        {
            "patient": patient,
            "form": form,
            "rows": rows,
            "card": card_context(version),
            "max_age_days": DISEASES[disease].max_age_days,
            "to_enter": sum(1 for row in rows if row["status"] != "record"),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


# --- the result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    """One feature's push on the risk: `width` is its bar, in steps of 5 % of the largest."""

    label: str
    value: str
    contribution: float
    width: int

    @property
    def size(self) -> str:
        """The contribution as the page prints it: "+1.34", "-0.04", "≈ 0"."""
        return "≈ 0" if abs(self.contribution) < 0.005 else f"{self.contribution:+.2f}"


def _factors(assessment: RiskAssessment) -> tuple[list[Factor], list[Factor]]:
    contributions = (assessment.contributions or {}).get("features") or {}
    specs = {
        s.get("name"): s for s in (assessment.model_version.manifest or {}).get("features", [])
    }
    inputs = assessment.inputs or {}
    largest = max((abs(float(c)) for c in contributions.values()), default=0.0) or 1.0
    factors = []
    for name, raw in contributions.items():
        spec = specs.get(name, {})
        given = inputs.get(name) or {}
        width = max(5, min(100, 5 * round(abs(float(raw)) / largest * 20)))
        factors.append(
            Factor(
                label=str(spec.get("label", name)),
                value=value_text(
                    given.get("value"), str(given.get("unit", "")), str(spec.get("kind", ""))
                ),
                contribution=float(raw),
                width=width,
            )
        )
    up = sorted((f for f in factors if f.contribution > 0), key=lambda f: -f.contribution)
    down = sorted((f for f in factors if f.contribution < 0), key=lambda f: f.contribution)
    return up[:TOP_FACTORS], down[:TOP_FACTORS]


def _input_rows(assessment: RiskAssessment) -> list[dict[str, Any]]:
    specs = {
        s.get("name"): s for s in (assessment.model_version.manifest or {}).get("features", [])
    }
    rows = []
    for name, given in (assessment.inputs or {}).items():
        spec = specs.get(name, {})
        rows.append(
            {
                "label": spec.get("label", name),
                "value": value_text(
                    given.get("value"), str(given.get("unit", "")), str(spec.get("kind", ""))
                ),
                "source": given.get("source", ""),
                "when": iso_day(given.get("observed_at")),
                "entered": bool(given.get("entered")),
                "stale": bool(given.get("stale")),
            }
        )
    return rows


def _baseline(contributions: dict[str, Any]) -> str | None:
    base = contributions.get("base")
    if not isinstance(base, int | float):
        return None
    if contributions.get("space") == "log-odds":
        base = 1 / (1 + math.exp(-max(-700.0, min(700.0, base))))
    return percent(base)


def _result(
    request: AuthedRequest, assessment: RiskAssessment, outcome_form: OutcomeForm, status: int
) -> HttpResponse:
    version = assessment.model_version
    card = card_context(version)
    up, down = _factors(assessment)
    threshold = card["words"]["threshold_value"]
    _read(request, assessment.patient, "risk_result", assessment=str(assessment.public_id))
    return render(
        request,
        "prediction/result.html",
        {
            "assessment": assessment,
            "patient": assessment.patient,
            "card": card,
            "percent": percent(assessment.probability),
            "band": RiskBand(assessment.risk_band).label
            if assessment.risk_band in RiskBand.values
            else assessment.risk_band,
            "flagged": assessment.probability >= threshold
            if isinstance(threshold, int | float)
            else None,
            "up": up,
            "down": down,
            "space": (assessment.contributions or {}).get("space", ""),
            "baseline": _baseline(assessment.contributions or {}),
            "inputs": _input_rows(assessment),
            "outcome_form": outcome_form,
            "may_record_outcome": user_may_assess(user=request.user),
        },
        status=status,
    )


def _assessment(request: AuthedRequest, public_id: UUID) -> RiskAssessment:
    return assessment_get_for_user(user=request.user, public_id=public_id, ip=client_ip(request))


@login_required
@require_GET
def assessment_detail(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    assessment = _assessment(request, public_id)
    initial = (
        {"outcome": assessment.outcome, "outcome_date": assessment.outcome_date}
        if assessment.outcome
        else {}
    )
    return _result(request, assessment, OutcomeForm(initial=initial), 200)


@login_required
@require_POST
def assessment_outcome(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    assessment = _assessment(request, public_id)
    if not user_may_assess(user=request.user):
        raise PermissionDenied
    form = OutcomeForm(request.POST)
    if form.is_valid():
        try:
            risk_outcome_record(by=request.user, assessment=assessment, **form.cleaned_data)
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, "Outcome recorded.")
            url = reverse("prediction:assessment", kwargs={"public_id": assessment.public_id})
            return redirect(f"{url}#outcome")
    assessment.refresh_from_db()
    return _result(request, assessment, form, 400)


# --- model cards --------------------------------------------------------------------------------


@login_required
@require_GET
def model_list(request: AuthedRequest) -> HttpResponse:
    cards = [card_context(v) for v in model_versions_active().order_by("disease")]
    return render(request, "prediction/model_list.html", {"cards": cards})


@login_required
@require_GET
def model_detail(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    version = model_version_get(public_id=public_id)
    return render(request, "prediction/model_detail.html", {"card": card_context(version)})
