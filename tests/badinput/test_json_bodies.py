"""Hostile JSON bodies on every JSON write operation of the API schema (POST, PUT, PATCH), each
addressed to a real object (a patient with one object of every kind) by a care-team member who
may write there (the clinician; the radiologist for reports), so that the body is what gets
refused: JSON nested 10,000 deep, bodies that are not objects, and in each property of the
operation's schema a NaN / 1e309 / 10**400 literal, a NUL, a 1 MB string and a 5,000-deep array.
Each is a 4xx with a body, never a 5xx, and nothing is written. The operations come from
/api/schema/, so a new write endpoint is swept without editing this."""

import json
import re
from typing import Any

import pytest
from django.apps import apps
from django.test import Client

from tests import factories
from tests.badinput.corpus import MB
from tests.security.world import world_make

pytestmark = pytest.mark.django_db

UNKNOWN = "00000000-0000-4000-8000-000000000000"
REFUSED = (400, 403, 404, 405, 409, 413, 415)
WHOLE_BODIES = [
    "[" * 10_000 + "]" * 10_000,
    '{"a":' * 10_000 + "1" + "}" * 10_000,
    "null",
    "[]",
    '"a string"',
    "NaN",
    "1e309",
]
PROPERTY_LITERALS = [
    "NaN",
    "Infinity",
    "-1e309",
    json.dumps("a\x00b"),
    json.dumps("x" * MB),
    "[" * 5000 + "]" * 5000,
    '{"nested": {"object": [1, 2, {"x": null}]}}',
]
WATCHED_APPS = ("patients", "prediction", "imaging", "recommendations")


@pytest.fixture(scope="module")
def write_operations(django_db_setup, django_db_blocker) -> list[tuple[str, str, list[str]]]:
    """(method, path template, property names) of every JSON write operation."""
    with django_db_blocker.unblock():
        schema = Client().get("/api/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    found = []
    for path, ops in schema["paths"].items():
        for method in ("post", "put", "patch"):
            body = ops.get(method, {}).get("requestBody", {}).get("content", {})
            if "application/json" not in body:
                continue
            ref = body["application/json"]["schema"].get("$ref", "")
            properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
            found.append((method.upper(), path, sorted(properties)))
    assert len(found) >= 15
    return found


def snapshot() -> dict[str, Any]:
    """Row counts of the clinical apps' models and the patients' last change."""
    counts: dict[str, Any] = {
        model._meta.label: model._default_manager.count()
        for name in WATCHED_APPS
        for model in apps.get_app_config(name).get_models()
    }
    patients = apps.get_model("patients", "Patient")
    counts["patients.updated_at"] = sorted(
        patients._default_manager.values_list("updated_at", flat=True)
    )
    return counts


@pytest.fixture
def world() -> tuple[Any, dict[str, str]]:
    """The security tests' world: a patient holding one object of every kind, so that every path
    parameter names a real object and the body, not a 404, is what is refused."""
    world = world_make()
    objects = world.objects
    ids = {
        "patient": str(world.patient.public_id),
        "study": str(objects["study"].public_id),
        "recommendation": str(objects["recommendation"].public_id),
        "assessment": str(objects["assessment"].public_id),
        "ticket": str(objects["ticket"].public_id),
        **{f"entry:{k}": str(v.public_id) for k, v in objects["entries"].items()},
    }
    return world, ids


# Path prefix -> (the id that fills {public_id}, who asks: a member allowed to write there).
OWNERS = {
    "/api/v1/imaging/studies/": ("study", "radiologist"),
    "/api/v1/recommendations/": ("recommendation", "clinician"),
    "/api/v1/risk-assessments/": ("assessment", "clinician"),
    "/api/v1/patients/": ("patient", "clinician"),
    "/api/v1/support/tickets/": ("ticket", "clinician"),  # the clinician's own ticket
}


def concrete(path: str, ids: dict[str, str]) -> tuple[str, str]:
    """The path with real ids, and the principal who may write there."""
    principal = "clinician"
    for prefix, (kind, who) in OWNERS.items():
        if path.startswith(prefix):
            path = path.replace("{public_id}", ids[kind])
            principal = who
    entry = re.search(r"/patients/[^/]+/([a-z-]+)/\{entry_id\}/", path)
    if entry:
        path = path.replace("{entry_id}", ids.get(f"entry:{entry.group(1)}", UNKNOWN))
    return re.sub(r"\{[^}]+\}", UNKNOWN, path), principal


def send(api: Any, method: str, path: str, body: str) -> Any:
    response = api.generic(method, path, body, content_type="application/json")
    where = (method, path, body[:60])
    assert response.status_code in REFUSED, (response.status_code, where)
    if response.status_code != 405:
        assert response.content, where
    return response


def test_whole_bodies_that_are_not_objects_or_nest_too_deep_are_refused(world, write_operations):
    world, ids = world
    before = snapshot()
    reached: dict[str, set[int]] = {}
    for method, template, _ in write_operations:
        path, principal = concrete(template, ids)
        api = world.client(principal)
        for body in WHOLE_BODIES:
            status = send(api, method, path, body).status_code
            reached.setdefault(f"{method} {template}", set()).add(status)
    assert snapshot() == before
    # Every operation was addressed to a real object its caller may write: the body was read and
    # refused (400, 413), not a 404 for the address or a 403 for the caller.
    not_reached = {op: codes for op, codes in reached.items() if not codes & {400, 413, 415}}
    assert not not_reached, not_reached


@pytest.mark.slow  # ~20 s: a 1 MB string is sent to every property of every operation
def test_hostile_values_in_every_property_are_refused(world, write_operations):
    world, ids = world
    before = snapshot()
    swept = 0
    for method, template, properties in write_operations:
        path, principal = concrete(template, ids)
        api = world.client(principal)
        for name in properties:
            for literal in PROPERTY_LITERALS:
                send(api, method, path, "{" + json.dumps(name) + ": " + literal + "}")
                swept += 1
    assert swept > 300
    assert snapshot() == before


@pytest.mark.parametrize("literal", ["1e309", "-1e309", "1e400"])
def test_a_number_beyond_float_range_in_a_text_field_is_not_kept_as_inf(
    client_for, clinician, patient, literal
):
    """1e309 parses as infinity; a text field would have kept it as the string "inf"."""
    response = client_for(clinician).generic(
        "PATCH",
        f"/api/v1/patients/{patient.public_id}/",
        '{"address": ' + literal + "}",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "out of range" in response.json()["detail"]
    patient.refresh_from_db()
    assert "inf" not in patient.address


def test_an_integer_beyond_float_range_as_an_observation_value_is_a_400(
    client_for, clinician, patient
):
    body = json.dumps({**factories.RECORD_ENTRY_EXAMPLES["observations"], "value": 0})
    body = body.replace('"value": 0', '"value": 1' + "0" * 400)
    before = snapshot()
    response = client_for(clinician).generic(
        "POST",
        f"/api/v1/patients/{patient.public_id}/observations/",
        body,
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "value" in response.json()
    assert snapshot() == before


@pytest.mark.parametrize(
    "literal",
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e309",
        "-1e309",
        "1" + "0" * 400,
        '"NaN"',
        '"1e309"',
        '"inf"',
        "true",
        '"\\u0000"',
        "[1]",
    ],
)
def test_non_finite_values_never_reach_the_risk_models(client_for, clinician, patient, literal):
    """Refused before any model is loaded: by the parser or the overrides' FiniteFloatField."""
    body = (
        f'{{"patient": "{patient.public_id}", "disease": "diabetes", '
        f'"overrides": {{"glucose_2h": {literal}}}}}'
    )
    before = snapshot()
    response = client_for(clinician).generic(
        "POST", "/api/v1/risk-assessments/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json()
    assert snapshot() == before
