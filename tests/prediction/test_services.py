"""Assessing a patient, recording outcomes, registering and activating model versions."""

import datetime as dt
import json
import math

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from healthmentor.artifacts import ArtifactIntegrityError
from patients import services as record
from prediction.features import features_for_patient
from prediction.loading import risk_model_get
from prediction.ml.diseases import DISEASES
from prediction.models import ModelVersion, RiskAssessment
from prediction.services import (
    ENTERED_SOURCE,
    model_version_activate,
    model_version_register,
    risk_assess,
    risk_outcome_record,
)
from tests.prediction.conftest import (
    all_values,
    artifact_copy,
    artifact_tamper,
    feature_of_kind,
    typical_values,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

DISEASE_KEYS = sorted(DISEASES)


def assert_nothing_written(events_before: int) -> None:
    assert RiskAssessment.objects.count() == 0
    assert AuditEvent.objects.count() == events_before


# --- risk_assess ------------------------------------------------------------------------------


@pytest.mark.parametrize("disease", DISEASE_KEYS)
def test_risk_assess_stores_the_version_inputs_and_contributions(
    disease, active_risk_models, clinician, patient
):
    version = active_risk_models[disease]
    values = typical_values(version.manifest)
    assessment = risk_assess(by=clinician, patient=patient, disease=disease, overrides=values)

    assessment.refresh_from_db()
    assert assessment.model_version == version
    assert assessment.created_by == clinician
    # A set: PostgreSQL's jsonb keeps no key order (order by the model's feature_names).
    assert set(assessment.inputs) == {spec.name for spec in DISEASES[disease].features}
    for spec in DISEASES[disease].features:
        given = assessment.inputs[spec.name]
        assert set(given) >= {"value", "unit", "source", "observed_at", "entered"}
        assert given["value"] == values[spec.name]
        assert given["unit"] == spec.unit
    assert 0.0 < assessment.probability < 1.0
    assert assessment.risk_band in {"low", "moderate", "high"}

    # The contributions add up to the model's output, which is the probability or its logit.
    c = assessment.contributions
    total = c["base"] + sum(c["features"].values()) + c["calibration_adjustment"]
    assert total == pytest.approx(c["output"], abs=1e-9)
    p = assessment.probability
    assert 0.001 < p < 0.999
    expected = p if c["space"] == "probability" else math.log(p / (1 - p))
    assert c["output"] == pytest.approx(expected, abs=1e-9)
    assert set(c["features"]) == set(values)

    direct = risk_model_get(version).predict(values)
    assert direct.probability == pytest.approx(p, abs=1e-12)


def test_record_values_keep_their_source_and_overrides_say_entered(
    active_risk_models, clinician, patient
):
    disease = "diabetes"
    specs = {spec.name: spec for spec in DISEASES[disease].features}
    observed = [s for s in specs.values() if s.source.get("type") == "observation"]
    assert observed, "the diabetes model reads at least one observation"
    first = observed[0]
    value = (first.low + first.high) / 2
    if first.kind == "integer":
        value = float(round(value))
    record.observation_record(
        by=clinician,
        patient=patient,
        code=first.source["code"],
        value=value,
        unit=first.unit,
        effective_at=timezone.now() - dt.timedelta(days=2),
    )
    from_record = {
        fv.spec.name for fv in features_for_patient(patient=patient, disease=disease) if fv.value
    }
    overrides = {k: v for k, v in all_values(disease).items() if k not in from_record}
    # The form posts the record's value back unchanged: it keeps the record as its source.
    overrides[first.name] = str(value)
    assessment = risk_assess(by=clinician, patient=patient, disease=disease, overrides=overrides)
    kept = assessment.inputs[first.name]
    assert kept["entered"] is False
    assert kept["source"].startswith(f"Observation {first.source['code']}, ")
    assert kept["observed_at"] is not None
    entered = next(name for name in overrides if name != first.name)
    assert assessment.inputs[entered]["entered"] is True
    assert assessment.inputs[entered]["source"] == ENTERED_SOURCE


def test_risk_assess_audits_create_with_ids_and_disease_only(
    active_risk_models, clinician, patient
):
    assessment = risk_assess(
        by=clinician, patient=patient, disease="diabetes", overrides=all_values("diabetes")
    )
    event = AuditEvent.objects.get(
        action=AuditAction.CREATE, object_type="prediction.riskassessment"
    )
    assert event.actor == clinician
    assert event.object_id == str(assessment.public_id)
    assert event.detail == {
        "patient": str(patient.public_id),
        "disease": "diabetes",
        "model_version": str(active_risk_models["diabetes"].public_id),
    }
    text = json.dumps(event.detail)
    for phi in (patient.mrn, patient.given_name, patient.family_name):
        assert phi not in text
    assert patient.date_of_birth.isoformat() not in text


def _error(exc: pytest.ExceptionInfo[ValidationError], field: str) -> str:
    return " ".join(exc.value.message_dict[field])


@pytest.mark.parametrize(
    ("kind", "bad", "message"),
    [
        ("numeric", float("nan"), "must be a finite number (not NaN or infinity)"),
        ("numeric", "nan", "must be a finite number (not NaN or infinity)"),
        ("numeric", float("inf"), "must be a finite number (not NaN or infinity)"),
        ("numeric", "-Infinity", "must be a finite number (not NaN or infinity)"),
        ("numeric", "12,5", "must be a number"),
        ("numeric", [1, 2], "must be a number"),
        ("numeric", {"value": 1}, "must be a number"),
        ("integer", 2.5, "must be a whole number"),
        ("binary", 0.5, "must be 0 (no) or 1 (yes)"),
        ("binary", "maybe", "must be a number"),
    ],
)
def test_bad_values_are_refused_per_field_and_nothing_is_written(
    kind, bad, message, active_risk_models, clinician, patient
):
    disease, spec = feature_of_kind(kind)
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        risk_assess(
            by=clinician,
            patient=patient,
            disease=disease,
            overrides={**all_values(disease), spec.name: bad},
        )
    assert list(exc.value.message_dict) == [spec.name]
    assert _error(exc, spec.name) == f"{spec.label} {message}."
    assert_nothing_written(before)


@pytest.mark.parametrize("side", ["low", "high"])
def test_out_of_range_values_name_the_range_and_unit(side, active_risk_models, clinician, patient):
    disease, spec = feature_of_kind("numeric")
    bad = spec.low - 1 if side == "low" else spec.high + 1
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        risk_assess(
            by=clinician,
            patient=patient,
            disease=disease,
            overrides={**all_values(disease), spec.name: bad},
        )
    assert f"must be between {spec.low:g} and {spec.high:g}" in _error(exc, spec.name)
    assert_nothing_written(before)


def test_a_negative_value_says_it_cannot_be_negative(active_risk_models, clinician, patient):
    candidates = [
        (key, spec)
        for key, d in sorted(DISEASES.items())
        for spec in d.features
        if spec.kind != "binary" and spec.low >= 0
    ]
    disease, spec = candidates[0]
    with pytest.raises(ValidationError) as exc:
        risk_assess(
            by=clinician,
            patient=patient,
            disease=disease,
            overrides={**all_values(disease), spec.name: -1},
        )
    assert _error(exc, spec.name).startswith(f"{spec.label} cannot be negative")
    disease, flag = feature_of_kind("binary")
    with pytest.raises(ValidationError) as exc:
        risk_assess(
            by=clinician,
            patient=patient,
            disease=disease,
            overrides={**all_values(disease), flag.name: -1},
        )
    assert _error(exc, flag.name) == (
        f"{flag.label} cannot be negative: it must be 0 (no) or 1 (yes)."
    )


def test_missing_values_are_each_asked_for(active_risk_models, clinician, patient):
    disease = "breast_cancer"
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        risk_assess(by=clinician, patient=patient, disease=disease, overrides={})
    missing = [
        fv.spec for fv in features_for_patient(patient=patient, disease=disease) if fv.missing
    ]
    assert missing
    assert sorted(exc.value.message_dict) == sorted(spec.name for spec in missing)
    for spec in missing:
        assert _error(exc, spec.name) == f"{spec.label} is missing: enter a value."
    assert_nothing_written(before)


def test_a_blank_override_leaves_the_value_missing(active_risk_models, clinician, patient):
    disease, spec = feature_of_kind("numeric")
    with pytest.raises(ValidationError) as exc:
        risk_assess(
            by=clinician,
            patient=patient,
            disease=disease,
            overrides={**all_values(disease), spec.name: "  "},
        )
    assert "is missing" in _error(exc, spec.name)


def test_an_unknown_feature_is_refused(active_risk_models, clinician, patient):
    with pytest.raises(ValidationError) as exc:
        risk_assess(
            by=clinician,
            patient=patient,
            disease="diabetes",
            overrides={**all_values("diabetes"), "shoe_size": 44},
        )
    assert _error(exc, "shoe_size") == "This model has no such feature."


def test_a_stale_record_value_is_used_and_flagged(active_risk_models, clinician, patient):
    disease = "diabetes"
    spec = next(s for s in DISEASES[disease].features if s.source.get("type") == "observation")
    value = float(round((spec.low + spec.high) / 2))
    record.observation_record(
        by=clinician,
        patient=patient,
        code=spec.source["code"],
        value=value,
        unit=spec.unit,
        effective_at=timezone.now() - dt.timedelta(days=DISEASES[disease].max_age_days + 5),
    )
    overrides = {k: v for k, v in all_values(disease).items() if k != spec.name}
    assessment = risk_assess(by=clinician, patient=patient, disease=disease, overrides=overrides)
    assert assessment.inputs[spec.name]["value"] == value
    assert assessment.inputs[spec.name]["stale"] is True
    # Given again, the same value counts as entered now, no longer stale.
    confirmed = risk_assess(
        by=clinician,
        patient=patient,
        disease=disease,
        overrides={**overrides, spec.name: value},
    )
    assert confirmed.inputs[spec.name]["entered"] is True
    assert confirmed.inputs[spec.name]["stale"] is False


def test_no_active_model_is_refused(db, clinician, patient):
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        risk_assess(
            by=clinician, patient=patient, disease="diabetes", overrides=all_values("diabetes")
        )
    assert _error(exc, "disease").startswith(f"No active model for {DISEASES['diabetes'].title}")
    assert_nothing_written(before)


def test_an_unknown_disease_is_refused(db, clinician, patient):
    with pytest.raises(ValidationError) as exc:
        risk_assess(by=clinician, patient=patient, disease="gout", overrides={})
    assert "Unknown disease model" in _error(exc, "disease")


def test_roles_that_may_not_assess_and_other_teams_are_refused(
    active_risk_models, patient, nurse, other_clinician
):
    for user in (nurse, other_clinician):
        with pytest.raises(PermissionDenied):
            risk_assess(
                by=user, patient=patient, disease="diabetes", overrides=all_values("diabetes")
            )
    assert RiskAssessment.objects.count() == 0


# --- outcomes ---------------------------------------------------------------------------------


@pytest.fixture
def assessment(active_risk_models, clinician, patient):
    return risk_assess(
        by=clinician, patient=patient, disease="diabetes", overrides=all_values("diabetes")
    )


def test_recording_an_outcome_stamps_who_and_when_and_audits(assessment, clinician):
    today = timezone.localdate()
    saved = risk_outcome_record(
        by=clinician, assessment=assessment, outcome="confirmed", outcome_date=today
    )
    saved.refresh_from_db()
    assert (saved.outcome, saved.outcome_date) == ("confirmed", today)
    assert saved.outcome_recorded_by == clinician
    assert saved.outcome_recorded_at is not None
    event = AuditEvent.objects.filter(action=AuditAction.UPDATE).latest("seq")
    assert event.object_id == str(assessment.public_id)
    assert event.detail["disease"] == "diabetes"
    assert "confirmed" not in json.dumps(event.detail)

    # Recording again corrects it.
    risk_outcome_record(by=clinician, assessment=saved, outcome="ruled_out", outcome_date=today)
    saved.refresh_from_db()
    assert saved.outcome == "ruled_out"


@pytest.mark.parametrize(
    ("outcome", "days", "field", "message"),
    [
        ("maybe", 0, "outcome", "Choose confirmed or ruled out."),
        ("", 0, "outcome", "Choose confirmed or ruled out."),
        ("confirmed", 1, "outcome_date", "The outcome date cannot be in the future."),
        ("confirmed", -1, "outcome_date", "The outcome date cannot be before the assessment."),
    ],
)
def test_bad_outcomes_are_refused(assessment, clinician, outcome, days, field, message):
    day = timezone.localdate(assessment.created_at) + dt.timedelta(days=days)
    with pytest.raises(ValidationError) as exc:
        risk_outcome_record(by=clinician, assessment=assessment, outcome=outcome, outcome_date=day)
    assert exc.value.message_dict[field] == [message]
    assessment.refresh_from_db()
    assert assessment.outcome == ""


def test_outcomes_are_refused_to_other_teams_and_roles(assessment, other_clinician, nurse):
    for user in (other_clinician, nurse):
        with pytest.raises(PermissionDenied):
            risk_outcome_record(
                by=user,
                assessment=assessment,
                outcome="confirmed",
                outcome_date=timezone.localdate(),
            )


# --- registration and activation --------------------------------------------------------------


def test_register_is_idempotent_and_audited_once(db, trained_risk_models, risk_model_root):
    folder = trained_risk_models["diabetes"]
    first = model_version_register(folder=folder)
    again = model_version_register(folder=folder.relative_to(risk_model_root))
    assert first.pk == again.pk
    assert ModelVersion.objects.filter(disease="diabetes").count() == 1
    assert not first.is_active
    assert first.artifact_dir == folder.relative_to(risk_model_root).as_posix()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert first.sha256 == manifest["sha256"]
    assert first.version == manifest["version"]
    assert first.algorithm == manifest["algorithm"]
    assert first.manifest == manifest
    assert first.is_synthetic is False
    assert AuditEvent.objects.filter(object_type="prediction.modelversion").count() == 1


def test_register_refuses_a_folder_outside_the_root(db, trained_risk_models, settings, tmp_path):
    settings.RISK_MODEL_ROOT = tmp_path / "elsewhere"
    with pytest.raises(ValidationError, match="not under RISK_MODEL_ROOT"):
        model_version_register(folder=trained_risk_models["diabetes"])


def test_register_refuses_a_tampered_artifact(db, trained_risk_models, settings, tmp_path):
    settings.RISK_MODEL_ROOT = tmp_path
    folder = artifact_copy(trained_risk_models["diabetes"], tmp_path)
    artifact_tamper(folder)
    with pytest.raises(ArtifactIntegrityError):
        model_version_register(folder=folder)
    assert not ModelVersion.objects.exists()


def test_the_same_version_with_another_digest_is_refused(
    db, trained_risk_models, settings, tmp_path
):
    settings.RISK_MODEL_ROOT = tmp_path
    original = artifact_copy(trained_risk_models["diabetes"], tmp_path)
    model_version_register(folder=original)
    (tmp_path / "other").mkdir()
    rival = artifact_copy(trained_risk_models["diabetes"], tmp_path / "other")
    artifact_tamper(rival, rewrite_manifest=True)
    with pytest.raises(ArtifactIntegrityError, match="already registered"):
        model_version_register(folder=rival)


def test_activation_keeps_one_active_version_per_disease(
    db, trained_risk_models, settings, tmp_path, admin_user, clean_model_cache
):
    settings.RISK_MODEL_ROOT = tmp_path
    first = model_version_register(
        folder=artifact_copy(trained_risk_models["diabetes"], tmp_path, version="v-first")
    )
    second = model_version_register(
        folder=artifact_copy(trained_risk_models["diabetes"], tmp_path, version="v-second")
    )
    other = model_version_register(
        folder=artifact_copy(trained_risk_models["heart_disease"], tmp_path)
    )
    model_version_activate(by=admin_user, version=first)
    model_version_activate(by=None, version=other)
    activated = model_version_activate(by=admin_user, version=second)

    assert activated.is_active and activated.activated_by == admin_user
    assert second.is_active  # the caller's instance follows
    assert list(ModelVersion.objects.filter(is_active=True).order_by("disease")) == [
        second,
        other,
    ]
    event = AuditEvent.objects.filter(object_id=str(second.public_id)).latest("seq")
    assert event.action == AuditAction.UPDATE
    assert event.detail["deactivated"] == [str(first.public_id)]
    # Activating the active version again changes nothing.
    events = AuditEvent.objects.count()
    model_version_activate(by=admin_user, version=second)
    assert AuditEvent.objects.count() == events


def test_only_administrators_activate(db, trained_risk_models, risk_model_root, clinician):
    version = model_version_register(folder=trained_risk_models["diabetes"])
    with pytest.raises(PermissionDenied):
        model_version_activate(by=clinician, version=version)
    version.refresh_from_db()
    assert not version.is_active


def test_a_tampered_artifact_is_never_activated(
    db, trained_risk_models, settings, tmp_path, admin_user, clean_model_cache
):
    settings.RISK_MODEL_ROOT = tmp_path
    good = model_version_register(
        folder=artifact_copy(trained_risk_models["diabetes"], tmp_path, version="v-good")
    )
    bad_folder = artifact_copy(trained_risk_models["diabetes"], tmp_path, version="v-bad")
    bad = model_version_register(folder=bad_folder)
    model_version_activate(by=admin_user, version=good)
    artifact_tamper(bad_folder)
    with pytest.raises(ArtifactIntegrityError):
        model_version_activate(by=admin_user, version=bad)
    assert list(ModelVersion.objects.filter(is_active=True)) == [good]
