"""Reads of the prediction app: model versions, a patient's assessments, and live monitoring
(discrimination, calibration and input drift of a version over the assessments it made).

The monitoring selectors return plain dicts and lists (JSON-ready) for the dashboards. They are
per-version aggregates over every patient the version assessed: subgroups come from the sex and
age each assessment snapshotted (no patient is decrypted), input drift reads values the database
extracts from the inputs, and nothing identifying leaves them.
"""

import datetime as dt
import math
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from django.db.models import Count, DateTimeField, FloatField, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Mod, TruncDay, TruncMonth, TruncWeek
from django.http import Http404
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditOutcome, User
from patients.models import Patient
from patients.selectors import TimelineItem, patient_get_for_user, patients_visible_to
from prediction.ml.diseases import DISEASES
from prediction.models import ModelVersion, Outcome, RiskAssessment, RiskBand

# Fewer outcomes than this (or a single class) give None / [] rather than a noisy figure.
MIN_OUTCOMES = 10
CALIBRATION_BINS = 10
# At most this many points of a ROC curve travel to a chart.
ROC_POINTS = 60
# Input drift reads at most this many assessments of a version (a systematic sample beyond).
DRIFT_SAMPLE = 2000
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

DRIFT_PERIODS = {
    "month": (TruncMonth, "%Y-%m"),
    "week": (TruncWeek, "%G-W%V"),
    "day": (TruncDay, "%Y-%m-%d"),
}


def _calibration(probs: np.ndarray, labels: np.ndarray) -> list[dict[str, Any]]:
    """Predicted against observed in equal-width bins of predicted probability (empty bins are
    left out)."""
    from prediction.ml.metrics import calibration_bins

    return calibration_bins(probs, labels, bins=CALIBRATION_BINS, keep_empty=False)


def performance(
    probs: Sequence[float], labels: Sequence[int], *, threshold: float | None = None
) -> dict[str, Any]:
    """n, positives, AUROC, Brier score, calibration, ROC points and (with `threshold`) the
    confusion counts of flagging probability >= threshold, of probabilities against 0/1
    outcomes; None (and no bins or points) where there are fewer than MIN_OUTCOMES, AUROC and ROC
    None / [] with one class."""
    # Imported here: scikit-learn and scipy are not needed to start the web process.
    from sklearn.metrics import brier_score_loss, roc_auc_score

    from prediction.ml.metrics import confusion_counts, roc_points

    p = np.asarray(probs, dtype=float)
    y = np.asarray(labels, dtype=int)
    n, positives = int(y.size), int(y.sum())
    enough = n >= MIN_OUTCOMES
    both = 0 < positives < n
    confusion = None
    if enough and threshold is not None:
        confusion = {"threshold": float(threshold), **confusion_counts(p, y, float(threshold))}
    return {
        "n": n,
        "positives": positives,
        "auroc": float(roc_auc_score(y, p)) if enough and both else None,
        "brier": float(brier_score_loss(y, p)) if enough else None,
        "mean_predicted": float(p.mean()) if enough else None,
        "observed_rate": positives / n if enough else None,
        "calibration": _calibration(p, y) if enough else [],
        "roc": roc_points(p, y, max_points=ROC_POINTS) if enough and both else [],
        "confusion": confusion,
    }


def model_threshold(version: ModelVersion) -> float | None:
    """The operating threshold of `version` (manifest["metrics"]["threshold"]), if recorded."""
    value = ((version.manifest or {}).get("metrics") or {}).get("threshold")
    return float(value) if isinstance(value, int | float) else None


def live_performance(*, version: ModelVersion) -> dict[str, Any]:
    """How `version` does on the assessments whose real outcome has been recorded: overall and
    per subgroup (sex, and age band at the time of the assessment, from the snapshots the
    assessment took: no patient is read or decrypted). Two queries.

    {"version", "disease", "assessments", "simulated_outcomes" (outcomes of synthetic demo
     patients, which seed_risk_demo simulates), "threshold", "n", "positives", "auroc", "brier",
     "mean_predicted", "observed_rate", "calibration": [{"lower","upper","n","mean_predicted",
     "observed"}], "roc": [{"fpr","tpr","threshold"}], "confusion": {"threshold","tp","fp","fn",
     "tn"} | None, "subgroups": [{"group": "sex"|"age_band", "value", ...the same metrics}],
     "min_outcomes"}"""
    from prediction.ml.metrics import age_band  # scipy: not needed to start a process

    threshold = model_threshold(version)
    rows = (
        RiskAssessment.objects.filter(model_version=version)
        .exclude(outcome="")
        .order_by("pk")
        .values_list("probability", "outcome", "subject_sex", "subject_age")
    )
    probs: list[float] = []
    labels: list[int] = []
    groups: dict[tuple[str, str], list[int]] = {}
    for i, (probability, outcome, sex, age) in enumerate(rows):
        probs.append(probability)
        labels.append(1 if outcome == Outcome.CONFIRMED else 0)
        groups.setdefault(("sex", sex or "unknown"), []).append(i)
        if age is not None:
            groups.setdefault(("age_band", age_band(age)), []).append(i)
    subgroups = []
    for (group, value), members in sorted(groups.items()):
        subgroups.append(
            {
                "group": group,
                "value": value,
                **performance(
                    [probs[i] for i in members],
                    [labels[i] for i in members],
                    threshold=threshold,
                ),
            }
        )
    counts = RiskAssessment.objects.filter(model_version=version).aggregate(
        assessments=Count("pk"),
        simulated=Count("pk", filter=~Q(outcome="") & Q(patient__is_synthetic=True)),
    )
    return {
        "version": str(version.public_id),
        "disease": version.disease,
        "assessments": counts["assessments"],
        "simulated_outcomes": counts["simulated"],
        "threshold": threshold,
        **performance(probs, labels, threshold=threshold),
        "subgroups": subgroups,
        "min_outcomes": MIN_OUTCOMES,
    }


def _drift_features(version: ModelVersion) -> list[tuple[str, dict[str, Any]]]:
    reference: dict[str, Any] = (version.manifest or {}).get("reference") or {}
    return [(name, ref) for name, ref in reference.items() if ref.get("proportions")]


def _drift_sample(
    version: ModelVersion, features: list[tuple[str, dict[str, Any]]], period: str | None
) -> tuple[int, list[tuple[Any, ...]]]:
    """(k, rows (period or None, value of each feature or None)) of a
    systematic sample: every k-th assessment by id, k chosen so that at most DRIFT_SAMPLE rows
    are read whatever the number of assessments (all of them up to DRIFT_SAMPLE). The database
    extracts the values from the JSON inputs and truncates the dates. Two queries."""
    queryset = RiskAssessment.objects.filter(model_version=version)
    total = queryset.count()
    if not total:
        return 1, []
    step = math.ceil(total / DRIFT_SAMPLE)
    if step > 1:
        queryset = queryset.alias(sample_slot=Mod("pk", step)).filter(sample_slot=0)
    columns: dict[str, Any] = {
        "period": DRIFT_PERIODS[period][0]("created_at")
        if period
        else Value(None, output_field=DateTimeField())
    }
    for i, (name, _) in enumerate(features):
        value = KeyTextTransform("value", KeyTransform(name, "inputs"))
        columns[f"drift_{i}"] = Cast(value, FloatField())
    return step, list(queryset.annotate(**columns).values_list(*columns))


def _psi_of(
    rows: list[tuple[Any, ...]], features: list[tuple[str, dict[str, Any]]]
) -> dict[str, float]:
    from prediction.ml.metrics import population_stability_index

    drift: dict[str, float] = {}
    for i, (name, ref) in enumerate(features):
        values = np.array([row[i + 1] for row in rows if row[i + 1] is not None], dtype=float)
        values = values[np.isfinite(values)]
        if values.size:
            drift[name] = population_stability_index(ref, values, floor=PSI_EPSILON)
    return drift


def input_drift(*, version: ModelVersion) -> dict[str, float]:
    """PSI of each feature between the inputs of `version`'s assessments and the training
    distribution in its manifest["reference"] (the training's bins, see
    prediction.ml.metrics.reference_distribution): below 0.1 is usually read as stable, above
    0.25 as a shift worth looking into. {} while the version has made no assessment. Beyond
    DRIFT_SAMPLE assessments, estimated on a systematic sample of them (see _drift_sample)."""
    features = _drift_features(version)
    if not features:
        return {}
    return _psi_of(_drift_sample(version, features, None)[1], features)


def input_drift_by_period(*, version: ModelVersion, period: str = "month") -> list[dict[str, Any]]:
    """input_drift per calendar period of the assessments' creation (local time), oldest first:
    [{"period": "YYYY-MM", "n": assessments read, "every": k, "psi": {feature: value}}]. `period`
    is "month" (default), "week" or "day"; ValueError for anything else. Beyond DRIFT_SAMPLE
    assessments in all, only every k-th is read (the same sample as input_drift; k is 1 below).
    Two queries."""
    if period not in DRIFT_PERIODS:
        raise ValueError(f"Unknown period {period!r}; use one of {', '.join(DRIFT_PERIODS)}.")
    features = _drift_features(version)
    if not features:
        return []
    fmt = DRIFT_PERIODS[period][1]
    by_period: dict[str, list[tuple[Any, ...]]] = {}
    every, rows = _drift_sample(version, features, period)
    for row in rows:
        when = row[0]
        if isinstance(when, dt.datetime) and timezone.is_aware(when):
            when = timezone.localtime(when)
        by_period.setdefault(when.strftime(fmt), []).append(row)
    return [
        {"period": key, "n": len(members), "every": every, "psi": _psi_of(members, features)}
        for key, members in sorted(by_period.items())
    ]


def model_versions_monitored() -> list[ModelVersion]:
    """The risk-model versions worth monitoring: the active ones, then any other version that
    made assessments, newest first; each annotated with `assessment_count` and
    `outcome_count`. One query."""
    versions = (
        ModelVersion.objects.annotate(
            assessment_count=Count("assessments"),
            outcome_count=Count("assessments", filter=~Q(assessments__outcome="")),
        )
        .filter(Q(is_active=True) | Q(assessment_count__gt=0))
        .order_by("-is_active", "disease", "-registered_at", "-pk")
    )
    return list(versions)


def live_auroc_by_version(*, versions: Sequence[ModelVersion]) -> dict[int, float | None]:
    """{version pk: live AUROC over its recorded outcomes (None below MIN_OUTCOMES or with one
    class)}. One query."""
    from sklearn.metrics import roc_auc_score

    found: dict[int, tuple[list[float], list[int]]] = {v.pk: ([], []) for v in versions}
    rows = (
        RiskAssessment.objects.filter(model_version__in=list(found))
        .exclude(outcome="")
        .values_list("model_version_id", "probability", "outcome")
    )
    for pk, probability, outcome in rows:
        found[pk][0].append(probability)
        found[pk][1].append(1 if outcome == Outcome.CONFIRMED else 0)
    result: dict[int, float | None] = {}
    for pk, (probs, labels) in found.items():
        positives = sum(labels)
        ok = len(labels) >= MIN_OUTCOMES and 0 < positives < len(labels)
        result[pk] = float(roc_auc_score(labels, probs)) if ok else None
    return result


# --- population aggregates --------------------------------------------------------------------
# Counts of the latest assessment of each patient (RiskAssessment.is_latest) for one disease,
# grouped in SQL over the snapshots taken at assessment time (disease, subject_age, subject_sex):
# no patient is loaded or decrypted, so the cost does not grow with a loop over patients.

POPULATION_GROUPINGS = ("histogram", "age", "sex")
POPULATION_BINS = 10
# (label, lowest age, highest age) of each age band; ages are capped at 90 (SUBJECT_AGE_CAP).
AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("<30", 0, 29),
    ("30-39", 30, 39),
    ("40-49", 40, 49),
    ("50-59", 50, 59),
    ("60-69", 60, 69),
    ("70-79", 70, 79),
    ("80-89", 80, 89),
    ("90+", 90, RiskAssessment.SUBJECT_AGE_CAP),
)


def _latest_assessments(
    *, disease: str, patients: QuerySet[Patient] | None
) -> QuerySet[RiskAssessment]:
    rows = RiskAssessment.objects.filter(disease=disease, is_latest=True)
    return rows if patients is None else rows.filter(patient__in=patients)


def population_risk_counts(
    *, disease: str, by: str, patients: QuerySet[Patient] | None = None
) -> list[dict[str, Any]]:
    """The latest `disease` assessment of each patient in `patients` (None: every patient),
    counted per group, risk band and model version: [{"group", "band", "version_id", "n"}].
    `by` is "histogram" (group: the probability decile 0..9, 1.0 in the last), "age" (group: an
    AGE_BANDS label, None when the age was not known) or "sex" (group: the recorded sex, ""
    when not known). One query."""
    from django.db.models import Case, CharField, F, Value, When
    from django.db.models.functions import Floor

    if by not in POPULATION_GROUPINGS:
        raise ValueError(f"Unknown grouping {by!r}.")
    rows = _latest_assessments(disease=disease, patients=patients)
    if by == "histogram":
        group: Any = Floor(F("probability") * POPULATION_BINS)
    elif by == "age":
        group = Case(
            *(
                When(subject_age__gte=low, subject_age__lte=high, then=Value(label))
                for label, low, high in AGE_BANDS
            ),
            default=Value(None),
            output_field=CharField(),
        )
    else:
        group = F("subject_sex")
    counted = (
        rows.annotate(group=group)
        .values("group", "risk_band", "model_version_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("group", "risk_band", "model_version_id", "n")
    )
    out: dict[tuple[Any, str, int], int] = {}
    for key, band, version_id, n in counted:
        if by == "histogram":
            key = min(int(key), POPULATION_BINS - 1)
        out[(key, band, version_id)] = out.get((key, band, version_id), 0) + n
    return [
        {"group": key, "band": band, "version_id": version_id, "n": n}
        for (key, band, version_id), n in out.items()
    ]


def population_size(*, patients: QuerySet[Patient] | None = None) -> int:
    """How many patients `patients` holds (None: every patient). One query."""
    return (Patient.objects.all() if patients is None else patients).count()


# --- dashboards: a user's patients by risk ----------------------------------------------------

HIGH_RISK_ROWS = 20
_BANDS = (RiskBand.LOW, RiskBand.MODERATE, RiskBand.HIGH)


def _latest_assessments_for_user(*, user: User) -> QuerySet[RiskAssessment]:
    return RiskAssessment.objects.filter(is_latest=True, patient__in=patients_visible_to(user=user))


def high_risk_latest_for_user(*, user: User, limit: int = HIGH_RISK_ROWS) -> list[RiskAssessment]:
    """The latest assessments in the high band of the patients `user` may see, the most probable
    first, with patient and model version (at most `limit`: their names are decrypted)."""
    rows = _latest_assessments_for_user(user=user).filter(risk_band=RiskBand.HIGH)
    return list(
        rows.select_related("patient", "model_version").order_by("-probability", "-pk")[:limit]
    )


def high_risk_patient_count_for_user(*, user: User) -> int:
    """How many patients `user` may see have a latest assessment (of any disease) that is high."""
    rows = _latest_assessments_for_user(user=user).filter(risk_band=RiskBand.HIGH)
    return rows.order_by().values("patient_id").distinct().count()


def risk_band_counts_for_user(*, user: User) -> dict[str, dict[str, int]]:
    """{disease: {band: patients}} by the band of each patient's latest assessment of each
    disease, over the patients `user` may see (one query)."""
    rows = (
        _latest_assessments_for_user(user=user)
        .order_by()
        .values("disease", "risk_band")
        .annotate(n=Count("pk"))
    )
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["disease"], {band: 0 for band in _BANDS})[row["risk_band"]] = row["n"]
    return counts
