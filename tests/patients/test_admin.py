"""Django admin of the patient record: no PHI in lists, exact search through blind indexes,
writes through the services (indexes, care-team grants, audit), every model registered."""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent
from patients import models, services
from patients.crypto import blind_index
from patients.models import CareTeam, Condition, Observation, Patient
from tests import factories
from tests.accounts.helpers import login_verified


@pytest.fixture
def admin_client(client, admin_user):
    login_verified(client, admin_user)
    return client


def change_url(patient: Patient) -> str:
    return reverse("admin:patients_patient_change", args=[patient.pk])


def patient_form(patient: Patient, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "mrn": patient.mrn,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "sex": patient.sex,
        "phone": patient.phone,
        "email": patient.email,
        "address": patient.address,
        "care_teams": [team.pk for team in patient.care_teams.all()],
    }
    data.update(overrides)
    return data


def test_every_patients_model_is_registered():
    for model in (
        models.Patient,
        models.CareTeam,
        models.Condition,
        models.Medication,
        models.Allergy,
        models.Observation,
        models.LifestyleAssessment,
        models.FamilyHistory,
        models.GeneticMarker,
    ):
        assert admin.site.is_registered(model), model.__name__


@pytest.mark.django_db
def test_patient_list_shows_no_phi(admin_client, patient):
    response = admin_client.get(reverse("admin:patients_patient_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    assert str(patient.public_id) in page
    for phi in (patient.mrn, patient.given_name, patient.family_name):
        assert phi not in page


@pytest.mark.django_db
def test_admin_search_matches_exact_mrn_and_names_through_blind_indexes(
    admin_client, team, patient
):
    other = factories.patient_make(team=team)
    url = reverse("admin:patients_patient_changelist")
    for term in (
        patient.mrn.lower(),
        patient.display_name.upper(),
        patient.family_name,
        str(patient.public_id),
    ):
        result = admin_client.get(url, {"q": term}).context["cl"].result_list
        assert list(result) == [patient], term
    assert list(admin_client.get(url, {"q": patient.mrn[:-1]}).context["cl"].result_list) == []
    assert other.pk != patient.pk


@pytest.mark.django_db
def test_change_page_shows_phi_and_is_audited(admin_client, admin_user, patient):
    response = admin_client.get(change_url(patient))
    assert response.status_code == 200
    assert patient.mrn in response.content.decode()
    event = AuditEvent.objects.filter(action=AuditAction.READ).order_by("-seq").first()
    assert event.object_id == str(patient.public_id)
    assert event.actor == admin_user
    assert event.detail["page"] == "admin"


@pytest.mark.django_db
def test_admin_change_goes_through_the_service_and_keeps_indexes_right(admin_client, patient):
    response = admin_client.post(
        change_url(patient), patient_form(patient, mrn="NEW-123", family_name="Moved")
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    patient.refresh_from_db()
    assert patient.mrn == "NEW-123"
    assert patient.mrn_index == blind_index("NEW-123", purpose="mrn")
    assert patient.family_name_index == blind_index("Moved", purpose="family_name")
    update = AuditEvent.objects.filter(action=AuditAction.UPDATE).order_by("-seq").first()
    assert set(update.detail["fields"]) == {"mrn", "family_name"}


@pytest.mark.django_db
def test_admin_refuses_a_taken_mrn_and_bad_dates_as_field_errors(admin_client, team, patient):
    other = factories.patient_make(team=team)
    for bad, field in (
        ({"mrn": other.mrn}, "mrn"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"date_of_birth": "2023-02-30"}, "date_of_birth"),
        ({"given_name": "A\x00"}, "given_name"),
    ):
        response = admin_client.post(change_url(patient), patient_form(patient, **bad))
        assert response.status_code == 200
        assert field in response.context["adminform"].form.errors
    before = patient.mrn_index
    patient.refresh_from_db()
    assert patient.mrn_index == before


@pytest.mark.django_db
def test_admin_adds_a_patient_through_the_service(admin_client, clinician, team, client):
    response = admin_client.post(
        reverse("admin:patients_patient_add"),
        {
            "mrn": "ADM-1",
            "given_name": "Grace",
            "family_name": "Hopper",
            "date_of_birth": "1950-01-02",
            "sex": "female",
            "phone": "",
            "email": "",
            "address": "",
            "care_teams": [team.pk],
        },
    )
    assert response.status_code == 302
    patient = Patient.objects.get()
    assert patient.mrn_index == blind_index("ADM-1", purpose="mrn")
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, object_id=str(patient.public_id))
    # The team's members can now open the record: the grant was made.
    assert clinician.has_perm("patients.view_patient", patient)


@pytest.mark.django_db
def test_taking_a_team_off_a_patient_in_admin_revokes_access(admin_client, clinician, patient):
    response = admin_client.post(change_url(patient), patient_form(patient, care_teams=[]))
    assert response.status_code == 302
    fresh = type(clinician).objects.get(pk=clinician.pk)  # no cached permissions
    assert not fresh.has_perm("patients.view_patient", patient)
    assert patient.care_teams.count() == 0


@pytest.mark.django_db
def test_patients_cannot_be_deleted_in_admin(admin_client, patient):
    url = reverse("admin:patients_patient_delete", args=[patient.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Patient.objects.filter(pk=patient.pk).exists()


@pytest.mark.django_db
def test_non_staff_cannot_open_patient_admin(client, clinician, patient):
    client.force_login(clinician)
    response = client.get(reverse("admin:patients_patient_changelist"))
    assert response.status_code in (302, 403)
    assert patient.mrn not in response.content.decode()


@pytest.mark.django_db
def test_care_team_list_counts_members_and_patients(admin_client, team, clinician, patient):
    response = admin_client.get(reverse("admin:patients_careteam_changelist"))
    assert response.status_code == 200
    team_row = response.context["cl"].result_list.get(pk=team.pk)
    assert (team_row.members_n, team_row.patients_n) == (1, 1)


@pytest.mark.django_db
def test_care_team_members_are_managed_in_admin(admin_client, team, clinician, patient):
    newcomer = factories.NurseFactory()
    response = admin_client.post(
        reverse("admin:patients_careteam_change", args=[team.pk]),
        {"name": team.name, "description": "", "members": [newcomer.pk]},
    )
    assert response.status_code == 302
    assert set(team.group.user_set.all()) == {newcomer}
    assert type(newcomer).objects.get(pk=newcomer.pk).has_perm("patients.view_patient", patient)
    assert (
        not type(clinician).objects.get(pk=clinician.pk).has_perm("patients.view_patient", patient)
    )


@pytest.mark.django_db
def test_care_team_added_in_admin_gets_its_group(admin_client, clinician):
    response = admin_client.post(
        reverse("admin:patients_careteam_add"),
        {"name": "Cardiology", "description": "Ward 7", "members": [clinician.pk]},
    )
    assert response.status_code == 302
    team = CareTeam.objects.get(name="Cardiology")
    assert list(team.group.user_set.all()) == [clinician]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "condition",
        "medication",
        "allergy",
        "observation",
        "lifestyleassessment",
        "familyhistory",
        "geneticmarker",
    ],
)
def test_record_entry_lists_show_the_patient_by_public_id(admin_client, clinician, patient, name):
    services.condition_add(by=clinician, patient=patient, code="E11", display="Diabetes")
    services.allergy_add(by=clinician, patient=patient, substance="Latex")
    response = admin_client.get(reverse(f"admin:patients_{name}_changelist"))
    assert response.status_code == 200
    assert patient.mrn not in response.content.decode()
    assert patient.family_name not in response.content.decode()
    if name in ("condition", "allergy"):
        assert str(patient.public_id) in response.content.decode()
    add = admin_client.get(reverse(f"admin:patients_{name}_add"))
    assert add.status_code == 200


@pytest.mark.django_db
def test_observation_added_in_admin_goes_through_the_service(admin_client, admin_user, patient):
    url = reverse("admin:patients_observation_add")
    form = {
        "patient": patient.pk,
        "code": "8310-5",
        "value": "98.6",
        "unit": "[degF]",
        "effective_at_0": "2024-01-05",
        "effective_at_1": "08:00:00",
    }
    response = admin_client.post(url, {**form, "value": "9000"})
    assert response.status_code == 200
    assert "value" in response.context["adminform"].form.errors
    assert Observation.objects.count() == 0
    response = admin_client.post(url, form)
    assert response.status_code == 302
    obs = Observation.objects.get()
    assert (round(obs.value, 1), obs.unit, obs.display) == (37.0, "Cel", "Body temperature")
    assert obs.recorded_by == admin_user


@pytest.mark.django_db
def test_a_rule_only_the_service_knows_is_reported_and_nothing_is_written(admin_client, patient):
    response = admin_client.post(
        reverse("admin:patients_condition_add"),
        {
            "patient": patient.pk,
            "system": "ICD-10",
            "code": "I10",
            "display": "Hypertension",
            "onset_date": "2999-01-01",
            "status": "active",
            "notes": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "onset date cannot be in the future" in response.content.decode()
    assert Condition.objects.count() == 0


@pytest.mark.django_db
def test_record_entry_change_in_admin_is_audited(admin_client, clinician, patient):
    condition = services.condition_add(by=clinician, patient=patient, code="E11", display="DM")
    response = admin_client.post(
        reverse("admin:patients_condition_change", args=[condition.pk]),
        {
            "system": "ICD-10",
            "code": "E11",
            "display": "Type 2 diabetes mellitus",
            "status": "resolved",
            "notes": "",
        },
    )
    assert response.status_code == 302
    condition.refresh_from_db()
    assert condition.status == "resolved"
    event = AuditEvent.objects.filter(action=AuditAction.UPDATE).order_by("-seq").first()
    assert event.object_id == str(condition.public_id)
    assert set(event.detail["fields"]) == {"display", "status"}
