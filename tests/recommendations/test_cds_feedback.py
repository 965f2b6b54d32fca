"""CDS Hooks feedback: accepted / overridden outcomes on our cards, once, from their own client."""

import json
import uuid

import pytest
from django.utils import timezone

from recommendations.cds.cards import OVERRIDE_REASON_SYSTEM
from recommendations.models import CdsClient, Feedback
from tests.recommendations import cds_helpers as h
from tests.recommendations.cds_schemas import FEEDBACK_REQUEST, schema_errors

SERVICE_URL = f"http://testserver{h.SERVICE_PATH}"
FEEDBACK_URL = f"http://testserver{h.FEEDBACK_PATH}"


@pytest.fixture(scope="module")
def key():
    return h.rsa_key()


@pytest.fixture(scope="module")
def other_key():
    return h.ec_key()


@pytest.fixture
def ehr(db, key):
    return CdsClient.objects.create(name="EHR", issuer=h.ISSUER, public_key_pem=h.public_pem(key))


@pytest.fixture
def other_ehr(db, other_key):
    return CdsClient.objects.create(
        name="Other EHR", issuer="https://other.example.org", public_key_pem=h.public_pem(other_key)
    )


@pytest.fixture
def cards(client, ehr, key):
    """The cards the realistic patient's hook call returned to `ehr`, by rule id."""
    body = h.hook_request(h.prefetch_diabetic_hypertensive_smoker_with_af(timezone.localdate()))
    token = h.signed_token(key, aud=SERVICE_URL)
    response = client.post(
        h.SERVICE_PATH,
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200
    return {c["detail"].rsplit("Rule `", 1)[1].split("`")[0]: c for c in response.json()["cards"]}


def send(client, key, items, *, iss=h.ISSUER, aud=FEEDBACK_URL):
    payload = {"feedback": items}
    token = h.signed_token(key, aud=aud, iss=iss)
    return client.post(
        h.FEEDBACK_PATH,
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def accepted(card):
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": "2026-12-01T10:00:00Z",
    }


def overridden(card, code="patient_declined", comment="Prefers to discuss at the next visit."):
    return {
        "card": card["uuid"],
        "outcome": "overridden",
        "overrideReason": {
            "reason": {
                "code": code,
                "system": OVERRIDE_REASON_SYSTEM,
                "display": "Patient declined",
            },
            "userComment": comment,
        },
        "outcomeTimestamp": "2026-12-01T10:01:00Z",
    }


def test_accepted_and_overridden_are_recorded_once_each(client, ehr, key, cards):
    items = [accepted(cards["af-anticoagulation"]), overridden(cards["t2d-metformin-first-line"])]
    assert schema_errors(FEEDBACK_REQUEST, {"feedback": items}) == []
    assert send(client, key, items).status_code == 200
    assert send(client, key, items).status_code == 200  # an EHR retry
    rows = {f.rule_id: f for f in Feedback.objects.filter(client=ehr)}
    assert set(rows) == {"af-anticoagulation", "t2d-metformin-first-line"}
    assert rows["af-anticoagulation"].outcome == Feedback.Outcome.ACCEPTED
    declined = rows["t2d-metformin-first-line"]
    assert declined.outcome == Feedback.Outcome.DECLINED
    assert declined.reason_code == "patient_declined"
    assert declined.reason_text == "Prefers to discuss at the next visit."
    assert str(declined.card_uuid) == cards["t2d-metformin-first-line"]["uuid"]


def test_an_ehr_reason_of_its_own_is_kept_as_other_with_its_label(client, ehr, key, cards):
    item = overridden(cards["statin-diabetes"], code="X-17", comment="")
    item["overrideReason"] = {
        "reason": {"code": "X-17", "system": "https://ehr.example.org/reasons", "display": "Cost"}
    }
    assert send(client, key, [item]).status_code == 200
    row = Feedback.objects.get(rule_id="statin-diabetes")
    assert (row.reason_code, row.reason_text) == ("other", "Cost")


def test_overridden_without_a_reason_is_recorded(client, ehr, key, cards):
    item = {
        "card": cards["tobacco-cessation"]["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2026-12-01T10:02:00Z",
    }
    assert send(client, key, [item]).status_code == 200
    assert Feedback.objects.get(rule_id="tobacco-cessation").reason_code == ""


def test_the_service_url_is_accepted_as_aud_too(client, ehr, key, cards):
    response = send(client, key, [accepted(cards["af-anticoagulation"])], aud=SERVICE_URL)
    assert response.status_code == 200


def test_an_unknown_card_is_404_and_nothing_is_recorded(client, ehr, key, cards):
    items = [accepted(cards["af-anticoagulation"]), {**accepted(cards["af-anticoagulation"])}]
    items[1]["card"] = str(uuid.uuid4())
    assert send(client, key, items).status_code == 404
    assert not Feedback.objects.exists()


def test_another_clients_card_is_404(client, ehr, other_ehr, other_key, cards):
    response = send(
        client, other_key, [accepted(cards["af-anticoagulation"])], iss=other_ehr.issuer
    )
    assert response.status_code == 404
    assert not Feedback.objects.exists()


def test_feedback_needs_a_valid_token(client, ehr, cards):
    payload = json.dumps({"feedback": [accepted(cards["af-anticoagulation"])]})
    response = client.post(h.FEEDBACK_PATH, payload, content_type="application/json")
    assert response.status_code == 401
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(
    "items",
    [
        [],
        "x",
        [{"outcome": "accepted", "outcomeTimestamp": "2026-12-01T10:00:00Z"}],
        [{"card": "not-a-uuid", "outcome": "accepted", "outcomeTimestamp": "t"}],
        [{"card": str(uuid.uuid4()), "outcome": "ignored", "outcomeTimestamp": "t"}],
        [{"card": str(uuid.uuid4()), "outcome": "accepted"}],
        [
            {
                "card": str(uuid.uuid4()),
                "outcome": "accepted",
                "outcomeTimestamp": "t",
                "acceptedSuggestions": "all",
            }
        ],
        [
            {
                "card": str(uuid.uuid4()),
                "outcome": "overridden",
                "outcomeTimestamp": "t",
                "overrideReason": {"reason": "busy"},
            }
        ],
    ],
)
def test_malformed_feedback_is_400(client, ehr, key, items):
    assert send(client, key, items).status_code == 400
