"""Hostile JSON bodies on every JSON write operation of the API schema (POST, PUT, PATCH), as the
clinician of the patient's care team: JSON nested 10,000 deep, bodies that are not objects, and
in each property of the operation's schema a NaN / 1e309 / 10**400 literal, a NUL, a 1 MB string
and a 5,000-deep array. Each is a 4xx with a body, never a 5xx, and nothing is written. The
operations come from /api/schema/, so a new write endpoint is swept without editing this."""

import json
import re
from typing import Any

import pytest
from django.apps import apps
from django.test import Client

from patients.apis.records import RECORD_KINDS
from tests import factories
from tests.badinput.corpus import MB

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
def world(client_for, clinician, patient) -> tuple[Any, dict[str, str]]:
    ids = {"public_id": str(patient.public_id)}
    entries = {
        kind: str(factories.record_entry_make(kind, patient=patient, by=clinician).public_id)
        for kind in RECORD_KINDS
        if kind in factories.RECORD_ENTRY_EXAMPLES
    }
    return client_for(clinician), {**ids, **{f"entry:{k}": v for k, v in entries.items()}}


def concrete(path: str, ids: dict[str, str]) -> str:
    path = path.replace("{public_id}", ids["public_id"])
    kind = re.search(r"/patients/[^/]+/([a-z-]+)/\{entry_id\}/", path)
    if kind:
        path = path.replace("{entry_id}", ids.get(f"entry:{kind.group(1)}", UNKNOWN))
    return re.sub(r"\{[^}]+\}", UNKNOWN, path)


def send(api: Any, method: str, path: str, body: str) -> Any:
    response = api.generic(method, path, body, content_type="application/json")
    where = (method, path, body[:60])
    assert response.status_code in REFUSED, (response.status_code, where)
    if response.status_code != 405:
        assert response.content, where
    return response


def test_whole_bodies_that_are_not_objects_or_nest_too_deep_are_refused(world, write_operations):
    api, ids = world
    before = snapshot()
    for method, template, _ in write_operations:
        for body in WHOLE_BODIES:
            send(api, method, concrete(template, ids), body)
    assert snapshot() == before


@pytest.mark.slow  # ~20 s: a 1 MB string is sent to every property of every operation
def test_hostile_values_in_every_property_are_refused(world, write_operations):
    api, ids = world
    before = snapshot()
    swept = 0
    for method, template, properties in write_operations:
        path = concrete(template, ids)
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
