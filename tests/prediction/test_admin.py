"""Django admin of the risk models: versions listed and activated one per disease; assessments
read-only and listed without PHI."""

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent
from prediction.models import ModelVersion, RiskAssessment
from prediction.services import model_version_register, risk_assess
from tests.accounts.helpers import login_verified
from tests.prediction.conftest import all_values, artifact_copy

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def admin_client(client, admin_user):
    login_verified(client, admin_user)
    return client


@pytest.fixture
def assessment(active_risk_models, clinician, patient):
    return risk_assess(
        by=clinician, patient=patient, disease="diabetes", overrides=all_values("diabetes")
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_both_models_are_registered():
    assert admin.site.is_registered(ModelVersion)
    assert admin.site.is_registered(RiskAssessment)


def test_version_list_and_page_load_for_an_admin(admin_client, active_risk_models):
    response = admin_client.get(reverse("admin:prediction_modelversion_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    version = active_risk_models["diabetes"]
    auroc = version.manifest["metrics"]["auroc"]
    assert version.version in page
    assert f"{auroc:.3f}" in page
    assert "Activate this version" in page

    response = admin_client.get(reverse("admin:prediction_modelversion_change", args=[version.pk]))
    assert response.status_code == 200
    assert version.sha256 in response.content.decode()
    assert admin_client.get(reverse("admin:prediction_modelversion_add")).status_code == 403


def test_the_activate_action_activates_one_version_per_disease(
    admin_client, admin_user, trained_risk_models, settings, tmp_path
):
    settings.RISK_MODEL_ROOT = tmp_path
    first, second = (
        model_version_register(
            folder=artifact_copy(trained_risk_models["diabetes"], tmp_path, version=name)
        )
        for name in ("v-one", "v-two")
    )
    url = reverse("admin:prediction_modelversion_changelist")

    response = admin_client.post(
        url, {"action": "activate", "_selected_action": [first.pk, second.pk]}, follow=True
    )
    assert "Select one version per disease" in " ".join(messages_of(response))
    assert not ModelVersion.objects.filter(is_active=True).exists()

    response = admin_client.post(
        url, {"action": "activate", "_selected_action": [second.pk]}, follow=True
    )
    assert "is now the active diabetes model" in " ".join(messages_of(response))
    second.refresh_from_db()
    assert second.is_active and second.activated_by == admin_user

    admin_client.post(url, {"action": "activate", "_selected_action": [first.pk]})
    assert list(ModelVersion.objects.filter(is_active=True)) == [first]


def test_assessment_list_shows_the_patients_public_id_and_no_phi(admin_client, assessment, patient):
    url = reverse("admin:prediction_riskassessment_changelist")
    response = admin_client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert str(patient.public_id) in page
    for phi in (patient.mrn, patient.given_name, patient.family_name):
        assert phi not in page
    for query in ({"risk_band": assessment.risk_band}, {"model_version__disease": "diabetes"}):
        filtered = admin_client.get(url, query)
        assert list(filtered.context["cl"].result_list) == [assessment]
    assert list(admin_client.get(url, {"outcome": "confirmed"}).context["cl"].result_list) == []


def test_an_assessment_is_read_only_and_reading_it_is_audited(admin_client, assessment):
    url = reverse("admin:prediction_riskassessment_change", args=[assessment.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    read = AuditEvent.objects.filter(action=AuditAction.READ).latest("seq")
    assert read.object_id == str(assessment.public_id)
    assert admin_client.post(url, {}).status_code == 403
    assert admin_client.get(reverse("admin:prediction_riskassessment_add")).status_code == 403
    delete = reverse("admin:prediction_riskassessment_delete", args=[assessment.pk])
    assert admin_client.get(delete).status_code == 403


def test_a_clinician_gets_no_admin(client, clinician, active_risk_models):
    login_verified(client, clinician)
    response = client.get(reverse("admin:prediction_modelversion_changelist"))
    assert response.status_code in (302, 403)
