"""Reads of the prediction app: model versions, a patient's assessments, and live monitoring
(discrimination, calibration and input drift of a version over the assessments it made).

The monitoring selectors return plain dicts and lists (JSON-ready) for the dashboards. They are
per-version aggregates: patients' sex and date of birth are decrypted to form subgroups, and
nothing identifying leaves them.
"""

import datetime as dt
import math
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditOutcome, User
from patients.models import Patient
from patients.selectors import TimelineItem, patient_get_for_user
from prediction.ml.diseases import DISEASES
from prediction.models import ModelVersion, Outcome, RiskAssessment

# Fewer outcomes than this (or a single class) give None / [] rather than a noisy figure.
MIN_OUTCOMES = 10
CALIBRATION_BINS = 10
# The usual floor for an empty bin's share in the population stability index (ln(0) otherwise).
PSI_EPSILON = 1e-4


# --- model versions ---------------------------------------------------------------------------


def model_versions_active() -> QuerySet[ModelVersion]:
    """The active version of each disease that has one, by disease."""
    return ModelVersion.objects.filter(is_active=True).order_by("disease")


def model_versions_of(*, disease: str) -> QuerySet[ModelVersion]:
    """Every registered version of `disease`, newest first."""
    return ModelVersion.objects.filter(disease=disease).order_by("-registered_at", "-pk")


def model_version_get(*, public_id: uuid.UUID | str) -> ModelVersion:
    """One registered version by public id (active or not); Http404 if there is none."""
    try:
        return ModelVersion.objects.get(public_id=uuid.UUID(str(public_id)))
    except (ModelVersion.DoesNotExist, ValueError):
        raise Http404("No such model version.") from None


def disease_title(disease: str) -> str:
    spec = DISEASES.get(disease)
    return spec.title if spec is not None else disease.replace("_", " ").capitalize()


def model_card(version: ModelVersion) -> dict[str, Any]:
    """The card of one risk-model version as `model_cards --json` and the API list it."""
    manifest = version.manifest or {}
    return {
        "id": str(version.public_id),
        "name": f"{manifest.get('title') or disease_title(version.disease)} risk model",
        "version": version.version,
        "kind": "risk",
        "disease": version.disease,
        "algorithm": version.algorithm,
        "dataset": manifest.get("dataset", {}),
        "synthetic": version.is_synthetic,
        "active": version.is_active,
        "metrics": manifest.get("metrics", {}),
        "caveats": manifest.get("caveats", []),
    }


def model_cards_active() -> list[dict[str, Any]]:
    """The cards of the active risk models, by disease."""
    return [model_card(version) for version in model_versions_active()]


# --- assessments ------------------------------------------------------------------------------


def assessments_for_patient(*, patient: Patient) -> QuerySet[RiskAssessment]:
    """A patient's assessments, newest first, with their model versions. The caller has already
    checked access to the patient."""
    return (
        RiskAssessment.objects.filter(patient=patient)
        .select_related("model_version")
        .order_by("-created_at", "-pk")
    )


def assessment_get_for_user(
    *, user: User, public_id: uuid.UUID | str, ip: str | None = None
) -> RiskAssessment:
    """The assessment if `user` may see its patient; else Http404, audited as a denial (the same
    answer whether it does not exist or belongs to another care team)."""
    try:
        assessment = RiskAssessment.objects.select_related("model_version", "patient").get(
            public_id=uuid.UUID(str(public_id))
        )
    except (RiskAssessment.DoesNotExist, ValueError, TypeError):
        audit_record(
            actor=user,
            action=AuditAction.DENIED,
            object_type="prediction.riskassessment",
            object_id=str(public_id)[:64],
            ip=ip,
            outcome=AuditOutcome.DENIED,
            detail={"wanted": "view"},
        )
        raise Http404("No such risk assessment, or you do not have access to it.") from None
    # Raises Http404 (audited) when the user may not see the patient.
    assessment.patient = patient_get_for_user(
        user=user, public_id=assessment.patient.public_id, ip=ip
    )
    return assessment


def assessment_timeline_items(patient: Patient) -> Iterable[TimelineItem]:
    """The patient's assessments as timeline lines (registered with patients.selectors)."""
    for assessment in assessments_for_patient(patient=patient)[:500]:
        version = assessment.model_version
        percent = round(100 * assessment.probability)
        yield TimelineItem(
            assessment.created_at,
            "risk",
            f"{disease_title(version.disease)} risk: {percent} % ({assessment.risk_band})",
            f"Model {version.version} ({version.algorithm})"
            + (
                f" · outcome {assessment.get_outcome_display().lower()}"
                if assessment.outcome
                else ""
            ),
            assessment,
        )


# --- live monitoring --------------------------------------------------------------------------


def _calibration(probs: np.ndarray, labels: np.ndarray) -> list[dict[str, Any]]:
    """Predicted against observed in equal-width bins of predicted probability (empty bins are
    left out)."""
    index = np.minimum((probs * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    bins = []
    for b in range(CALIBRATION_BINS):
        mask = index == b
        if not mask.any():
            continue
        bins.append(
            {
                "lower": b / CALIBRATION_BINS,
                "upper": (b + 1) / CALIBRATION_BINS,
                "n": int(mask.sum()),
                "mean_predicted": float(probs[mask].mean()),
                "observed": float(labels[mask].mean()),
            }
        )
    return bins


def performance(probs: Sequence[float], labels: Sequence[int]) -> dict[str, Any]:
    """n, positives, AUROC, Brier score and calibration of probabilities against 0/1 outcomes;
    None (and no bins) where there are fewer than MIN_OUTCOMES, AUROC None with one class."""
    # Imported here: scikit-learn is not needed to start the web process.
    from sklearn.metrics import brier_score_loss, roc_auc_score

    p = np.asarray(probs, dtype=float)
    y = np.asarray(labels, dtype=int)
    n, positives = int(y.size), int(y.sum())
    enough = n >= MIN_OUTCOMES
    both = 0 < positives < n
    return {
        "n": n,
        "positives": positives,
        "auroc": float(roc_auc_score(y, p)) if enough and both else None,
        "brier": float(brier_score_loss(y, p)) if enough else None,
        "mean_predicted": float(p.mean()) if enough else None,
        "observed_rate": positives / n if enough else None,
        "calibration": _calibration(p, y) if enough else [],
    }


def live_performance(*, version: ModelVersion) -> dict[str, Any]:
    """How `version` does on the assessments whose real outcome has been recorded: overall and
    per subgroup (sex, and age band at the time of the assessment).

    {"version", "disease", "assessments", "n", "positives", "auroc", "brier", "mean_predicted",
     "observed_rate", "calibration": [{"lower","upper","n","mean_predicted","observed"}],
     "subgroups": [{"group": "sex"|"age_band", "value", ...the same metrics}], "min_outcomes"}"""
    from prediction.ml.metrics import age_band  # scipy: not needed to start a process

    rows = RiskAssessment.objects.filter(model_version=version).exclude(outcome="")
    probs: list[float] = []
    labels: list[int] = []
    groups: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows.select_related("patient").order_by("pk").iterator()):
        probs.append(row.probability)
        labels.append(1 if row.outcome == Outcome.CONFIRMED else 0)
        patient = row.patient
        day = timezone.localdate(row.created_at)
        groups.setdefault(("sex", str(patient.sex or "unknown")), []).append(i)
        if isinstance(patient.date_of_birth, dt.date):
            groups.setdefault(("age_band", age_band(patient.age_on(day))), []).append(i)
    subgroups = []
    for (group, value), members in sorted(groups.items()):
        subgroups.append(
            {
                "group": group,
                "value": value,
                **performance([probs[i] for i in members], [labels[i] for i in members]),
            }
        )
    return {
        "version": str(version.public_id),
        "disease": version.disease,
        "assessments": RiskAssessment.objects.filter(model_version=version).count(),
        **performance(probs, labels),
        "subgroups": subgroups,
        "min_outcomes": MIN_OUTCOMES,
    }


def input_drift(*, version: ModelVersion) -> dict[str, float]:
    """PSI of each feature between the inputs of `version`'s assessments and the training
    distribution in its manifest["reference"] (the training's bins, see
    prediction.ml.metrics.reference_distribution): below 0.1 is usually read as stable, above
    0.25 as a shift worth looking into. {} while the version has made no assessment."""
    from prediction.ml.metrics import population_stability_index

    reference: dict[str, Any] = version.manifest.get("reference") or {}
    seen: dict[str, list[float]] = {name: [] for name in reference}
    for inputs in RiskAssessment.objects.filter(model_version=version).values_list(
        "inputs", flat=True
    ):
        for name, values in seen.items():
            raw = (inputs or {}).get(name, {}).get("value")
            if isinstance(raw, int | float) and math.isfinite(raw):
                values.append(float(raw))
    drift: dict[str, float] = {}
    for name, ref in reference.items():
        values = seen[name]
        if values and ref.get("proportions"):
            drift[name] = population_stability_index(ref, np.asarray(values), floor=PSI_EPSILON)
    return drift
