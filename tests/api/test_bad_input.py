"""Bad input is a 4xx with a message, never a 500, and never leaves anything half-written."""

import json

import pytest

from accounts.models import AuditAction, AuditEvent
from patients.models import Observation, Patient
from tests import factories

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


@pytest.fixture
def patients_url() -> str:
    return "/api/v1/patients/"


@pytest.fixture
def obs_url(patient) -> str:
    return f"/api/v1/patients/{patient.public_id}/observations/"


@pytest.fixture
def new_patient(team) -> dict:
    return {
        "mrn": "BAD-1",
        "given_name": "Valid",
        "family_name": "Person",
        "date_of_birth": "1970-01-01",
        "sex": "male",
        "care_teams": [str(team.public_id)],
    }


@pytest.fixture
def unchanged(db):
    """Asserts, after the test, that no patient, observation or CREATE event was added."""
    before = (
        Patient.objects.count(),
        Observation.objects.count(),
        AuditEvent.objects.filter(action=AuditAction.CREATE).count(),
    )
    yield
    after = (
        Patient.objects.count(),
        Observation.objects.count(),
        AuditEvent.objects.filter(action=AuditAction.CREATE).count(),
    )
    assert after == before


def post_raw(api, url: str, body: bytes | str, content_type: str = "application/json"):
    return api.generic("POST", url, body, content_type=content_type)


# --- strings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["mrn", "given_name", "family_name", "address"])
def test_a_nul_byte_in_a_patient_field_is_a_400(api, patients_url, new_patient, unchanged, field):
    response = api.post(patients_url, {**new_patient, field: "Ab\x00cd"}, format="json")
    assert response.status_code == 400
    assert response.json() == {field: ["Null characters are not allowed."]}


def test_a_nul_byte_in_an_entry_and_in_a_patch_is_a_400(api, clinician, patient, unchanged):
    url = f"/api/v1/patients/{patient.public_id}/conditions/"
    response = api.post(url, {"code": "I10", "display": "Hyper\x00tension"}, format="json")
    assert response.status_code == 400
    assert "display" in response.json()
    response = api.patch(f"/api/v1/patients/{patient.public_id}/", {"phone": "\x00"}, format="json")
    assert response.status_code == 400


def test_a_nul_byte_in_a_query_parameter_is_a_400(api, patient, patients_url, obs_url):
    assert api.get(patients_url, {"mrn": "A\x00"}).status_code == 400
    assert api.get(obs_url, {"code": "\x00"}).status_code == 400


@pytest.mark.parametrize("field", ["mrn", "given_name", "address", "email"])
def test_a_one_megabyte_string_is_a_400(api, patients_url, new_patient, unchanged, field):
    response = api.post(patients_url, {**new_patient, field: "x" * MB}, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_one_megabyte_note_is_a_400(api, patient, unchanged):
    url = f"/api/v1/patients/{patient.public_id}/conditions/"
    response = api.post(url, {"code": "I10", "display": "x", "notes": "n" * MB}, format="json")
    assert response.status_code == 400
    assert response.json()["notes"] == ["Ensure this field has no more than 2000 characters."]


def test_a_body_over_the_upload_limit_is_a_413(api, patients_url, new_patient, unchanged):
    body = json.dumps({**new_patient, "address": "x" * (6 * MB)})
    response = post_raw(api, patients_url, body)
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is larger than the server accepts."}


def test_an_unpaired_surrogate_is_a_400(api, patients_url, new_patient, obs_url, unchanged):
    body = json.dumps({**new_patient, "family_name": "\ud800"})  # valid JSON, invalid Unicode
    response = post_raw(api, patients_url, body)
    assert response.status_code == 400
    assert "surrogate" in response.json()["detail"]


def test_unicode_names_round_trip(api, patients_url, new_patient):
    name = "Zoë Ñúñez-Ōkubo 王"
    response = api.post(patients_url, {**new_patient, "family_name": name}, format="json")
    assert response.status_code == 201
    assert response.json()["family_name"] == name


# --- dates and numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["2023-02-30", "2023-13-01", "0000-01-01", "10000-01-01", "01/02/2003", "", 19850101]
)
def test_an_impossible_date_of_birth_is_a_400(api, patients_url, new_patient, unchanged, value):
    response = api.post(patients_url, {**new_patient, "date_of_birth": value}, format="json")
    assert response.status_code == 400
    assert "date_of_birth" in response.json()


@pytest.mark.parametrize(
    "value",
    [
        "2023-02-30T10:00:00Z",
        "2023-02-28T25:00:00Z",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "now",
    ],
)
def test_an_impossible_time_is_a_400(api, obs_url, unchanged, value):
    body = {**factories.RECORD_ENTRY_EXAMPLES["observations"], "effective_at": value}
    response = api.post(obs_url, body, format="json")
    assert response.status_code == 400
    assert "effective_at" in response.json()


@pytest.mark.parametrize(
    "value", ["NaN", "nan", "Infinity", "-Infinity", "inf", "1e309", True, False]
)
def test_non_finite_observation_values_are_refused_clearly(api, obs_url, unchanged, value):
    body = {**factories.RECORD_ENTRY_EXAMPLES["observations"], "value": value}
    response = api.post(obs_url, body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "value": ["Enter a finite number (not NaN, Infinity or a value beyond ±1.8e308)."]
    }


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e309", "-1e309", "1" * 5000])
def test_non_finite_json_number_literals_are_refused(api, obs_url, unchanged, literal):
    example = dict(factories.RECORD_ENTRY_EXAMPLES["observations"])
    body = json.dumps({**example, "value": 0}).replace('"value": 0', f'"value": {literal}')
    response = post_raw(api, obs_url, body)
    assert response.status_code == 400
    assert response.json()  # a message, whether from the parser or the field


@pytest.mark.parametrize(
    "field, value",
    [
        ("dose", "NaN"),
        ("dose", 1e300),
        ("dose", -5),
        ("dose", "12.34567"),
    ],
)
def test_bad_decimals_are_a_400(api, patient, field, value):
    url = f"/api/v1/patients/{patient.public_id}/medications/"
    body = {**factories.RECORD_ENTRY_EXAMPLES["medications"], field: value}
    response = api.post(url, body, format="json")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    "kind, field, value",
    [
        ("family-history", "onset_age", 10**30),
        ("family-history", "onset_age", -1),
        ("lifestyle", "activity_minutes_per_week", 5001),
        ("lifestyle", "alcohol_units_per_week", "Infinity"),
        ("lifestyle", "pack_years", 201),
    ],
)
def test_out_of_range_numbers_are_a_400(api, patient, kind, field, value):
    url = f"/api/v1/patients/{patient.public_id}/{kind}/"
    body = {**factories.RECORD_ENTRY_EXAMPLES[kind], field: value}
    response = api.post(url, body, format="json")
    assert response.status_code == 400
    assert field in response.json()


# --- wrong types and shapes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"sex": 5},
        {"sex": True},
        {"sex": ["female"]},
        {"mrn": {"nested": "object"}},
        {"mrn": None},
        {"given_name": ["a", "b"]},
        {"care_teams": "not-a-list"},
        {"care_teams": ["not-a-uuid"]},
        {"care_teams": [{"id": 1}]},
        {"email": "not an email"},
    ],
)
def test_wrong_types_are_a_400_on_the_field(api, patients_url, new_patient, unchanged, changes):
    response = api.post(patients_url, {**new_patient, **changes}, format="json")
    assert response.status_code == 400
    assert set(changes) <= set(response.json())


@pytest.mark.parametrize("value", [[1], {"v": 1}, "abc", None, "", "12 mmHg"])
def test_wrong_observation_value_types_are_a_400(api, obs_url, unchanged, value):
    body = {**factories.RECORD_ENTRY_EXAMPLES["observations"], "value": value}
    response = api.post(obs_url, body, format="json")
    assert response.status_code == 400
    assert "value" in response.json()


@pytest.mark.parametrize("body", ["[1, 2]", '"a string"', "null", "42", "true", "[]"])
def test_a_body_that_is_not_an_object_is_a_400(api, patients_url, obs_url, unchanged, body):
    for url in (patients_url, obs_url):
        response = post_raw(api, url, body)
        assert response.status_code == 400, (url, body)
        assert response.json()


@pytest.mark.parametrize(
    "body",
    [
        b'{"mrn": ',
        b"{'mrn': 'single quotes'}",
        b'{"mrn": "a",}',
        b"\xff\xfe\x00garbage",
        b'{"mrn": "\xc3\x28"}',  # invalid UTF-8
        b"",
    ],
)
def test_malformed_json_is_a_400(api, patients_url, unchanged, body):
    response = post_raw(api, patients_url, body)
    assert response.status_code == 400
    assert response.json()


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_json_nested_ten_thousand_deep_is_a_400(api, patients_url, obs_url, unchanged, depth):
    for url in (patients_url, obs_url):
        response = post_raw(api, url, "[" * depth + "]" * depth)
        assert response.status_code == 400
        assert "nested too deeply" in response.json()["detail"]
        response = post_raw(api, url, '{"a":' * depth + "1" + "}" * depth)
        assert response.status_code == 400


def test_deep_json_in_a_patch_is_a_400(api, patient):
    url = f"/api/v1/patients/{patient.public_id}/"
    response = api.generic(
        "PATCH", url, "[" * 20_000 + "]" * 20_000, content_type="application/json"
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/x-www-form-urlencoded", "mrn=A&given_name=B"),
        ("multipart/form-data; boundary=xyz", "--xyz--"),
        ("text/plain", "hello"),
        ("application/xml", "<patient/>"),
    ],
)
def test_bodies_that_are_not_json_are_a_415(api, patients_url, unchanged, content_type, body):
    response = post_raw(api, patients_url, body, content_type=content_type)
    assert response.status_code == 415


def test_thousands_of_unknown_fields_are_reported_briefly(
    api, patients_url, new_patient, unchanged
):
    body = {**new_patient, **{f"extra{n}": n for n in range(5000)}}
    response = api.post(patients_url, body, format="json")
    assert response.status_code == 400
    assert len(response.json()) == 20


# --- ids ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/patients/123/",
        "/api/v1/patients/not-a-uuid/",
        "/api/v1/patients/00000000-0000-0000-0000-00000000000g/",
        "/api/v1/patients/%00/",
        "/api/v1/patients/{patient}/observations/abc/",
        "/api/v1/patients/{patient}/observations/1/",
        "/api/v1/patients/{patient}/timeline/x/",
    ],
)
def test_ids_that_are_not_uuids_are_404(api, patient, path):
    assert api.get(path.format(patient=patient.public_id)).status_code == 404


def test_a_well_formed_unknown_uuid_is_404(api, patient):
    assert api.get("/api/v1/patients/00000000-0000-4000-8000-000000000000/").status_code == 404
    url = f"/api/v1/patients/{patient.public_id}/observations/00000000-0000-4000-8000-000000000000/"
    assert api.get(url).status_code == 404


@pytest.mark.parametrize("method", ["put", "delete"])
def test_methods_that_do_not_exist_are_405(api, patient, method):
    response = getattr(api, method)(f"/api/v1/patients/{patient.public_id}/")
    assert response.status_code == 405
    assert Patient.objects.filter(pk=patient.pk).exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/patients/",
        "/api/v1/patients/{patient}/",
        "/api/v1/patients/{patient}/observations/",
        "/api/v1/patients/{patient}/timeline/",
        "/api/v1/observation-codes/",
        "/api/v1/auth/token/",
    ],
)
def test_options_and_head_answer_without_error(api, anon, patient, path):
    path = path.format(patient=patient.public_id)
    response = api.options(path)
    assert response.status_code == 200
    assert "GET" in response["Allow"] or "POST" in response["Allow"]
    assert anon.options(path).status_code in (200, 401)
    assert api.head(path).status_code in (200, 405)
