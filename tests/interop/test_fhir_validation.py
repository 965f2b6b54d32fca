"""Every resource the FHIR API answers validates against FHIR (fhir.resources' R4B models, as
tests/interop/test_resources.py explains), over a seeded world: every kind of record entry in
several shapes, risk assessments with and without an outcome, and a signed imaging report. The
resources are taken from the endpoints themselves (reads, searches, paged searches, $everything,
the CapabilityStatement and the OperationOutcomes of errors), not from the builders."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class

from imaging.services import report_sign
from patients.catalog import OBSERVATION_TYPES
from prediction.services import risk_outcome_record
from tests import factories
from tests.dashboards.test_home import assess
from tests.security.world import World, world_make

pytestmark = pytest.mark.django_db

TYPES = (
    "Observation",
    "Condition",
    "AllergyIntolerance",
    "MedicationStatement",
    "FamilyMemberHistory",
    "RiskAssessment",
    "DiagnosticReport",
)


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """`resource` once its R4B model accepted it (unknown elements, wrong types and missing
    required elements are refused); a Bundle's entries are each validated as their own type too,
    so that a generic entry model cannot let one through."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for entry in resource.get("entry", []) if resource["resourceType"] == "Bundle" else []:
        valid(entry["resource"])
    return resource


@pytest.fixture
def seeded() -> World:
    """The security world, its record filled with one entry of every shape the builders branch
    on, and its imaging report signed."""
    world = world_make()
    patient, by = world.patient, world.users["clinician"]

    def add(kind: str, **fields: Any) -> None:
        factories.record_entry_make(kind, patient=patient, by=by, **fields)

    for code, kind in OBSERVATION_TYPES.items():
        add("observations", code=code, value=(kind.low + kind.high) / 2, unit=kind.unit)
    add(
        "conditions",
        code="E11.9",
        display="Type 2 diabetes mellitus",
        status="resolved",
        onset_date="2015-04-01",
        resolved_date="2023-01-01",
        notes="Diet controlled since 2022.",
    )
    add("conditions", system="SNOMED", code="38341003", display="Hypertensive disorder")
    add(
        "medications",
        name="Ramipril",
        code="C09AA05",
        dose="2.5",
        dose_unit="mg",
        route="oral",
        status="stopped",
        start_date="2020-01-01",
        end_date="2021-06-30",
    )
    add("medications", name="Salbutamol inhaler", dose=None, route="inhaled", frequency="")
    add("allergies", substance="Latex", reaction="", severity="severe", noted_on="2010-09-09")
    add("allergies", substance="Peanut", code="91935009", reaction="Anaphylaxis", severity="mild")
    add(
        "family-history",
        relation="father",
        condition_code="I21.9",
        condition_display="Myocardial infarction",
        onset_age=61,
    )
    add("family-history", relation="other", condition_display="Glaucoma", onset_age=None)
    earlier = assess(world.objects["risk_version"], patient, 0.05, days_ago=3)
    risk_outcome_record(
        by=by,
        assessment=earlier,
        outcome="ruled_out",
        outcome_date=timezone.localdate() - dt.timedelta(days=1),
    )
    report_sign(report=world.objects["study"].report, by=world.users["radiologist"])
    # A second, synthetic patient on the team with no optional demographics.
    factories.patient_make(team=world.objects["team_a"], by=by, is_synthetic=True)
    return world


@pytest.fixture
def client(seeded: World) -> Client:
    return seeded.client("clinician")


def get(client: Client, url: str, **params: Any) -> dict[str, Any]:
    response = client.get(url, params)
    assert response.status_code == 200, response.content[:500]
    body: dict[str, Any] = response.json()
    return body


def test_the_capability_statement_validates(client):
    valid(get(client, "/fhir/metadata"))


def test_everything_validates_and_holds_every_object_of_the_record(seeded, client):
    bundle = valid(get(client, f"/fhir/Patient/{seeded.patient.public_id}/$everything"))
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    patient = seeded.patient
    assert kinds.count("Observation") == patient.observations.count() == len(OBSERVATION_TYPES) + 1
    assert kinds.count("Condition") == patient.conditions.count() == 3
    assert kinds.count("MedicationStatement") == patient.medications.count() == 3
    assert kinds.count("AllergyIntolerance") == patient.allergys.count() == 3
    assert kinds.count("FamilyMemberHistory") == patient.familyhistorys.count() == 3
    assert kinds.count("RiskAssessment") == 2
    assert kinds.count("DiagnosticReport") == 1


def test_every_read_and_search_validates(seeded, client):
    patient_id = str(seeded.patient.public_id)
    valid(get(client, f"/fhir/Patient/{patient_id}"))
    patients = valid(get(client, "/fhir/Patient"))
    assert patients["total"] == 2  # the synthetic one too, with its tag
    for entry in patients["entry"]:
        valid(get(client, f"/fhir/Patient/{entry['resource']['id']}"))
    read = 0
    for resource_type in TYPES:
        bundle = valid(get(client, f"/fhir/{resource_type}", patient=patient_id))
        assert bundle["total"] >= 1, resource_type
        for entry in bundle["entry"]:
            one = valid(get(client, f"/fhir/{resource_type}/{entry['resource']['id']}"))
            assert one == entry["resource"]
            read += 1
    assert read == len(valid(get(client, f"/fhir/Patient/{patient_id}/$everything"))["entry"]) - 1


def test_paged_and_filtered_searches_validate(seeded, client):
    patient_id = str(seeded.patient.public_id)
    first = valid(get(client, "/fhir/Observation", patient=patient_id, _count=2))
    links = {link["relation"]: link["url"] for link in first["link"]}
    second = valid(get(client, links["next"]))
    assert {link["relation"] for link in second["link"]} >= {"self", "previous", "next"}
    valid(get(client, "/fhir/Observation", patient=patient_id, _count=0))
    valid(get(client, "/fhir/Observation", patient=patient_id, code="http://loinc.org|2345-7"))
    valid(get(client, "/fhir/Patient", identifier="MRN-NOBODY"))  # an empty searchset


def test_error_outcomes_validate(seeded, client):
    answers = [
        client.get("/fhir/Patient", {"bogus": "1"}),
        client.get("/fhir/Observation"),
        client.get("/fhir/Patient/not-a-uuid"),
        client.post("/fhir/Patient", data="{}", content_type="application/fhir+json"),
        client.get("/fhir/metadata", HTTP_ACCEPT="application/fhir+xml"),
        Client().get("/fhir/metadata"),
        seeded.client("other_team").get(f"/fhir/Patient/{seeded.patient.public_id}"),
    ]
    assert [a.status_code for a in answers] == [400, 400, 404, 405, 406, 401, 404]
    for answer in answers:
        assert valid(answer.json())["resourceType"] == "OperationOutcome"
