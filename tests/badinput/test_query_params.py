"""Hostile query strings on every GET operation of the API schema: `page_size=10**9`, pages past
the end, NUL bytes, 1 MB strings, NaN / Infinity / 1e309 and impossible dates in every filter.
Each answers 200 (a page capped at 100 rows), 400 with a message, or 404; never a 5xx. The
operations are read from /api/schema/, so a new list endpoint is swept without editing this."""

import re
from typing import Any

import pytest
from django.test import Client

from tests import factories
from tests.badinput.corpus import MB

pytestmark = pytest.mark.django_db

PAGE_SIZES = [10**9, 10**100, -1, 0, "1e309", "NaN", "Infinity", "\x00", "9" * 1000]
PAGES = [10**9, 0, -1, "last", "NaN", "1e309", "\x00"]
HOSTILE = ["\x00", "A" * MB, "NaN", "Infinity", "-1e309", "10000-01-01", "2023-02-30", "'; --"]


@pytest.fixture(scope="module")
def operations(django_db_setup, django_db_blocker) -> list[tuple[str, list[str]]]:
    """(path template, query parameter names) of every GET operation of the schema."""
    with django_db_blocker.unblock():
        schema = Client().get("/api/schema/", {"format": "json"}, HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    found = []
    for path, ops in schema.json()["paths"].items():
        if "get" in ops:
            names = [p["name"] for p in ops["get"].get("parameters", []) if p["in"] == "query"]
            found.append((path, names))
    assert len(found) > 20
    return found


def concrete(path: str, patient: Any) -> str:
    """A path template with the patient's id for {public_id} and a random UUID elsewhere (the
    404 of an unknown entry is as good an answer as any: only a 5xx is wrong)."""
    path = path.replace("{public_id}", str(patient.public_id))
    return re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)


def check(response: Any, path: str, params: dict[str, Any]) -> None:
    where = (path, {k: str(v)[:40] for k, v in params.items()})
    assert response.status_code in (200, 400, 404), (response.status_code, where)
    if response.status_code == 200 and response["Content-Type"].startswith("application/json"):
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("results"), list):
            assert len(body["results"]) <= 100, where
    if response.status_code == 400:
        assert response.json(), where  # a message, not an empty body


@pytest.fixture
def world(client_for, clinician, patient):
    for kind in factories.RECORD_ENTRY_EXAMPLES:
        factories.record_entry_make(kind, patient=patient, by=clinician)
    return client_for(clinician), patient


def test_page_size_and_page_are_capped_or_refused_everywhere(world, operations):
    api, patient = world
    swept = 0
    for template, names in operations:
        path = concrete(template, patient)
        for name, values in (("page_size", PAGE_SIZES), ("page", PAGES)):
            if name not in names:
                continue
            for value in values:
                check(api.get(path, {name: value}), path, {name: value})
                swept += 1
    assert swept > 50


def test_every_filter_survives_hostile_values(world, operations):
    api, patient = world
    swept = 0
    for template, names in operations:
        path = concrete(template, patient)
        for name in names:
            if name in ("page", "page_size"):
                continue
            for value in HOSTILE:
                check(api.get(path, {name: value}), path, {name: value})
                swept += 1
    assert swept > 100
