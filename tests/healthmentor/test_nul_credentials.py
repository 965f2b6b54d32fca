"""A NUL in the Authorization header or a cookie is a 400 with a message, never a 500: PostgreSQL
cannot hold NUL in text, so the token or session lookup would raise."""

import pytest

from accounts.models import Role
from tests.factories import UserFactory

PATHS = ["/patients/", "/api/v1/patients/", "/fhir/Patient", "/help/", "/accounts/login/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS)
def test_a_nul_in_the_token_is_refused_with_a_400(client, path):
    response = client.get(path, HTTP_AUTHORIZATION="Token abc\x00def")
    assert response.status_code == 400
    assert b"NUL" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS)
def test_a_nul_in_the_session_cookie_is_refused_with_a_400(client, path):
    client.cookies["sessionid"] = "abc\x00def"
    response = client.get(path)
    assert response.status_code == 400


@pytest.mark.django_db
def test_the_fhir_and_api_refusals_speak_their_formats(client):
    fhir = client.get("/fhir/Patient", HTTP_AUTHORIZATION="Token \x00")
    assert fhir["Content-Type"].startswith("application/fhir+json")
    assert fhir.json()["resourceType"] == "OperationOutcome"
    api = client.get("/api/v1/patients/", HTTP_AUTHORIZATION="Token \x00")
    assert "NUL" in api.json()["detail"]


@pytest.mark.django_db
def test_a_valid_session_still_works(client):
    client.force_login(UserFactory(role=Role.CLINICIAN))
    assert client.get("/help/").status_code == 200
