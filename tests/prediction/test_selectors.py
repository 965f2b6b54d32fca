"""Reads: model versions and cards, a patient's assessments, access to one, the timeline."""

import uuid

import pytest
from django.http import Http404
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AuditAction, AuditEvent
from patients.selectors import TIMELINE_PROVIDERS, patient_timeline
from patients.services import care_team_add_member
from prediction.ml.diseases import DISEASES
from prediction.selectors import (
    assessment_get_for_user,
    assessment_timeline_items,
    assessments_for_patient,
    model_cards_active,
    model_version_get,
    model_versions_active,
)
from prediction.services import risk_assess
from tests import factories
from tests.prediction.conftest import all_values

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def assessment(active_risk_models, clinician, patient):
    return risk_assess(
        by=clinician, patient=patient, disease="diabetes", overrides=all_values("diabetes")
    )


def test_active_versions_and_one_by_public_id(active_risk_models):
    assert list(model_versions_active()) == [active_risk_models[k] for k in sorted(DISEASES)]
    version = active_risk_models["heart_disease"]
    assert model_version_get(public_id=version.public_id) == version
    assert model_version_get(public_id=str(version.public_id)) == version
    for wrong in (uuid.uuid4(), "not-a-uuid"):
        with pytest.raises(Http404):
            model_version_get(public_id=wrong)


def test_the_active_cards_name_dataset_metrics_and_synthetic_flag(active_risk_models):
    cards = model_cards_active()
    assert [card["disease"] for card in cards] == sorted(DISEASES)
    for card in cards:
        version = active_risk_models[card["disease"]]
        assert card["kind"] == "risk"
        assert card["version"] == version.version
        assert card["synthetic"] is False
        assert card["dataset"]["name"]
        assert 0.5 < card["metrics"]["auroc"] <= 1.0
        assert card["name"].endswith("risk model")


def test_a_patients_assessments_newest_first(active_risk_models, clinician, patient):
    first = risk_assess(
        by=clinician, patient=patient, disease="diabetes", overrides=all_values("diabetes")
    )
    second = risk_assess(
        by=clinician,
        patient=patient,
        disease="heart_disease",
        overrides=all_values("heart_disease"),
    )
    other = factories.patient_make()
    assert list(assessments_for_patient(patient=patient)) == [second, first]
    assert not assessments_for_patient(patient=other).exists()


def test_an_assessment_is_found_for_the_care_team(assessment, team):
    colleague = factories.ClinicianFactory()
    care_team_add_member(team=team, user=colleague)
    found = assessment_get_for_user(user=colleague, public_id=assessment.public_id)
    assert found == assessment
    assert found.patient == assessment.patient


def test_another_team_gets_404_and_the_attempt_is_audited(assessment, other_clinician):
    with pytest.raises(Http404):
        assessment_get_for_user(user=other_clinician, public_id=assessment.public_id, ip="10.0.0.9")
    denial = AuditEvent.objects.filter(action=AuditAction.DENIED).latest("seq")
    assert denial.actor == other_clinician
    assert denial.ip == "10.0.0.9"


def test_an_unknown_assessment_gets_404_and_is_audited(db, clinician):
    wanted = uuid.uuid4()
    with pytest.raises(Http404):
        assessment_get_for_user(user=clinician, public_id=wanted)
    denial = AuditEvent.objects.filter(action=AuditAction.DENIED).latest("seq")
    assert denial.object_type == "prediction.riskassessment"
    assert denial.object_id == str(wanted)


def test_the_timeline_lists_the_assessment(assessment, patient):
    assert assessment_timeline_items in TIMELINE_PROVIDERS  # registered by PredictionConfig
    items = [item for item in patient_timeline(patient=patient) if item.kind == "risk"]
    assert len(items) == 1
    item = items[0]
    percent = round(100 * assessment.probability)
    title = DISEASES["diabetes"].title
    assert item.title == f"{title} risk: {percent} % ({assessment.risk_band})"
    assert item.entry == assessment
    assert item.at == assessment.created_at
    assert assessment.model_version.version in item.detail


def test_the_record_page_and_the_timeline_api_show_the_assessment(
    client, assessment, clinician, patient
):
    title = f"{DISEASES['diabetes'].title} risk: {round(100 * assessment.probability)} %"
    client.force_login(clinician)
    page = client.get(reverse("patients:detail", args=[patient.public_id]))
    assert page.status_code == 200
    assert title in page.content.decode()

    api = APIClient()
    api.force_authenticate(clinician)
    rows = api.get(reverse("api-patient-timeline", args=[patient.public_id])).json()["results"]
    risk = [row for row in rows if row["kind"] == "risk"]
    assert [row["entry"] for row in risk] == [str(assessment.public_id)]
    assert risk[0]["title"].startswith(title)
