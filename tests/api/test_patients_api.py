"""/api/v1/patients/: list (pagination, filters, blind-index search), create, detail, PATCH."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from accounts.models import AuditAction, AuditEvent
from patients.models import Patient
from tests import factories
from tests.api.conftest import reads

pytestmark = pytest.mark.django_db

NEW_PATIENT = {
    "mrn": "API-0001",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "date_of_birth": "1985-12-10",
    "sex": "female",
    "email": "ada@example.test",
}


def url(patient: Patient | None = None) -> str:
    return "/api/v1/patients/" if patient is None else f"/api/v1/patients/{patient.public_id}/"


# --- list -------------------------------------------------------------------------------------


def test_the_list_shows_the_care_teams_patients_only(api, team, clinician, patient):
    factories.patient_make(team=factories.care_team_make(), by=None)  # another team's patient
    response = api.get(url())
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["public_id"] == str(patient.public_id)
    assert row["mrn"] == patient.mrn
    assert row["care_teams"] == [str(team.public_id)]
    assert row["created_by"] == str(clinician.public_id)
    assert "id" not in row and "pk" not in row


@pytest.mark.parametrize("created_by", [True, False])
def test_the_patient_representation_is_the_generic_model_serializers(team, clinician, created_by):
    # PatientSerializer writes its rows by hand for speed: they must stay what DRF would write.
    from rest_framework import serializers

    from patients.serializers import PatientSerializer

    patient = factories.patient_make(team=team, by=clinician if created_by else None)
    patient.care_teams.add(factories.care_team_make())
    patient = Patient.objects.get(pk=patient.pk)  # the values as read back from the database
    fast = PatientSerializer(patient).data
    generic = serializers.ModelSerializer.to_representation(PatientSerializer(patient), patient)
    assert list(fast) == PatientSerializer.Meta.fields
    assert JSONRenderer().render(fast) == JSONRenderer().render(generic)


def test_another_care_team_sees_an_empty_list(other_api, patient):
    response = other_api.get(url())
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_a_researcher_sees_an_empty_list(client_for, researcher, patient):
    response = client_for(researcher).get(url())
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_an_admin_sees_every_patient(client_for, admin_user, patient):
    factories.patient_make()
    assert client_for(admin_user).get(url()).json()["count"] == 2


def test_anonymous_gets_401_with_a_token_challenge(anon, patient):
    response = anon.get(url())
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_an_invalid_token_is_401(anon, patient):
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert anon.get(url()).status_code == 401


def test_pages_hold_25_rows_by_default_and_page_size_is_capped_at_100(api, team, clinician):
    for _ in range(105):
        factories.patient_make(team=team)
    first = api.get(url()).json()
    assert first["count"] == 105
    assert len(first["results"]) == 25
    assert first["next"] is not None
    assert len(api.get(url(), {"page_size": 10**9}).json()["results"]) == 100
    assert len(api.get(url(), {"page_size": 7, "page": 2}).json()["results"]) == 7
    assert len(api.get(url(), {"page_size": -3}).json()["results"]) == 25
    assert len(api.get(url(), {"page_size": "many"}).json()["results"]) == 25


def test_pages_are_stable_newest_first_and_do_not_overlap(api, team):
    same_moment = timezone.now()
    for _ in range(12):
        factories.patient_make(team=team)
    Patient.objects.update(created_at=same_moment)  # ties broken by id, so no row is lost
    seen = []
    for page in (1, 2, 3):
        seen += [
            r["public_id"] for r in api.get(url(), {"page_size": 5, "page": page}).json()["results"]
        ]
    assert len(seen) == len(set(seen)) == 12


def test_a_page_past_the_end_is_404(api, patient):
    assert api.get(url(), {"page": 99}).status_code == 404
    assert api.get(url(), {"page": 10**20}).status_code == 404


def test_exact_mrn_search_goes_through_the_blind_index(api, team, patient):
    factories.patient_make(team=team)
    response = api.get(url(), {"mrn": f"  {patient.mrn.lower()} "})
    assert [r["public_id"] for r in response.json()["results"]] == [str(patient.public_id)]
    assert api.get(url(), {"mrn": patient.mrn[:-1]}).json()["count"] == 0  # exact, not prefix


def test_an_mrn_never_matches_a_name(api, team):
    named_like_an_mrn = factories.patient_make(team=team, family_name="X123")
    factories.patient_make(team=team, mrn="X123")
    found = api.get(url(), {"mrn": "X123"}).json()["results"]
    assert [r["mrn"] for r in found] == ["X123"]
    found = api.get(url(), {"name": "X123"}).json()["results"]
    assert [r["public_id"] for r in found] == [str(named_like_an_mrn.public_id)]


def test_name_search_matches_full_or_family_name(api, team):
    ada = factories.patient_make(team=team, given_name="Ada", family_name="Lovelace")
    factories.patient_make(team=team, given_name="Grace", family_name="Hopper")
    for query in ("ada lovelace", "LOVELACE", "Lovelace"):
        found = api.get(url(), {"name": query}).json()["results"]
        assert [r["public_id"] for r in found] == [str(ada.public_id)], query
    assert api.get(url(), {"name": "Ada"}).json()["count"] == 0  # a given name alone: no


def test_search_never_reaches_another_teams_patient(other_api, patient):
    assert other_api.get(url(), {"mrn": patient.mrn}).json()["count"] == 0


def test_punctuation_only_search_matches_nothing(api, patient):
    assert api.get(url(), {"mrn": "--"}).json()["count"] == 0
    assert api.get(url(), {"name": "!!"}).json()["count"] == 0


def test_filters_sex_synthetic_team_and_creation_time(api, team, clinician):
    other_team = factories.care_team_make(members=[clinician])
    woman = factories.patient_make(team=team, sex="female")
    man = factories.patient_make(team=team, sex="male")
    demo = factories.patient_make(team=other_team, sex="female", is_synthetic=True)
    Patient.objects.filter(pk=woman.pk).update(created_at=timezone.now() - dt.timedelta(days=10))

    def ids(**params: object) -> set[str]:
        response = api.get(url(), params)
        assert response.status_code == 200, response.content
        return {r["public_id"] for r in response.json()["results"]}

    assert ids(sex="female") == {str(woman.public_id), str(demo.public_id)}
    assert ids(sex="male") == {str(man.public_id)}
    assert ids(is_synthetic="true") == {str(demo.public_id)}
    assert ids(is_synthetic="false", sex="female") == {str(woman.public_id)}
    assert ids(care_team=str(other_team.public_id)) == {str(demo.public_id)}
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert ids(created_after=since) == {str(man.public_id), str(demo.public_id)}
    assert ids(created_before=since) == {str(woman.public_id)}
    assert ids(sex="female", care_team=str(team.public_id)) == {str(woman.public_id)}


def test_unknown_query_parameters_are_ignored(api, patient):
    # is_synthetic is a yes/no/unknown choice: a value it does not know means "either".
    response = api.get(url(), {"colour": "blue", "ordering": "mrn", "id": 1, "is_synthetic": "?"})
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"sex": "robot"},
        {"care_team": "not-a-uuid"},
        {"created_after": "2023-02-30"},
        {"created_before": "yesterday"},
        {"mrn": "x" * 41},
    ],
)
def test_a_bad_filter_value_is_a_400_naming_it(api, patient, params):
    response = api.get(url(), params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


def test_the_list_is_audited_as_one_read_with_count_and_ids(api, team, clinician, patient):
    second = factories.patient_make(team=team)
    before = AuditEvent.objects.count()
    api.get(url())
    assert AuditEvent.objects.count() == before + 1
    [event] = reads()
    assert event.actor == clinician
    assert event.object_type == "patients.patient"
    assert event.detail["count"] == 2
    assert set(event.detail["patients"]) == {str(patient.public_id), str(second.public_id)}
    assert event.detail["path"] == "/api/v1/patients/"
    assert patient.mrn not in str(event.detail)  # the search term (PHI) is not recorded


# --- create -----------------------------------------------------------------------------------


def test_a_clinician_registers_a_patient_on_their_team(api, team, clinician):
    response = api.post(url(), {**NEW_PATIENT, "care_teams": [str(team.public_id)]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mrn"] == "API-0001"
    assert body["care_teams"] == [str(team.public_id)]
    assert body["created_by"] == str(clinician.public_id)
    patient = Patient.objects.get(public_id=body["public_id"])
    assert patient.family_name == "Lovelace"
    assert api.get(url(patient)).status_code == 200  # the creator can see it
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_id=body["public_id"]
    ).exists()


def test_a_clinician_must_choose_one_of_their_own_teams(api, other_clinician, clinician):
    foreign_team = other_clinician.groups.get(name__startswith="team:").care_team
    response = api.post(url(), NEW_PATIENT, format="json")
    assert response.status_code == 400
    assert "care_teams" in response.json()
    response = api.post(
        url(), {**NEW_PATIENT, "care_teams": [str(foreign_team.public_id)]}, format="json"
    )
    assert response.status_code == 400
    assert "care_teams" in response.json()
    assert not Patient.objects.exists()


def test_an_admin_may_register_a_patient_on_no_team(client_for, admin_user):
    response = client_for(admin_user).post(url(), NEW_PATIENT, format="json")
    assert response.status_code == 201
    assert response.json()["care_teams"] == []


@pytest.mark.parametrize(
    "role_factory", [factories.ResearcherFactory, factories.RadiologistFactory]
)
def test_roles_without_add_patient_get_403(client_for, role_factory, team):
    user = role_factory()
    factories.care_team_make(members=[user])
    response = client_for(user).post(url(), NEW_PATIENT, format="json")
    assert response.status_code == 403
    assert not Patient.objects.exists()


def test_anonymous_cannot_register_a_patient(anon, team):
    assert anon.post(url(), NEW_PATIENT, format="json").status_code == 401
    assert not Patient.objects.exists()


def test_a_duplicate_mrn_is_a_400_on_the_field_and_writes_nothing(api, team, patient):
    count = Patient.objects.count()
    events = AuditEvent.objects.count()
    response = api.post(
        url(),
        {**NEW_PATIENT, "mrn": patient.mrn, "care_teams": [str(team.public_id)]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"mrn": ["A patient with this MRN already exists."]}
    assert Patient.objects.count() == count
    assert AuditEvent.objects.count() == events


def test_a_future_date_of_birth_is_refused_by_the_service(api, team):
    future = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    response = api.post(
        url(),
        {**NEW_PATIENT, "date_of_birth": future, "care_teams": [str(team.public_id)]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"date_of_birth": ["The date of birth cannot be in the future."]}


# --- detail and PATCH -------------------------------------------------------------------------


def test_detail_is_shown_to_the_team_and_audited(api, clinician, patient):
    response = api.get(url(patient))
    assert response.status_code == 200
    assert response.json()["given_name"] == patient.given_name
    [event] = reads(object_id=str(patient.public_id))
    assert event.actor == clinician
    assert event.object_type == "patients.patient"
    assert event.detail["view"] == "patient"


def test_detail_of_another_teams_patient_is_404_and_audited_as_denied(other_api, patient):
    response = other_api.get(url(patient))
    assert response.status_code == 404
    assert response.json() == {
        "detail": "No such patient, or you do not have access to this patient."
    }
    assert AuditEvent.objects.filter(
        action=AuditAction.DENIED, object_id=str(patient.public_id)
    ).exists()
    assert not reads(object_id=str(patient.public_id))


def test_detail_for_a_researcher_is_404(client_for, researcher, patient):
    assert client_for(researcher).get(url(patient)).status_code == 404


def test_detail_anonymous_is_401(anon, patient):
    assert anon.get(url(patient)).status_code == 401
    assert anon.patch(url(patient), {"phone": "1"}, format="json").status_code == 401


def test_a_clinician_patches_demographics(api, patient):
    response = api.patch(
        url(patient), {"phone": " 0123 456 ", "family_name": "Byron"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["phone"] == "0123 456"
    patient.refresh_from_db()
    assert patient.family_name == "Byron"
    event = AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_id=str(patient.public_id)
    ).first()
    assert event is not None
    assert set(event.detail["fields"]) == {"phone", "family_name"}
    # the blind index followed the name
    assert api.get(url(), {"name": "Byron"}).json()["count"] == 1


@pytest.mark.parametrize(
    "field, value",
    [
        ("public_id", "00000000-0000-0000-0000-000000000000"),
        ("care_teams", []),
        ("created_by", None),
        ("is_synthetic", True),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("favourite_colour", "blue"),
    ],
)
def test_patching_a_read_only_field_is_a_400_and_changes_nothing(api, patient, field, value):
    before = api.get(url(patient)).json()
    response = api.patch(url(patient), {field: value, "phone": "999"}, format="json")
    assert response.status_code == 400
    assert response.json() == {field: ["Unknown or read-only field."]}
    after = api.get(url(patient)).json()
    assert after == before


def test_another_team_cannot_patch(other_api, patient):
    response = other_api.patch(url(patient), {"phone": "999"}, format="json")
    assert response.status_code == 404
    patient.refresh_from_db()
    assert patient.phone == ""


def test_patching_to_a_blank_name_is_a_400(api, patient):
    response = api.patch(url(patient), {"given_name": ""}, format="json")
    assert response.status_code == 400
    assert "given_name" in response.json()
