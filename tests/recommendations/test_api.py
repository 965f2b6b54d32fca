"""/api/v1/recommendations/: the list (by patient and status), one recommendation, accept and
decline, and the rule catalogue with acceptance rates. Every endpoint has an allowed and a denied
case: the patient's care team reads, clinicians and admins decide, nurses read but may not decide
(403), another care team gets 404, researchers 403, anonymous callers 401.

A second decision is allowed: it replaces the first on the recommendation, and both stay as
Feedback rows and audit events. A recommendation replaced by newer advice is a 409."""

from collections.abc import Callable

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditAction, AuditEvent, User
from recommendations import serializers as out
from recommendations.models import Feedback, Recommendation
from recommendations.selectors import recommendation_payload, rule_catalogue
from tests import factories
from tests.recommendations.test_pages import (
    BENEFIT,
    on_team,
    recommendation_make,
    record_that_triggers_rules,
)

pytestmark = pytest.mark.django_db

LIST = "/api/v1/recommendations/"
RULES = "/api/v1/recommendations/rules/"


def one(rec: Recommendation, action: str = "") -> str:
    return f"{LIST}{rec.public_id}/" + (f"{action}/" if action else "")


@pytest.fixture
def client_for(db) -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        token, _ = Token.objects.get_or_create(user=user)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api

    return make


@pytest.fixture
def api(client_for, clinician) -> APIClient:
    return client_for(clinician)


@pytest.fixture
def rec(patient) -> Recommendation:
    return recommendation_make(patient, benefit=BENEFIT)


# --- reading --------------------------------------------------------------------------------------


def test_the_list_holds_the_current_recommendations_of_a_patient(api, patient, clinician):
    from recommendations.services import recommendations_refresh

    record_that_triggers_rules(patient, clinician)
    recs = recommendations_refresh(patient=patient)
    response = api.get(LIST, {"patient": str(patient.public_id)})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(recs) >= 2
    assert [row["id"] for row in body["results"]] == [str(r.public_id) for r in recs]
    first = body["results"][0]
    assert first["patient"] == str(patient.public_id)
    assert first["reasons"] and {"text", "code", "value", "at"} <= set(first["reasons"][0])
    assert first["source"]["guideline"] and first["source"]["year"]
    assert first["status"] == "pending" and first["urgency"] in ("routine", "soon", "urgent")
    assert AuditEvent.objects.filter(
        action=AuditAction.READ, detail__view="recommendation_list"
    ).exists()


def test_the_list_filters_by_status_and_leaves_out_replaced_advice(api, patient, clinician):
    pending = recommendation_make(patient)
    accepted = recommendation_make(patient, rule_id="smoking-cessation", title="Stop smoking")
    recommendation_make(patient, rule_id="old", is_current=False, retired_at=timezone.now())
    assert api.post(one(accepted, "accept")).status_code == 200
    ids = lambda r: [row["id"] for row in r.json()["results"]]  # noqa: E731
    assert ids(api.get(LIST)) == [str(pending.public_id), str(accepted.public_id)]
    assert ids(api.get(LIST, {"status": "accepted"})) == [str(accepted.public_id)]
    assert ids(api.get(LIST, {"status": "pending"})) == [str(pending.public_id)]
    assert api.get(LIST, {"status": "maybe"}).status_code == 400
    assert api.get(LIST, {"patient": "not-a-uuid"}).status_code == 400


def test_the_list_of_another_teams_patient_is_a_404(client_for, other_clinician, rec, patient):
    other = client_for(other_clinician)
    assert other.get(LIST, {"patient": str(patient.public_id)}).status_code == 404
    assert other.get(LIST).json()["count"] == 0


def test_one_recommendation_is_the_selectors_payload(api, rec):
    response = api.get(one(rec))
    assert response.status_code == 200
    body = response.json()
    payload = recommendation_payload(rec)
    assert set(body) == set(payload) == set(out.RecommendationSerializer().fields)
    assert body["benefit"]["ci_difference"] == BENEFIT["ci_difference"]
    assert body["reasons"][0]["at"] == "2026-03-02"
    assert body["title"] == "Start metformin" and body["decided_by"] is None


def test_reading_allowed_and_denied(client_for, team, rec, other_clinician):
    nurse = client_for(on_team(factories.NurseFactory, team))
    assert nurse.get(one(rec)).status_code == 200
    assert client_for(other_clinician).get(one(rec)).status_code == 404
    researcher = client_for(factories.ResearcherFactory())
    assert researcher.get(one(rec)).status_code == 403
    assert researcher.get(LIST).status_code == 403
    assert APIClient().get(one(rec)).status_code == 401
    assert APIClient().get(LIST).status_code == 401


def test_an_unknown_or_malformed_id_is_a_404(api):
    assert api.get(f"{LIST}00000000-0000-0000-0000-000000000000/").status_code == 404
    assert api.get(f"{LIST}not-a-uuid/").status_code == 404
    assert api.post(f"{LIST}00000000-0000-0000-0000-000000000000/accept/").status_code == 404


# --- deciding -------------------------------------------------------------------------------------


def test_a_clinician_accepts(api, rec, clinician):
    response = api.post(one(rec, "accept"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "accepted" and body["decided_at"]
    feedback = Feedback.objects.get(recommendation=rec)
    assert feedback.outcome == Feedback.Outcome.ACCEPTED and feedback.user == clinician
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_id=str(rec.public_id)
    ).exists()


def test_a_clinician_declines_with_a_reason_and_a_note(api, rec):
    response = api.post(
        one(rec, "decline"), {"reason": "other", "note": "Seen by cardiology."}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "declined"
    assert body["decline_reason"] == "other" and body["decline_note"] == "Seen by cardiology."
    feedback = Feedback.objects.get(recommendation=rec)
    assert (feedback.reason_code, feedback.reason_text) == ("other", "Seen by cardiology.")


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "reason", "Give a reason for declining"),
        ({"reason": ""}, "reason", "is not a decline reason"),
        ({"reason": "bored"}, "reason", '"bored" is not a decline reason'),
        ({"reason": "other"}, "note", "Say why"),
        ({"reason": "other", "note": "   "}, "note", "Say why"),
        ({"reason": "deferred", "urgent": True}, "urgent", "Unknown"),
        ({"reason": "deferred", "note": "x" * 501}, "note", "500"),
    ],
)
def test_a_decline_without_a_proper_reason_is_a_readable_400(api, rec, body, field, words):
    response = api.post(one(rec, "decline"), body, format="json")
    assert response.status_code == 400
    assert words in " ".join(response.json()[field])
    assert not Feedback.objects.exists()
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING


def test_a_second_decision_changes_the_first_and_both_are_audited(api, rec):
    assert api.post(one(rec, "accept")).json()["status"] == "accepted"
    response = api.post(one(rec, "decline"), {"reason": "patient_declined"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "declined"
    assert Feedback.objects.filter(recommendation=rec).count() == 2
    updates = AuditEvent.objects.filter(action=AuditAction.UPDATE, object_id=str(rec.public_id))
    assert [e.detail["decision"] for e in updates.order_by("pk")] == ["accepted", "declined"]


def test_replaced_advice_is_a_409(api, patient):
    old = recommendation_make(patient, is_current=False, retired_at=timezone.now())
    assert api.post(one(old, "accept")).status_code == 409
    response = api.post(one(old, "decline"), {"reason": "deferred"}, format="json")
    assert response.status_code == 409
    assert "replaced" in response.json()["detail"]


def test_deciding_allowed_and_denied(client_for, team, rec, other_clinician, admin_user):
    nurse = client_for(on_team(factories.NurseFactory, team))
    assert nurse.post(one(rec, "accept")).status_code == 403
    assert nurse.post(one(rec, "decline"), {"reason": "deferred"}, format="json").status_code == 403
    other = client_for(other_clinician)
    assert other.post(one(rec, "accept")).status_code == 404
    assert other.post(one(rec, "decline"), {"reason": "deferred"}, format="json").status_code == 404
    researcher = client_for(factories.ResearcherFactory())
    assert researcher.post(one(rec, "accept")).status_code == 403
    assert APIClient().post(one(rec, "accept")).status_code == 401
    assert not Feedback.objects.exists()
    assert client_for(admin_user).post(one(rec, "accept")).status_code == 200


# --- rules ----------------------------------------------------------------------------------------


def test_the_rule_catalogue_carries_acceptance_rates(api, patient):
    rule = rule_catalogue()[0]
    rec = recommendation_make(patient, rule_id=rule["id"])
    api.post(one(rec, "decline"), {"reason": "already_done"}, format="json")
    response = api.get(RULES)
    assert response.status_code == 200
    rules = {row["id"]: row for row in response.json()}
    assert set(rules) == {r["id"] for r in rule_catalogue()}
    row = rules[rule["id"]]
    assert row["source"]["label"] and row["description"]
    assert row["acceptance"] == {
        "decided": 1,
        "accepted": 0,
        "declined": 1,
        "rate": 0.0,
        "reasons": {"already_done": 1},
    }
    untouched = next(r for r in rules.values() if r["id"] != rule["id"])
    assert untouched["acceptance"]["rate"] is None


def test_the_rule_catalogue_allowed_and_denied(client_for, team, admin_user):
    assert client_for(admin_user).get(RULES).status_code == 200
    assert client_for(on_team(factories.NurseFactory, team)).get(RULES).status_code == 403
    assert client_for(factories.ResearcherFactory()).get(RULES).status_code == 403
    assert APIClient().get(RULES).status_code == 401
