"""Every write of the prediction app: assessing a patient, recording the real outcome,
registering and activating model versions. Each validates first, writes in one transaction and
appends to the audit trail (ids and the disease, never PHI or clinical values).

Callers pass a patient they obtained from `patients.selectors` for the acting user; the services
check again that the user may see the patient and that their role may assess.
"""

import dataclasses
import datetime as dt
import math
import numbers
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, Role, User
from healthmentor.artifacts import (
    ArtifactIntegrityError,
    artifact_dir_under,
    manifest_read_verified,
)
from patients.catalog import unit_label
from patients.models import Patient
from patients.selectors import patients_visible_to
from prediction.features import FeatureValue, feature_values_for_specs
from prediction.loading import risk_model_get, risk_model_root
from prediction.ml.diseases import DISEASES, FeatureSpec
from prediction.models import ModelVersion, Outcome, RiskAssessment

if TYPE_CHECKING:
    from prediction.ml.model import RiskModel

# Roles that may run a model on a patient and record its outcome (on patients they can see).
ASSESSING_ROLES = frozenset({Role.CLINICIAN, Role.ADMIN})
ENTERED_SOURCE = "Entered at assessment"
_SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(FeatureSpec))
_YES = {"yes", "y", "true", "on"}
_NO = {"no", "n", "false", "off"}


def user_may_assess(*, user: User) -> bool:
    """Whether `user`'s role may assess patients (which patients is the care team's matter)."""
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_portal_admin or user.role in ASSESSING_ROLES)
    )


def _require_may_assess(user: User, patient: Patient) -> None:
    if not user_may_assess(user=user):
        raise PermissionDenied("Your role does not allow risk assessments.")
    if not patients_visible_to(user=user).filter(pk=patient.pk).exists():
        raise PermissionDenied("You do not have access to this patient.")


# --- values -----------------------------------------------------------------------------------


# UCUM units whose code is not how people write them, beyond the catalog's labels.
_UNIT_WORDS = {"a": "years"}


def _bounds(spec: FeatureSpec) -> str:
    unit = _UNIT_WORDS.get(spec.unit) or unit_label(spec.unit)
    return f"between {spec.low:g} and {spec.high:g}" + (f" {unit}" if unit else "")


def feature_value_check(spec: FeatureSpec, raw: object) -> float:
    """`raw` (a number, a numeric string, a bool, "yes"/"no" for a binary feature) as the float
    the model takes; ValueError with a message for the person entering it when it is not a
    finite value of the feature's kind inside [low, high]."""
    label = spec.label
    number: float
    if isinstance(raw, bool):
        number = 1.0 if raw else 0.0
    elif isinstance(raw, numbers.Real | Decimal):
        try:
            number = float(raw)
        except (OverflowError, ValueError):  # an int beyond float's range, a signalling NaN
            number = math.nan
    elif isinstance(raw, str):
        text = raw.strip()
        if spec.kind == "binary" and text.lower() in _YES | _NO:
            number = 1.0 if text.lower() in _YES else 0.0
        else:
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"{label} must be a number.") from None
    else:
        raise ValueError(f"{label} must be a number.")
    if not math.isfinite(number):
        raise ValueError(f"{label} must be a finite number (not NaN or infinity).")
    expected = "0 (no) or 1 (yes)" if spec.kind == "binary" else _bounds(spec)
    if number < 0 <= spec.low:
        raise ValueError(f"{label} cannot be negative: it must be {expected}.")
    if spec.kind == "binary" and number not in (0.0, 1.0):
        raise ValueError(f"{label} must be {expected}.")
    if spec.kind == "integer" and not number.is_integer():
        raise ValueError(f"{label} must be a whole number.")
    if not spec.low <= number <= spec.high:
        raise ValueError(f"{label} must be {_bounds(spec)}.")
    return number


def _blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _when(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def model_feature_specs(model: "RiskModel") -> list[FeatureSpec]:
    """The feature schema a loaded model was trained with, in its feature order: its manifest's,
    falling back to the code's DISEASES entry for a feature the manifest does not describe."""
    described: dict[str, FeatureSpec] = {}
    for item in model.manifest.get("features", []):
        try:
            spec = FeatureSpec(**{key: item[key] for key in _SPEC_FIELDS if key in item})
        except TypeError:
            continue
        described[spec.name] = spec
    disease = DISEASES.get(model.disease)
    if disease is not None:
        for spec in disease.features:
            described.setdefault(spec.name, spec)
    missing = [name for name in model.feature_names if name not in described]
    if missing:
        raise ValidationError(
            {NON_FIELD_ERRORS: [f"No schema describes the model's features {', '.join(missing)}."]}
        )
    return [described[name] for name in model.feature_names]


def _inputs(
    values: list[FeatureValue], overrides: Mapping[str, object]
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """The final value of every feature and its stored provenance; ValidationError listing every
    field at fault."""
    names = {fv.spec.name for fv in values}
    errors: dict[str, list[str]] = {
        str(name): ["This model has no such feature."] for name in overrides if name not in names
    }
    final: dict[str, float] = {}
    inputs: dict[str, dict[str, Any]] = {}
    for fv in values:
        spec = fv.spec
        raw = overrides.get(spec.name)
        entered = not _blank(raw)
        if not entered:
            raw = fv.value
        if raw is None:
            errors[spec.name] = [f"{spec.label} is missing: enter a value."]
            continue
        try:
            value = feature_value_check(spec, raw)
        except ValueError as exc:
            errors[spec.name] = [str(exc)]
            continue
        # A form posts the pre-filled record values back: one left as it was keeps its source
        # and date. A stale one given again counts as entered now (the clinician confirmed it).
        if entered and fv.value is not None and not fv.stale and value == fv.value:
            entered = False
        final[spec.name] = value
        inputs[spec.name] = {
            "value": value,
            "unit": spec.unit,
            "source": ENTERED_SOURCE if entered else fv.source,
            "observed_at": None if entered else _when(fv.observed_at),
            "entered": entered or spec.source.get("type") == "entered",
            "stale": False if entered else fv.stale,
        }
    if errors:
        raise ValidationError(errors)
    return final, inputs


# --- assessments ------------------------------------------------------------------------------


def model_version_active(*, disease: str) -> ModelVersion:
    """The active version of `disease`; ValidationError on the "disease" field when the disease
    is unknown or no version of it is active."""
    spec = DISEASES.get(disease)
    if spec is None:
        raise ValidationError({"disease": [f"Unknown disease model {disease!r}."]})
    version = ModelVersion.objects.filter(disease=disease, is_active=True).first()
    if version is None:
        raise ValidationError(
            {
                "disease": [
                    f"No active model for {spec.title}: an administrator must train, register "
                    "and activate one."
                ]
            }
        )
    return version


@transaction.atomic
def risk_assess(
    *,
    by: User,
    patient: Patient,
    disease: str,
    overrides: Mapping[str, object] | None = None,
) -> RiskAssessment:
    """Score `patient` with the ACTIVE model of `disease` and store the assessment.

    Values come from the record (features_for_patient) unless `overrides` gives them (a blank
    override leaves the record's value; one equal to a current record value keeps the record as
    its source, so a form may post every pre-filled value back). Every feature must end with a
    finite value of its kind inside the schema's [low, high], else
    ValidationError({feature: [message]}) and nothing is written. Stores the inputs with their
    sources, the probability, the band, the contributions (which add up to the model's output)
    and the version; audits CREATE."""
    from prediction.ml.model import risk_band  # loaded with the model already: no cost here

    _require_may_assess(by, patient)
    version = model_version_active(disease=disease)
    model = risk_model_get(version)
    values = feature_values_for_specs(
        patient=patient,
        specs=model_feature_specs(model),
        max_age_days=DISEASES[disease].max_age_days,
    )
    final, inputs = _inputs(values, overrides or {})
    try:
        prediction = model.predict(final)
    except ValueError as exc:
        raise ValidationError({NON_FIELD_ERRORS: [str(exc)]}) from None
    assessment = RiskAssessment.objects.create(
        patient=patient,
        model_version=version,
        inputs=inputs,
        probability=float(prediction.probability),
        risk_band=risk_band(prediction.probability, model.manifest),
        contributions={
            "space": prediction.space,
            "base": float(prediction.base),
            "features": {name: float(v) for name, v in prediction.contributions.items()},
            "calibration_adjustment": float(prediction.calibration_adjustment),
            "output": float(prediction.output),
        },
        created_by=by,
    )
    audit_record(
        actor=by,
        action=AuditAction.CREATE,
        obj=assessment,
        detail={
            "patient": str(patient.public_id),
            "disease": disease,
            "model_version": str(version.public_id),
        },
    )
    return assessment


@transaction.atomic
def risk_outcome_record(
    *, by: User, assessment: RiskAssessment, outcome: str, outcome_date: dt.date
) -> RiskAssessment:
    """Record what really happened (confirmed / ruled out, on a day no later than today and no
    earlier than the assessment). Recording again corrects the earlier entry. Audits UPDATE."""
    _require_may_assess(by, assessment.patient)
    errors: dict[str, list[str]] = {}
    if outcome not in Outcome.values:
        errors["outcome"] = ["Choose confirmed or ruled out."]
    if not isinstance(outcome_date, dt.date) or isinstance(outcome_date, dt.datetime):
        errors["outcome_date"] = ["Enter a date."]
    elif outcome_date > timezone.localdate():
        errors["outcome_date"] = ["The outcome date cannot be in the future."]
    elif outcome_date < timezone.localdate(assessment.created_at):
        errors["outcome_date"] = ["The outcome date cannot be before the assessment."]
    if errors:
        raise ValidationError(errors)
    locked = RiskAssessment.objects.select_for_update().get(pk=assessment.pk)
    locked.outcome = outcome
    locked.outcome_date = outcome_date
    locked.outcome_recorded_at = timezone.now()
    locked.outcome_recorded_by = by
    locked.save(
        update_fields=["outcome", "outcome_date", "outcome_recorded_at", "outcome_recorded_by"]
    )
    audit_record(
        actor=by,
        action=AuditAction.UPDATE,
        obj=locked,
        detail={
            "patient": str(assessment.patient.public_id),
            "disease": locked.model_version.disease,
            "model_version": str(locked.model_version.public_id),
            "fields": ["outcome", "outcome_date"],
        },
    )
    return locked


# --- model versions ---------------------------------------------------------------------------


def _artifact_dir(folder: Path) -> tuple[Path, str]:
    root = risk_model_root()
    try:
        return artifact_dir_under(root, folder)
    except ValueError:
        raise ValidationError(
            {"folder": [f"{folder} is not under RISK_MODEL_ROOT ({root.resolve()})."]}
        ) from None


def model_version_register(*, folder: Path) -> ModelVersion:
    """The ModelVersion row of the artifact in `folder` (absolute, or relative to
    RISK_MODEL_ROOT), created inactive if new. Idempotent by (disease, version); an artifact
    whose sha256 differs from its manifest, or from an earlier registration of the same
    version, is refused with ArtifactIntegrityError."""
    path, relative = _artifact_dir(folder)
    manifest = manifest_read_verified(path)
    disease, version = str(manifest.get("disease", "")), str(manifest.get("version", ""))
    if disease not in DISEASES:
        raise ValidationError({"folder": [f"{path}: unknown disease {disease!r}."]})
    if not version:
        raise ValidationError({"folder": [f"{path}: the manifest names no version."]})
    existing = ModelVersion.objects.filter(disease=disease, version=version).first()
    if existing is None:
        try:
            with transaction.atomic():
                existing = ModelVersion.objects.create(
                    disease=disease,
                    version=version,
                    algorithm=str(manifest.get("algorithm", ""))[:60],
                    artifact_dir=relative,
                    sha256=str(manifest["sha256"]),
                    manifest=manifest,
                    is_synthetic=bool(manifest.get("synthetic", False)),
                )
                audit_record(
                    actor=None,
                    action=AuditAction.CREATE,
                    obj=existing,
                    detail={"disease": disease, "version": version},
                )
                return existing
        except IntegrityError:
            # Registered by a concurrent call between our look and our insert.
            existing = ModelVersion.objects.get(disease=disease, version=version)
    if existing.sha256 != manifest["sha256"]:
        raise ArtifactIntegrityError(
            f"{disease} {version} is already registered with sha256 {existing.sha256}; the "
            f"artifact in {path} has {manifest['sha256']}. A retrained model gets a new version."
        )
    return existing


@transaction.atomic
def model_version_activate(*, by: User | None, version: ModelVersion) -> ModelVersion:
    """Make `version` the one active model of its disease, deactivating the previous one in the
    same transaction. The artifact is loaded and verified first: a missing or tampered one is
    refused (ArtifactIntegrityError) and nothing changes. `by` None is the system (the training
    command). Activating the active version changes nothing. Audits UPDATE."""
    if by is not None and not by.is_portal_admin:
        raise PermissionDenied("Only administrators activate model versions.")
    # Lock the disease's rows: two activations at once must not both see "none active".
    rows = list(
        ModelVersion.objects.select_for_update().filter(disease=version.disease).order_by("pk")
    )
    target = next((row for row in rows if row.pk == version.pk), None)
    if target is None:
        raise ValidationError("This model version no longer exists.")
    if target.is_active:
        return target
    risk_model_get(target)
    previous = [row for row in rows if row.is_active]
    ModelVersion.objects.filter(pk__in=[row.pk for row in previous]).update(is_active=False)
    target.is_active = True
    target.activated_at = timezone.now()
    target.activated_by = by
    target.save(update_fields=["is_active", "activated_at", "activated_by"])
    audit_record(
        actor=by,
        action=AuditAction.UPDATE,
        obj=target,
        detail={
            "disease": target.disease,
            "version": target.version,
            "activated": True,
            "deactivated": [str(row.public_id) for row in previous],
        },
    )
    for field in ("is_active", "activated_at", "activated_by"):
        setattr(version, field, getattr(target, field))
    return target
