"""CDS Hooks discovery and the patient-view service: spec shapes, cards, audit, bad requests."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from recommendations.cds.views import BODY_MAX_BYTES, PREFETCH
from recommendations.models import CdsCard, CdsClient
from tests.recommendations import cds_helpers as h
from tests.recommendations.cds_schemas import (
    CARD,
    DISCOVERY,
    HOOK_REQUEST,
    SERVICE_RESPONSE,
    schema_errors,
)

URL = f"http://testserver{h.SERVICE_PATH}"
EXPECTED_RULES = {
    "af-anticoagulation",
    "bp-stage2-start-treatment",
    "t2d-metformin-first-line",
    "statin-diabetes",
    "tobacco-cessation",
}


@pytest.fixture(scope="module")
def key():
    return h.rsa_key()


@pytest.fixture
def ehr(db, key):
    return CdsClient.objects.create(
        name="Example EHR", issuer=h.ISSUER, public_key_pem=h.public_pem(key)
    )


def call(client, key, body, *, path=h.SERVICE_PATH, raw=None):
    token = h.signed_token(key, aud=f"http://testserver{path}")
    return client.post(
        path,
        raw if raw is not None else json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def realistic_body():
    return h.hook_request(h.prefetch_diabetic_hypertensive_smoker_with_af(timezone.localdate()))


def test_discovery_is_public_and_matches_the_spec(client, db):
    response = client.get("/cds-services")
    assert response.status_code == 200
    data = response.json()
    assert schema_errors(DISCOVERY, data) == []
    (service,) = data["services"]
    assert service["hook"] == "patient-view" and service["id"] == h.SERVICE_ID
    assert service["prefetch"] == PREFETCH
    assert set(service["prefetch"]) == {
        "patient",
        "conditions",
        "observations",
        "medications",
        "allergies",
    }


def test_discovery_takes_no_post(client, db):
    assert client.post("/cds-services").status_code == 405


def test_the_test_request_itself_is_a_valid_hook_request():
    assert schema_errors(HOOK_REQUEST, realistic_body()) == []


def test_a_signed_call_returns_cards_for_the_patients_guideline_findings(client, ehr, key):
    body = realistic_body()
    response = call(client, key, body)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert schema_errors(SERVICE_RESPONSE, data) == []
    cards = data["cards"]
    for card in cards:
        assert schema_errors(CARD, card) == []
    rules = {c["detail"].rsplit("Rule `", 1)[1].split("`")[0] for c in cards}
    assert rules >= EXPECTED_RULES
    stored = CdsCard.objects.filter(client=ehr)
    assert {str(c.uuid) for c in stored} == {c["uuid"] for c in cards}
    assert {c.rule_id for c in stored} == rules
    assert {c.hook_instance for c in stored} == {body["hookInstance"]}

    anticoagulation = next(c for c in cards if "af-anticoagulation" in c["detail"])
    assert anticoagulation["selectionBehavior"] == "any"
    resources = [a["resource"] for s in anticoagulation["suggestions"] for a in s["actions"]]
    assert {r["resourceType"] for r in resources} == {"MedicationRequest"}
    assert all(r["subject"] == {"reference": f"Patient/{h.PATIENT_ID}"} for r in resources)
    assert any(
        c["code"] == "B01AF02" for r in resources for c in r["medicationCodeableConcept"]["coding"]
    )
    metformin = next(c for c in cards if "t2d-metformin-first-line" in c["detail"])
    assert "HbA1c 8.1 %" in metformin["detail"]
    assert metformin["source"]["label"].startswith("ADA Standards of Care in Diabetes")
    assert {r["code"] for r in metformin["overrideReasons"]} >= {"patient_declined", "other"}


def test_the_call_is_audited_without_patient_data(client, ehr, key):
    body = realistic_body()
    response = call(client, key, body)
    event = AuditEvent.objects.filter(object_type="cds.hook").get()
    assert event.actor is None and event.object_id == body["hookInstance"]
    assert event.detail == {
        "client": "Example EHR",
        "client_id": str(ehr.public_id),
        "service": h.SERVICE_ID,
        "cards": len(response.json()["cards"]),
    }
    assert h.PATIENT_ID not in json.dumps(event.detail)


def test_a_healthy_patient_gets_no_cards(client, ehr, key):
    today = timezone.localdate()
    prefetch = {
        "patient": {
            "resourceType": "Patient",
            "id": h.PATIENT_ID,
            "gender": "female",
            "birthDate": f"{today.year - 35}-01-01",
        },
        "conditions": None,
        "observations": h.bundle(
            h.blood_pressure(today - dt.timedelta(days=3), 112, 72),
            h.smoking_status(today - dt.timedelta(days=3), "266919005"),
            h.observation("39156-5", today, value=h.quantity(22.0, "kg/m2")),
            h.observation("82290-8", today, value={"value": 200, "code": "min/wk"}),
        ),
        "medications": None,
        "allergies": None,
    }
    response = call(client, key, h.hook_request(prefetch))
    assert response.status_code == 200
    assert response.json() == {"cards": []}


@pytest.mark.parametrize("missing", ["patient", "observations", "medications"])
def test_a_missing_prefetch_key_is_412_because_we_never_query_the_fhir_server(
    client, ehr, key, missing
):
    body = realistic_body()
    del body["prefetch"][missing]
    response = call(client, key, body)
    assert response.status_code == 412
    assert response.json()["missingPrefetch"] == [missing]
    assert not CdsCard.objects.exists()


def test_no_prefetch_at_all_is_412_naming_every_key(client, ehr, key):
    response = call(client, key, h.hook_request(None))
    assert response.status_code == 412
    assert response.json()["missingPrefetch"] == list(PREFETCH)


def test_an_operation_outcome_in_place_of_data_is_412(client, ehr, key):
    body = realistic_body()
    body["prefetch"]["conditions"] = {"resourceType": "OperationOutcome", "issue": []}
    assert call(client, key, body).status_code == 412


def test_a_null_patient_is_412(client, ehr, key):
    body = realistic_body()
    body["prefetch"]["patient"] = None
    assert call(client, key, body).status_code == 412


def test_a_prefetched_patient_other_than_the_context_patient_is_refused(client, ehr, key):
    body = realistic_body()
    body["context"]["patientId"] = "someone-else"
    assert call(client, key, body).status_code == 400


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (lambda b: b.update(hook="order-sign"), 400),
        (lambda b: b.pop("hookInstance"), 400),
        (lambda b: b.update(hookInstance=""), 400),
        (lambda b: b.update(context="pt-4821"), 400),
        (lambda b: b["context"].pop("patientId"), 400),
        (lambda b: b["context"].update(patientId=12), 400),
        (lambda b: b.update(prefetch=[1, 2]), 400),
    ],
)
def test_bad_hook_requests_are_400(client, ehr, key, change, status):
    body = realistic_body()
    change(body)
    response = call(client, key, body)
    assert response.status_code == status
    assert "error" in response.json()


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", "null", "[" * 100_000, "\xff"])
def test_a_body_that_is_not_a_json_object_is_400(client, ehr, key, raw):
    assert call(client, key, None, raw=raw).status_code == 400


def test_an_oversized_body_is_413(client, ehr, key):
    raw = json.dumps({"hook": "patient-view", "padding": "x" * (BODY_MAX_BYTES + 10)})
    assert call(client, key, None, raw=raw).status_code == 413


def test_an_unknown_service_is_404(client, ehr, key):
    response = call(client, key, realistic_body(), path="/cds-services/nothing-here")
    assert response.status_code == 404


def test_the_service_takes_no_get(client, ehr):
    assert client.get(h.SERVICE_PATH).status_code == 405
