"""The imaging endpoints as the OpenAPI schema describes them: a multipart submit answered 202
with a Location header, PNG files, and the report's edit, sign and FHIR export. (That the whole
schema validates without warnings is tests/api/test_schema_and_docs.py's.)"""

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

BASE = "/api/v1/imaging/studies/"


@pytest.fixture(scope="module")
def paths() -> dict[str, Any]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {p: v for p, v in schema["paths"].items() if p.startswith("/api/v1/imaging/")}


def test_every_imaging_endpoint_is_in_the_schema(paths):
    assert set(paths) == {
        BASE,
        BASE + "{public_id}/",
        BASE + "{public_id}/{which}.png",
        BASE + "{public_id}/deidentified.dcm",
        BASE + "{public_id}/report/",
        BASE + "{public_id}/report/sign/",
        BASE + "{public_id}/report/fhir/",
        "/api/v1/imaging/models/",
    }
    assert set(paths[BASE + "{public_id}/report/"]) >= {"get", "put", "patch"}


def test_the_submit_is_multipart_and_answers_202_with_a_location(paths):
    post = paths[BASE]["post"]
    content = post["requestBody"]["content"]
    assert list(content) == ["multipart/form-data"]
    assert set(post["responses"]) == {"202", "400", "401", "403", "404", "413", "415", "429"}
    assert "Location" in post["responses"]["202"]["headers"]


def test_the_list_is_paginated_and_filterable(paths):
    get = paths[BASE]["get"]
    assert {p["name"] for p in get["parameters"]} >= {"patient", "state", "modality", "ordering"}
    schema = get["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("PaginatedStudyList")


def test_the_files_are_png(paths):
    get = paths[BASE + "{public_id}/{which}.png"]["get"]
    assert "image/png" in get["responses"]["200"]["content"]
    which = next(p for p in get["parameters"] if p["name"] == "which")
    assert which["schema"]["enum"] == ["heatmap", "image", "mask"]
