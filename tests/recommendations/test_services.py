"""recommendations.services: refreshing a patient's recommendations (same advice keeps its row and
decision, changed advice replaces it, advice that stops applying retires), decisions with reasons,
CDS feedback, acceptance rates, the refresh queued after commit, and the timeline.

The upsert tests register a test rule of their own (a fake rule in a unit test): the real rules'
own tests are under tests/recommendations/rules, and test_refresh_with_the_real_rules checks the
two together.
"""

import datetime as dt
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent
from patients.selectors import patient_timeline
from patients.services import condition_add, lifestyle_record, observation_record
from recommendations import engine
from recommendations.engine.facts import PatientFacts
from recommendations.engine.types import Finding, Reason, Rule, Source, Urgency
from recommendations.models import (
    CdsCard,
    CdsClient,
    EvaluationRun,
    Feedback,
    Recommendation,
)
from recommendations.selectors import (
    acceptance_rates,
    recommendation_payload,
    recommendations_awaiting,
    recommendations_for_patient,
)
from recommendations.services import (
    cds_feedback_record,
    recommendation_accept,
    recommendation_decline,
    recommendations_refresh,
)
from tests import factories

HBA1C = "4548-4"
RULE_ID = "test-hba1c"
SOURCE = Source("Test guideline", 2025, "1.2")


def _hba1c_rule(facts: PatientFacts) -> Finding | None:
    fact = facts.obs(HBA1C)
    if fact is None or fact.value < 7:
        return None
    action = "Intensify therapy." if fact.value >= 9 else "Review therapy."
    return Finding(
        rule_id=RULE_ID,
        title="HbA1c above target",
        action=action,
        category="diabetes",
        urgency=Urgency.SOON,
        strength="strong",
        evidence="Grade A",
        source=SOURCE,
        reasons=(Reason(f"HbA1c {fact.value:g} %", HBA1C, f"{fact.value:g} %", fact.at),),
    )


@pytest.fixture
def test_rule(monkeypatch):
    engine.rules_all()  # the real rules first, so that ours is added to a complete registry
    rule = Rule(RULE_ID, "HbA1c above target", "diabetes", SOURCE, "HbA1c >= 7 %", _hba1c_rule)
    monkeypatch.setitem(engine.RULES, RULE_ID, rule)
    return rule


def _hba1c(patient, by, value: float, days_ago: float = 1):
    return observation_record(
        by=by,
        patient=patient,
        code=HBA1C,
        value=value,
        unit="%",
        effective_at=timezone.now() - dt.timedelta(days=days_ago),
    )


def _ours(patient) -> Recommendation | None:
    return recommendations_for_patient(patient=patient).filter(rule_id=RULE_ID).first()


def test_refresh_makes_a_recommendation_with_its_reasons_and_source(test_rule, patient, clinician):
    _hba1c(patient, clinician, 8.1)
    current = recommendations_refresh(patient=patient)
    rec = _ours(patient)
    assert rec is not None and rec in current
    assert rec.status == Recommendation.Status.PENDING and rec.is_current
    assert rec.reasons[0]["value"] == "8.1 %" and rec.reasons[0]["code"] == HBA1C
    assert rec.reasons[0]["at"] == str(timezone.localdate() - dt.timedelta(days=1))
    assert rec.source == {"guideline": "Test guideline", "year": 2025, "section": "1.2", "url": ""}
    run = EvaluationRun.objects.get(patient=patient)
    assert run.findings == len(current) and run.duration_ms > 0
    assert [r.rank for r in current] == list(range(len(current)))


def test_same_advice_keeps_its_row_and_decision_with_fresh_values(test_rule, patient, clinician):
    _hba1c(patient, clinician, 7.5, days_ago=30)
    recommendations_refresh(patient=patient)
    rec = _ours(patient)
    recommendation_accept(by=clinician, recommendation=rec)
    _hba1c(patient, clinician, 8.2)
    recommendations_refresh(patient=patient)
    again = _ours(patient)
    assert again.pk == rec.pk
    assert again.status == Recommendation.Status.ACCEPTED
    assert again.reasons[0]["value"] == "8.2 %"


def test_changed_advice_retires_the_old_row_and_asks_again(test_rule, patient, clinician):
    _hba1c(patient, clinician, 7.5, days_ago=30)
    recommendations_refresh(patient=patient)
    old = _ours(patient)
    recommendation_decline(by=clinician, recommendation=old, reason="patient_declined")
    _hba1c(patient, clinician, 9.4)
    recommendations_refresh(patient=patient)
    old.refresh_from_db()
    new = _ours(patient)
    assert not old.is_current and old.retired_at is not None
    assert old.status == Recommendation.Status.DECLINED  # history kept
    assert new.pk != old.pk and new.status == Recommendation.Status.PENDING
    assert new.action == "Intensify therapy."


def test_advice_that_stops_applying_is_retired(test_rule, patient, clinician):
    _hba1c(patient, clinician, 8.0, days_ago=30)
    recommendations_refresh(patient=patient)
    rec = _ours(patient)
    _hba1c(patient, clinician, 6.4)
    recommendations_refresh(patient=patient)
    rec.refresh_from_db()
    assert not rec.is_current and _ours(patient) is None


def test_decline_needs_a_reason_and_other_needs_a_note(test_rule, patient, clinician):
    _hba1c(patient, clinician, 8.0)
    recommendations_refresh(patient=patient)
    rec = _ours(patient)
    with pytest.raises(ValidationError) as missing:
        recommendation_decline(by=clinician, recommendation=rec, reason="")
    assert "reason" in missing.value.message_dict
    with pytest.raises(ValidationError) as unknown:
        recommendation_decline(by=clinician, recommendation=rec, reason="because")
    assert "reason" in unknown.value.message_dict
    with pytest.raises(ValidationError) as no_note:
        recommendation_decline(by=clinician, recommendation=rec, reason="other", note="  ")
    assert "note" in no_note.value.message_dict
    assert not Feedback.objects.exists()
    rec = recommendation_decline(
        by=clinician, recommendation=rec, reason="other", note="Seen by endocrinology today"
    )
    assert rec.status == Recommendation.Status.DECLINED and rec.decided_by == clinician
    feedback = Feedback.objects.get()
    assert (feedback.outcome, feedback.reason_code, feedback.user) == (
        "declined",
        "other",
        clinician,
    )
    event = AuditEvent.objects.filter(object_id=str(rec.public_id)).latest("pk")
    assert event.detail["decision"] == "declined" and event.detail["rule"] == RULE_ID
    assert "endocrinology" not in str(event.detail)  # the free text stays out of the audit trail


def test_only_clinicians_of_the_team_decide(test_rule, patient, clinician, other_clinician, team):
    _hba1c(patient, clinician, 8.0)
    recommendations_refresh(patient=patient)
    rec = _ours(patient)
    nurse = factories.NurseFactory()
    from patients.services import care_team_add_member

    care_team_add_member(team=team, user=nurse)
    for user in (nurse, other_clinician):
        with pytest.raises(PermissionDenied):
            recommendation_accept(by=user, recommendation=rec)
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING
    assert AuditEvent.objects.filter(object_id=str(rec.public_id), outcome="denied").count() == 2


def test_a_replaced_recommendation_cannot_be_decided(test_rule, patient, clinician):
    _hba1c(patient, clinician, 8.0, days_ago=30)
    recommendations_refresh(patient=patient)
    old = _ours(patient)
    _hba1c(patient, clinician, 9.5)
    recommendations_refresh(patient=patient)
    with pytest.raises(ValidationError, match="replaced"):
        recommendation_accept(by=clinician, recommendation=old)


def test_acceptance_rates_count_each_recommendation_once_and_cds_feedback(
    test_rule, clinician, team
):
    patients = [factories.patient_make(team=team, by=clinician) for _ in range(3)]
    recs = []
    for p in patients:
        _hba1c(p, clinician, 8.0)
        recommendations_refresh(patient=p)
        recs.append(_ours(p))
    recommendation_decline(by=clinician, recommendation=recs[0], reason="already_done")
    recommendation_accept(by=clinician, recommendation=recs[0])  # changed their mind
    recommendation_decline(by=clinician, recommendation=recs[1], reason="patient_declined")
    client = CdsClient.objects.create(name="EHR", issuer="https://ehr.example", public_key_pem="x")
    card = CdsCard.objects.create(
        uuid=uuid.uuid4(), client=client, service_id="s", rule_id=RULE_ID, hook_instance="h"
    )
    cds_feedback_record(
        client=client,
        card_uuid=card.uuid,
        outcome="overridden",
        override_reason_code="patient_declined",
    )
    row = next(r for r in acceptance_rates() if r["rule_id"] == RULE_ID)
    assert (row["decided"], row["accepted"], row["declined"]) == (3, 1, 2)
    assert row["rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert row["reasons"] == {"patient_declined": 2}
    assert len(recommendations_awaiting(user=clinician).filter(rule_id=RULE_ID)) == 1


def test_cds_feedback_is_recorded_once_and_only_for_the_clients_own_cards(db):
    ehr = CdsClient.objects.create(name="EHR", issuer="https://ehr.example", public_key_pem="x")
    other = CdsClient.objects.create(
        name="Other", issuer="https://other.example", public_key_pem="x"
    )
    card = CdsCard.objects.create(
        uuid=uuid.uuid4(), client=ehr, service_id="s", rule_id="r", hook_instance="h"
    )
    first = cds_feedback_record(client=ehr, card_uuid=card.uuid, outcome="accepted")
    again = cds_feedback_record(client=ehr, card_uuid=str(card.uuid), outcome="accepted")
    assert first.pk == again.pk and Feedback.objects.count() == 1
    for bad_client, bad_card, outcome in [
        (other, card.uuid, "accepted"),
        (ehr, uuid.uuid4(), "accepted"),
        (ehr, "not-a-uuid", "accepted"),
        (ehr, card.uuid, "maybe"),
    ]:
        with pytest.raises(ValidationError):
            cds_feedback_record(client=bad_client, card_uuid=bad_card, outcome=outcome)
    assert Feedback.objects.count() == 1


def test_decisions_show_in_the_patient_timeline(test_rule, patient, clinician):
    _hba1c(patient, clinician, 8.0)
    recommendations_refresh(patient=patient)
    recommendation_decline(by=clinician, recommendation=_ours(patient), reason="deferred")
    items = [i for i in patient_timeline(patient=patient) if i.kind == "recommendation"]
    assert len(items) == 1
    assert items[0].title == "Recommendation declined: HbA1c above target"
    assert "Deferred" in items[0].detail


def test_payload_is_json_ready_and_names_no_patient_details(test_rule, patient, clinician):
    _hba1c(patient, clinician, 8.0)
    recommendations_refresh(patient=patient)
    payload = recommendation_payload(_ours(patient))
    import json

    text = json.dumps(payload)
    assert payload["patient"] == str(patient.public_id) and payload["urgency"] == "soon"
    for phi in (patient.given_name, patient.family_name, patient.mrn):
        assert phi not in text


def test_record_changes_queue_one_refresh_after_commit(team, clinician, settings):
    """Inside the (test's) transaction nothing is worked out; one refresh per patient waits for
    the commit, however many entries were saved."""
    settings.RECOMMENDATIONS_AUTO_REFRESH = True
    patient = factories.patient_make(team=team, by=clinician)
    other = factories.patient_make(by=clinician)
    _hba1c(patient, clinician, 8.0)
    _hba1c(patient, clinician, 8.1)
    condition_add(by=clinician, patient=patient, code="E11.9", display="Type 2 diabetes")
    lifestyle_record(by=clinician, patient=patient, smoking="current")
    waiting = [
        getattr(callback, "refresh_patient_id", None)
        for _, callback, *_ in connection.run_on_commit
    ]
    assert waiting.count(patient.pk) == 1 and waiting.count(other.pk) == 1
    assert not Recommendation.objects.filter(patient=patient).exists()  # nothing in the request


def test_the_queued_refresh_runs_the_task_after_commit(
    team, clinician, django_capture_on_commit_callbacks, monkeypatch, settings
):
    from recommendations import tasks

    settings.RECOMMENDATIONS_AUTO_REFRESH = True
    sent: list[int] = []
    monkeypatch.setattr(tasks.recommendations_refresh_task, "delay", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        patient = factories.patient_make(team=team, by=clinician)
        _hba1c(patient, clinician, 8.0)
        assert sent == []
    assert sent == [patient.pk]


def test_refresh_with_the_real_rules(patient, clinician):
    """A smoker with type 2 diabetes, HbA1c 8.5 % and no metformin gets diabetes and smoking
    advice from the real rules, with the values behind it."""
    condition_add(by=clinician, patient=patient, code="E11.9", display="Type 2 diabetes")
    _hba1c(patient, clinician, 8.5)
    lifestyle_record(by=clinician, patient=patient, smoking="current")
    current = recommendations_refresh(patient=patient)
    categories = {rec.category for rec in current}
    assert {"diabetes", "smoking"} <= categories
    diabetes = [rec for rec in current if rec.category == "diabetes"]
    assert any(r["code"] == HBA1C for rec in diabetes for r in rec.reasons)
    assert all(rec.source["guideline"] and rec.source["year"] for rec in current)


def test_refresh_command_only_missing(patient, clinician, team):
    other = factories.patient_make(team=team, by=clinician)
    recommendations_refresh(patient=patient)
    before = EvaluationRun.objects.get(patient=patient).evaluated_at
    call_command("refresh_recommendations", "--only-missing")
    assert EvaluationRun.objects.get(patient=patient).evaluated_at == before
    assert EvaluationRun.objects.filter(patient=other).exists()


def test_no_refresh_is_queued_when_auto_refresh_is_off(team, clinician, settings):
    settings.RECOMMENDATIONS_AUTO_REFRESH = False
    patient = factories.patient_make(team=team, by=clinician)
    _hba1c(patient, clinician, 8.0)
    waiting = [getattr(cb, "refresh_patient_id", None) for _, cb, *_ in connection.run_on_commit]
    assert patient.pk not in waiting
