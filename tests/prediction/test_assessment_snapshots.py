"""A risk assessment snapshots what the dashboards aggregate in SQL: its disease, the patient's
sex and age on the day (capped at 90), and whether it is the patient's latest for the disease."""

import datetime as dt

import pytest
from django.utils import timezone

from prediction.models import ModelVersion, RiskAssessment
from tests import factories

pytestmark = pytest.mark.django_db


def version_make(disease: str) -> ModelVersion:
    return ModelVersion.objects.create(
        disease=disease,
        version=f"{disease}-snap",
        algorithm="logistic_regression",
        artifact_dir=f"{disease}/snap",
        manifest={},
    )


def assess(version: ModelVersion, patient, **extra) -> RiskAssessment:
    return RiskAssessment.objects.create(
        patient=patient,
        model_version=version,
        inputs={},
        probability=0.3,
        risk_band="moderate",
        contributions={},
        **extra,
    )


def born_years_ago(years: int) -> dt.date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - dt.timedelta(days=1)


def test_an_assessment_records_disease_sex_and_age_on_the_day():
    patient = factories.patient_make(sex="female", date_of_birth=born_years_ago(47))
    row = assess(version_make("diabetes"), patient)
    row.refresh_from_db()
    assert (row.disease, row.subject_sex, row.subject_age) == ("diabetes", "female", 47)


def test_ages_over_89_are_recorded_as_90():
    patient = factories.patient_make(date_of_birth=born_years_ago(97))
    assert assess(version_make("diabetes"), patient).subject_age == 90


def test_the_newest_assessment_per_disease_is_the_only_latest():
    patient = factories.patient_make()
    diabetes, heart = version_make("diabetes"), version_make("heart")
    first = assess(diabetes, patient)
    other_disease = assess(heart, patient)
    second = assess(diabetes, patient)
    latest = set(RiskAssessment.objects.filter(is_latest=True).values_list("pk", flat=True))
    assert latest == {second.pk, other_disease.pk}
    assert first.pk not in latest


def test_an_older_assessment_inserted_later_does_not_take_the_flag():
    patient = factories.patient_make()
    diabetes = version_make("diabetes")
    newest = assess(diabetes, patient)
    backfilled = assess(diabetes, patient, created_at=timezone.now() - dt.timedelta(days=30))
    assert not backfilled.is_latest
    newest.refresh_from_db()
    assert newest.is_latest
