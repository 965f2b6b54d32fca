"""schemathesis against /api/schema/, in-process (WSGI), as three users on every generated case:
patient A's own clinician (a token), a clinician of care team B (a token) and an anonymous
caller. Path ids point at patient A's real objects, so that the fuzzed queries and bodies reach
the views, not only their 404s. No 5xx, responses conform to the schema, and neither outsider
ever gets a 2xx about patient A or one of its identifiers."""

import os
import re
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis import checks

from tests.security.world import World, leaked, world_make

# Examples per operation (each sent three times): 8, the same ones every run, keep the file under
# 2 min on 2 cores. SCHEMATHESIS_EXAMPLES=100 makes a deeper, randomised run.
DEEP = os.environ.get("SCHEMATHESIS_EXAMPLES")
EXAMPLES = int(DEEP or 8)
TOKENS = {"clinician": "a" * 40, "other_team": "b" * 40}
# Request-strictness checks, left out: the schema cannot say which care teams a user may name or
# which observation values are plausible (schema-valid bodies are rightly refused), and DRF's
# CharField takes 0 as "0" and ignores unparsable `page_size` (schema-invalid requests accepted).
# Neither is a server error, a leak or a response off the schema, which are all checked.
NOT_CHECKED = [checks.positive_data_acceptance, checks.negative_data_rejection]


@pytest.fixture
def fuzz_world(db) -> World:
    return world_make()


@pytest.fixture(autouse=True)
def connection_kept_between_requests():
    # Django's test client does the same: closing the connection at the end of each request
    # would end the test's transaction.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


# Loaded at collection (the schema needs no database). schemathesis.pytest.from_fixture would be
# the lazy way, but schemathesis 4.32.5 reads `request.node._nodeid`, which pytest 9 removed.
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


def object_ids(world: World, path: str) -> dict[str, str]:
    """Path parameters naming patient A's objects for the operation at `path`."""
    ids: dict[str, str] = {}
    if path.startswith("/api/v1/patients/{public_id}"):
        ids["public_id"] = str(world.patient.public_id)
    elif path.startswith("/api/v1/imaging/studies/{public_id}"):
        ids["public_id"] = str(world.objects["study"].public_id)
    elif path.startswith("/api/v1/risk-assessments/{public_id}"):
        ids["public_id"] = str(world.objects["assessment"].public_id)
    elif path.startswith("/api/v1/recommendations/{public_id}"):
        ids["public_id"] = str(world.objects["recommendation"].public_id)
    elif path.startswith("/api/v1/models/{public_id}"):
        ids["public_id"] = str(world.objects["risk_version"].public_id)
    elif path.startswith("/api/v1/imports/{public_id}"):
        ids["public_id"] = str(world.objects["import_job"].public_id)
    elif path.startswith("/api/v1/support/tickets/{public_id}"):
        ids["public_id"] = str(world.objects["ticket"].public_id)
    if "{entry_id}" in path:
        kind = re.search(r"/patients/\{public_id\}/([a-z-]+)/", path)
        assert kind is not None, path
        ids["entry_id"] = str(world.objects["entries"][kind[1]].public_id)
    return ids


def tokens_ensure(world: World) -> None:
    # The token endpoint's DELETE revokes the caller's token: give it back before each call.
    for principal, key in TOKENS.items():
        Token.objects.get_or_create(user=world.users[principal], defaults={"key": key})


def about_patient_a(path: str) -> bool:
    return "{public_id}" in path and not path.startswith("/api/v1/models/")


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not DEEP,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_as_owner_other_team_and_anonymous(case: Any, fuzz_world: World) -> None:
    path = case.operation.path
    if case.path_parameters is not None:
        case.path_parameters.update(object_ids(fuzz_world, path))
    for principal in ("anonymous", "other_team", "clinician"):
        tokens_ensure(fuzz_world)
        headers = {"Authorization": f"Token {TOKENS[principal]}"} if principal in TOKENS else {}
        response = case.call_and_validate(headers=headers, excluded_checks=NOT_CHECKED)
        # Methods the schema does not declare (schemathesis probes TRACE, OPTIONS) get a 405 or
        # OPTIONS' description of the view, the same for any id (tests/security/
        # test_access_matrix.py compares them); the checks above cover them.
        if principal == "clinician" or case.method.upper() != case.operation.method.upper():
            continue
        where = f"{principal}: {case.method} {path} -> {response.status_code}"
        assert not leaked(response.text), where
        if principal == "anonymous" and path != "/api/v1/auth/token/":
            # An unknown ?format= is a 404 before authentication (DRF's content negotiation).
            unknown_format = "format" in (case.query or {})
            assert response.status_code == 401 or unknown_format, where
        if about_patient_a(path):
            assert not 200 <= response.status_code < 300, where


# --- the findings, each fixed, as cases of their own ----------------------------------------------


def call(fuzz_world: World, path: str, method: str, principal: str | None, **request: Any) -> Any:
    """One call of an operation of the schema, validated against it (status, content type,
    headers, body)."""
    tokens_ensure(fuzz_world)
    case = schema[path][method].Case(path_parameters=object_ids(fuzz_world, path), **request)
    headers = {"Authorization": f"Token {TOKENS[principal]}"} if principal else {}
    return case.call_and_validate(headers=headers, excluded_checks=NOT_CHECKED)


def test_a_blank_diet_and_a_blank_email_conform_to_the_schema(fuzz_world):
    # "" was outside the diet enum and not an "email" format.
    lifestyle = call(fuzz_world, "/api/v1/patients/{public_id}/lifestyle/", "GET", "clinician")
    assert lifestyle.json()["results"][0]["diet"] == ""
    patient = call(
        fuzz_world, "/api/v1/patients/{public_id}/", "PATCH", "clinician", body={"email": ""}
    )
    assert patient.json()["email"] == ""


def test_error_statuses_are_documented(fuzz_world):
    # 401, 404 and a field errors' 400 were answered but not in the schema.
    for principal, status in ((None, 401), ("other_team", 404), ("clinician", 200)):
        path = "/api/v1/patients/{public_id}/"
        assert call(fuzz_world, path, "GET", principal).status_code == status
    refused = call(fuzz_world, "/api/v1/imaging/studies/", "POST", "clinician", body={})
    assert refused.status_code == 400
    assert set(refused.json()) == {"patient", "image"}


def test_an_undeclared_method_is_a_405_before_authentication(fuzz_world):
    # An anonymous TRACE was a 401: authentication ran before the method was checked.
    case = schema["/api/v1/patients/"]["GET"].Case(method="TRACE")
    assert case.call().status_code == 405
