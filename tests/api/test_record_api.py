"""The nested record endpoints (/api/v1/patients/<id>/<kind>/), the timeline and the catalog."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from patients.apis import RECORD_KINDS
from patients.catalog import OBSERVATION_TYPES
from patients.models import Observation
from tests import factories
from tests.api.conftest import reads

pytestmark = pytest.mark.django_db

KINDS = list(RECORD_KINDS)
# A change that each kind accepts, and the value it reads back.
CHANGES = {
    "observations": ({"value": 131}, "value", 131.0),
    "conditions": ({"status": "resolved"}, "status", "resolved"),
    "medications": ({"status": "stopped"}, "status", "stopped"),
    "allergies": ({"severity": "severe"}, "severity", "severe"),
    "lifestyle": ({"smoking": "current"}, "smoking", "current"),
    "family-history": ({"onset_age": 60}, "onset_age", 60),
    "genetic-markers": ({"interpretation": "pathogenic"}, "interpretation", "pathogenic"),
}


def list_url(patient, kind: str) -> str:
    return f"/api/v1/patients/{patient.public_id}/{kind}/"


def detail_url(patient, kind: str, entry) -> str:
    return f"{list_url(patient, kind)}{entry.public_id}/"


def count(kind: str) -> int:
    return RECORD_KINDS[kind].model._default_manager.count()


# --- every kind: allowed, other care team, anonymous --------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_team_lists_and_adds_entries(api, clinician, patient, kind):
    response = api.post(
        list_url(patient, kind), factories.RECORD_ENTRY_EXAMPLES[kind], format="json"
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["recorded_by"] == str(clinician.public_id)
    assert "id" not in created and "patient" not in created
    listed = api.get(list_url(patient, kind)).json()
    assert listed["count"] == 1
    assert listed["results"][0]["public_id"] == created["public_id"]
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_id=created["public_id"]
    ).exists()


@pytest.mark.parametrize("kind", KINDS)
def test_the_team_reads_and_changes_one_entry(api, clinician, patient, kind):
    entry = factories.record_entry_make(kind, patient=patient, by=clinician)
    response = api.get(detail_url(patient, kind, entry))
    assert response.status_code == 200
    assert response.json()["public_id"] == str(entry.public_id)
    change, field, expected = CHANGES[kind]
    response = api.patch(detail_url(patient, kind, entry), change, format="json")
    assert response.status_code == 200, response.content
    assert response.json()[field] == expected
    entry.refresh_from_db()
    assert getattr(entry, field) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_another_care_team_gets_404_everywhere(other_api, clinician, patient, kind):
    entry = factories.record_entry_make(kind, patient=patient, by=clinician)
    before = count(kind)
    example = factories.RECORD_ENTRY_EXAMPLES[kind]
    assert other_api.get(list_url(patient, kind)).status_code == 404
    assert other_api.post(list_url(patient, kind), example, format="json").status_code == 404
    assert other_api.get(detail_url(patient, kind, entry)).status_code == 404
    change, field, _ = CHANGES[kind]
    assert (
        other_api.patch(detail_url(patient, kind, entry), change, format="json").status_code == 404
    )
    assert count(kind) == before
    entry.refresh_from_db()
    assert getattr(entry, field) != CHANGES[kind][2]
    assert not reads(object_id=str(patient.public_id))


@pytest.mark.parametrize("kind", KINDS)
def test_anonymous_gets_401_everywhere(anon, clinician, patient, kind):
    entry = factories.record_entry_make(kind, patient=patient, by=clinician)
    example = factories.RECORD_ENTRY_EXAMPLES[kind]
    assert anon.get(list_url(patient, kind)).status_code == 401
    assert anon.post(list_url(patient, kind), example, format="json").status_code == 401
    assert anon.get(detail_url(patient, kind, entry)).status_code == 401
    assert anon.patch(detail_url(patient, kind, entry), {}, format="json").status_code == 401
    assert count(kind) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_researcher_gets_404(client_for, researcher, clinician, patient, kind):
    entry = factories.record_entry_make(kind, patient=patient, by=clinician)
    researcher_api = client_for(researcher)
    assert researcher_api.get(list_url(patient, kind)).status_code == 404
    assert researcher_api.get(detail_url(patient, kind, entry)).status_code == 404


@pytest.mark.parametrize("kind", KINDS)
def test_an_entry_of_another_patient_is_404_under_this_one(api, clinician, team, patient, kind):
    other_patient = factories.patient_make(team=team)
    entry = factories.record_entry_make(kind, patient=other_patient, by=clinician)
    assert api.get(detail_url(patient, kind, entry)).status_code == 404
    assert api.patch(detail_url(patient, kind, entry), {}, format="json").status_code == 404


@pytest.mark.parametrize("kind", KINDS)
def test_reads_are_audited_against_the_patient(api, clinician, patient, kind):
    entry = factories.record_entry_make(kind, patient=patient, by=clinician)
    api.get(list_url(patient, kind))
    api.get(detail_url(patient, kind, entry))
    listed, one = reads(object_id=str(patient.public_id))
    assert listed.actor == one.actor == clinician
    assert listed.detail["count"] == 1
    assert listed.detail["view"] == f"{RECORD_KINDS[kind].name}_list"
    assert one.detail["entry"] == str(entry.public_id)


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_fields_are_refused_and_nothing_is_written(api, patient, kind):
    body = {**factories.RECORD_ENTRY_EXAMPLES[kind], "patient": 1, "recorded_by": "x"}
    response = api.post(list_url(patient, kind), body, format="json")
    assert response.status_code == 400
    assert {"patient", "recorded_by"} <= set(response.json())
    assert count(kind) == 0


def test_a_nurse_records_observations_but_not_conditions(client_for, nurse, patient):
    nurse_api = client_for(nurse)
    response = nurse_api.post(
        list_url(patient, "observations"),
        factories.RECORD_ENTRY_EXAMPLES["observations"],
        format="json",
    )
    assert response.status_code == 201
    response = nurse_api.post(
        list_url(patient, "conditions"),
        factories.RECORD_ENTRY_EXAMPLES["conditions"],
        format="json",
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Your role does not allow this change."}
    assert count("conditions") == 0


def test_a_service_rule_is_a_400_on_its_field(api, patient):
    body = {"assessed_on": "2024-01-01", "smoking": "never", "pack_years": 3}
    response = api.post(list_url(patient, "lifestyle"), body, format="json")
    assert response.status_code == 400
    assert response.json() == {"pack_years": ["A person who never smoked has no pack-years."]}
    body = {**factories.RECORD_ENTRY_EXAMPLES["medications"], "end_date": "2020-01-01"}
    response = api.post(list_url(patient, "medications"), body, format="json")
    assert response.json() == {"end_date": ["The end date is before the start date."]}


# --- observations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, value, unit, canonical, canonical_unit",
    [
        ("8310-5", 98.6, "[degF]", 37.0, "Cel"),
        ("29463-7", 154, "[lb_av]", 69.8532, "kg"),
        ("2345-7", 5.5, "mmol/L", 99.088, "mg/dL"),
        ("8302-2", 1.75, "m", 175.0, "cm"),
        ("8867-4", "72", "/min", 72.0, "/min"),
    ],
)
def test_observations_are_stored_in_the_canonical_unit(
    api, patient, code, value, unit, canonical, canonical_unit
):
    body = {"code": code, "value": value, "unit": unit, "effective_at": "2024-03-01T08:00:00+02:00"}
    response = api.post(list_url(patient, "observations"), body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["value"] == pytest.approx(canonical, abs=1e-3)
    assert created["unit"] == canonical_unit
    assert created["display"] == OBSERVATION_TYPES[code].display
    assert created["effective_at"] == "2024-03-01T06:00:00Z"


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"code": "0000-0"}, "code", "Unknown observation code '0000-0'."),
        ({"unit": "kPa"}, "unit", "Systolic blood pressure is recorded in mmHg, not 'kPa'."),
        ({"value": 5000}, "value", "outside the plausible range"),
        ({"value": -1}, "value", "outside the plausible range"),
    ],
)
def test_observation_refusals_name_the_field(api, patient, body, field, message):
    payload = {**factories.RECORD_ENTRY_EXAMPLES["observations"], **body}
    response = api.post(list_url(patient, "observations"), payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert message in response.json()[field][0]
    assert Observation.objects.count() == 0


def test_an_observation_in_the_future_is_refused(api, patient):
    later = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    payload = {**factories.RECORD_ENTRY_EXAMPLES["observations"], "effective_at": later}
    response = api.post(list_url(patient, "observations"), payload, format="json")
    assert response.status_code == 400
    assert "effective_at" in response.json()


def test_changing_an_observation_reconverts_the_unit(api, clinician, patient):
    entry = factories.record_entry_make(
        "observations", patient=patient, by=clinician, code="8310-5", value=37, unit="Cel"
    )
    response = api.patch(
        detail_url(patient, "observations", entry), {"value": 212, "unit": "[degF]"}, format="json"
    )
    assert response.status_code == 400  # 100 °C is not a body temperature
    response = api.patch(
        detail_url(patient, "observations", entry),
        {"value": 100.4, "unit": "[degF]"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["value"] == pytest.approx(38.0)
    assert response.json()["unit"] == "Cel"


def test_the_code_of_an_observation_cannot_be_changed(api, clinician, patient):
    entry = factories.record_entry_make("observations", patient=patient, by=clinician)
    response = api.patch(
        detail_url(patient, "observations", entry), {"code": "8462-4"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"code": ["Unknown or read-only field."]}


def test_observations_filter_by_code_and_time(api, clinician, patient):
    def make(code: str, value: float, unit: str, at: str):
        return factories.record_entry_make(
            "observations",
            patient=patient,
            by=clinician,
            code=code,
            value=value,
            unit=unit,
            effective_at=at,
        )

    old_sbp = make("8480-6", 150, "mm[Hg]", "2023-01-01T08:00:00Z")
    new_sbp = make("8480-6", 120, "mm[Hg]", "2024-06-01T08:00:00Z")
    make("8867-4", 70, "/min", "2024-06-01T08:00:00Z")

    def ids(**params: str) -> list[str]:
        response = api.get(list_url(patient, "observations"), params)
        assert response.status_code == 200, response.content
        return [row["public_id"] for row in response.json()["results"]]

    assert ids(code="8480-6") == [str(new_sbp.public_id), str(old_sbp.public_id)]  # newest first
    assert ids(code="8480-6", effective_after="2024-01-01") == [str(new_sbp.public_id)]
    assert ids(code="8480-6", effective_before="2024-01-01T00:00:00Z") == [str(old_sbp.public_id)]
    assert ids(code="nope") == []
    assert len(ids()) == 3
    response = api.get(list_url(patient, "observations"), {"effective_after": "2023-02-30"})
    assert response.status_code == 400
    assert "effective_after" in response.json()


def test_entry_lists_paginate(api, clinician, patient):
    for day in range(1, 31):
        factories.record_entry_make(
            "observations",
            patient=patient,
            by=clinician,
            effective_at=f"2024-01-{day:02d}T08:00:00Z",
        )
    first = api.get(list_url(patient, "observations"), {"page_size": 20}).json()
    second = api.get(list_url(patient, "observations"), {"page_size": 20, "page": 2}).json()
    assert first["count"] == 30
    assert len(first["results"]) == 20 and len(second["results"]) == 10
    assert first["results"][0]["effective_at"] == "2024-01-30T08:00:00Z"


# --- timeline and catalog -----------------------------------------------------------------------


def test_the_timeline_lists_everything_newest_first(api, clinician, patient):
    for kind in KINDS:
        factories.record_entry_make(kind, patient=patient, by=clinician)
    response = api.get(f"/api/v1/patients/{patient.public_id}/timeline/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert response.json()["count"] == len(KINDS)
    times = [row["at"] for row in rows]
    assert times == sorted(times, reverse=True)
    assert {row["kind"] for row in rows} >= {"observation", "condition", "genetic"}
    [event] = reads(object_id=str(patient.public_id))
    assert event.detail == {**event.detail, "view": "timeline", "count": len(KINDS)}


def test_the_timeline_is_404_for_another_team_and_401_anonymous(other_api, anon, patient):
    assert other_api.get(f"/api/v1/patients/{patient.public_id}/timeline/").status_code == 404
    assert anon.get(f"/api/v1/patients/{patient.public_id}/timeline/").status_code == 401


def test_the_observation_catalog(api, anon, other_api):
    response = api.get("/api/v1/observation-codes/")
    assert response.status_code == 200
    codes = {row["code"]: row for row in response.json()}
    assert set(codes) == set(OBSERVATION_TYPES)
    temperature = codes["8310-5"]
    assert temperature["unit"] == "Cel"
    assert temperature["units"] == ["Cel", "[degF]"]
    assert (temperature["low"], temperature["high"]) == (25, 45)
    assert other_api.get("/api/v1/observation-codes/").status_code == 200  # not PHI
    assert anon.get("/api/v1/observation-codes/").status_code == 401


def test_the_care_teams_a_user_may_register_patients_in(api, other_api, anon, team, client_for):
    response = api.get("/api/v1/care-teams/")
    assert response.status_code == 200
    assert response.json() == [
        {"public_id": str(team.public_id), "name": team.name, "description": team.description}
    ]
    # Another team's clinician sees their own team only; an admin sees every team.
    assert [t["public_id"] for t in other_api.get("/api/v1/care-teams/").json()] != [
        str(team.public_id)
    ]
    admin = client_for(factories.AdminFactory())
    assert str(team.public_id) in {t["public_id"] for t in admin.get("/api/v1/care-teams/").json()}
    assert anon.get("/api/v1/care-teams/").status_code == 401
