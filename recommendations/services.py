"""Every write of the recommendations app: working out a patient's recommendations, and the
decisions clinicians (in the portal) and EHRs (through CDS Hooks) make on them.

`recommendations_refresh` runs the rules over the record and brings the patient's current
recommendations in line with the findings in one transaction: the same advice keeps its row (and
its decision), changed advice retires the old row and makes a new one, advice that no longer
applies is retired. It runs in a Celery task on the `default` queue, after the commit of whatever
changed the record (signals in recommendations.signals), never on a page view.
"""

import dataclasses
import functools
import hashlib
import json
import logging
import time
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditOutcome, User
from patients.models import Patient
from patients.selectors import patients_visible_to
from recommendations.benefit import benefit_estimate_for_facts
from recommendations.engine import evaluate
from recommendations.engine.facts import PatientFacts
from recommendations.engine.types import Finding
from recommendations.facts import facts_for_patient
from recommendations.models import (
    CdsCard,
    CdsClient,
    DeclineReason,
    EvaluationRun,
    Feedback,
    Recommendation,
)
from recommendations.selectors import user_may_decide

logger = logging.getLogger(__name__)

NOTE_MAX = 500


# --- findings -----------------------------------------------------------------------------------


def findings_for_facts(facts: PatientFacts) -> list[Finding]:
    """The ranked, de-duplicated findings for `facts`, with the treatment-benefit estimate added
    when the patient is one the benefit model speaks for."""
    if facts.benefit is None:
        benefit = benefit_estimate_for_facts(facts)
        if benefit is not None:
            facts = dataclasses.replace(facts, benefit=benefit)
    return evaluate(facts)


def _jsonable(value: Any) -> Any:
    """Dataclass values as JSON: dates as ISO strings, tuples as lists."""
    return json.loads(json.dumps(value, default=str))


def finding_fields(finding: Finding, rank: int) -> dict[str, Any]:
    """A finding as the columns of a Recommendation row."""
    suppressed = [dataclasses.asdict(s) for s in finding.suppressed]
    fingerprint_source = json.dumps(
        [finding.rule_id, finding.action, sorted(s["option"] for s in suppressed)]
    )
    return {
        "rule_id": finding.rule_id,
        "title": finding.title[:200],
        "action": finding.action,
        "category": finding.category,
        "urgency": int(finding.urgency),
        "strength": finding.strength,
        "evidence": finding.evidence[:60],
        "source": dataclasses.asdict(finding.source),
        "reasons": _jsonable([dataclasses.asdict(r) for r in finding.reasons]),
        "suppressed": suppressed,
        "suggestions": [dataclasses.asdict(s) for s in finding.suggestions],
        "details": _jsonable(finding.details),
        "benefit": _jsonable(dataclasses.asdict(finding.benefit)) if finding.benefit else None,
        "illustrative": finding.illustrative,
        "illustrative_note": finding.illustrative_note[:300],
        "rank": rank,
        "fingerprint": hashlib.sha256(fingerprint_source.encode()).hexdigest(),
    }


# Content that may change under the same advice (new values, new dates): updated in place.
_REFRESHED = (
    "title",
    "urgency",
    "strength",
    "evidence",
    "source",
    "reasons",
    "suggestions",
    "details",
    "benefit",
    "illustrative",
    "illustrative_note",
    "rank",
    "evaluated_at",
)


def recommendations_refresh(*, patient: Patient) -> list[Recommendation]:
    """Work out `patient`'s recommendations again; the current rows, by rank."""
    started = time.perf_counter()
    findings = findings_for_facts(facts_for_patient(patient=patient))
    now = timezone.now()
    kept: list[Recommendation] = []
    with transaction.atomic():
        # Two refreshes of one patient (two workers) take turns rather than interleave.
        Patient.objects.select_for_update().filter(pk=patient.pk).exists()
        current = {
            rec.rule_id: rec
            for rec in Recommendation.objects.select_for_update().filter(
                patient=patient, is_current=True
            )
        }
        for rank, finding in enumerate(findings):
            fields = finding_fields(finding, rank)
            rec = current.pop(finding.rule_id, None)
            if rec is not None and rec.fingerprint == fields["fingerprint"]:
                for name in _REFRESHED:
                    setattr(rec, name, now if name == "evaluated_at" else fields[name])
                rec.save(update_fields=list(_REFRESHED))
            else:
                if rec is not None:
                    _retire(rec, now)
                rec = Recommendation.objects.create(
                    patient=patient, created_at=now, evaluated_at=now, **fields
                )
            kept.append(rec)
        for rec in current.values():
            _retire(rec, now)
        EvaluationRun.objects.update_or_create(
            patient=patient,
            defaults={
                "evaluated_at": now,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "findings": len(kept),
            },
        )
    return kept


def _retire(rec: Recommendation, now: Any) -> None:
    rec.is_current = False
    rec.retired_at = now
    rec.save(update_fields=["is_current", "retired_at"])


def _enqueue(patient_id: int) -> None:
    from recommendations.tasks import recommendations_refresh_task

    try:
        recommendations_refresh_task.delay(patient_id)
    except Exception:
        # The broker is down: the record is saved; the next change (or the page's "work out
        # again" for a patient never evaluated) queues it again.
        logger.warning("patient %s: recommendation refresh not queued", patient_id, exc_info=True)


def recommendations_refresh_later(*, patient_id: int) -> None:
    """Queue a refresh of the patient's recommendations once the current transaction commits.
    Ten record entries saved in one transaction queue one refresh, not ten."""
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        for _savepoints, queued, *_ in connection.run_on_commit:
            if getattr(queued, "refresh_patient_id", None) == patient_id:
                return
    callback = functools.partial(_enqueue, patient_id)
    callback.refresh_patient_id = patient_id  # type: ignore[attr-defined]
    transaction.on_commit(callback)


# --- decisions ----------------------------------------------------------------------------------


def _require_may_decide(by: User, rec: Recommendation, ip: str | None) -> None:
    allowed = user_may_decide(user=by) and (
        patients_visible_to(user=by).filter(pk=rec.patient_id).exists()
    )
    if not allowed:
        audit_record(
            actor=by,
            action=AuditAction.DENIED,
            obj=rec,
            ip=ip,
            outcome=AuditOutcome.DENIED,
            detail={"wanted": "decide", "rule": rec.rule_id},
        )
        raise PermissionDenied("Your role does not allow deciding on recommendations.")


def _decide(
    *,
    by: User,
    rec: Recommendation,
    outcome: str,
    reason: str = "",
    note: str = "",
    ip: str | None = None,
) -> Recommendation:
    _require_may_decide(by, rec, ip)
    with transaction.atomic():
        rec = Recommendation.objects.select_for_update().get(pk=rec.pk)
        if not rec.is_current:
            raise ValidationError(
                "This recommendation has been replaced by a newer one: reload the page and "
                "decide on the current advice."
            )
        previous = rec.status
        rec.status = outcome
        rec.decided_at = timezone.now()
        rec.decided_by = by
        rec.decline_reason = reason
        rec.decline_note = note
        rec.save(
            update_fields=["status", "decided_at", "decided_by", "decline_reason", "decline_note"]
        )
        Feedback.objects.create(
            recommendation=rec,
            rule_id=rec.rule_id,
            outcome=(
                Feedback.Outcome.ACCEPTED
                if outcome == Recommendation.Status.ACCEPTED
                else Feedback.Outcome.DECLINED
            ),
            reason_code=reason,
            reason_text=note,
            user=by,
            at=rec.decided_at,
        )
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            obj=rec,
            ip=ip,
            detail={
                "decision": outcome,
                "previous": previous,
                "rule": rec.rule_id,
                "reason": reason,
                "patient": str(rec.patient.public_id),
            },
        )
    return rec


def recommendation_accept(
    *, by: User, recommendation: Recommendation, ip: str | None = None
) -> Recommendation:
    """Record that `by` accepts the recommendation (a second decision replaces the first; both
    stay in the feedback history and the audit trail)."""
    return _decide(by=by, rec=recommendation, outcome=Recommendation.Status.ACCEPTED, ip=ip)


def recommendation_decline(
    *,
    by: User,
    recommendation: Recommendation,
    reason: str,
    note: str = "",
    ip: str | None = None,
) -> Recommendation:
    """Record that `by` declines it, with a reason from DeclineReason (and a note, which "other"
    requires)."""
    reason = (reason or "").strip()
    note = (note or "").replace("\x00", "").strip()
    if reason not in DeclineReason.values:
        raise ValidationError({"reason": "Choose why you decline this recommendation."})
    if reason == DeclineReason.OTHER and not note:
        raise ValidationError({"note": "Say why you decline it (required for “Other”)."})
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": f"Keep the note under {NOTE_MAX} characters."})
    return _decide(
        by=by,
        rec=recommendation,
        outcome=Recommendation.Status.DECLINED,
        reason=reason,
        note=note,
        ip=ip,
    )


# --- CDS Hooks ------------------------------------------------------------------------------------


def cds_cards_issue(
    *, client: CdsClient, service_id: str, hook_instance: str, rule_ids: list[str]
) -> list[uuid.UUID]:
    """Record the cards about to be returned to `client` (one per rule id); their uuids."""
    cards = [
        CdsCard(
            uuid=uuid.uuid4(),
            client=client,
            service_id=service_id,
            rule_id=rule_id,
            hook_instance=hook_instance[:100],
        )
        for rule_id in rule_ids
    ]
    CdsCard.objects.bulk_create(cards)
    return [card.uuid for card in cards]


def cds_feedback_record(
    *,
    client: CdsClient,
    card_uuid: uuid.UUID | str,
    outcome: str,
    override_reason_code: str = "",
    override_reason_text: str = "",
) -> Feedback:
    """Record an EHR's feedback on one of the cards it was given: "accepted" or "overridden".
    A retry of the same feedback changes nothing (one row per card and outcome)."""
    try:
        card_id = uuid.UUID(str(card_uuid))
    except ValueError:
        raise ValidationError({"card": "Not a card id."}) from None
    card = CdsCard.objects.filter(uuid=card_id, client=client).first()
    if card is None:
        raise ValidationError({"card": "No such card was given to this client."})
    if outcome not in ("accepted", "overridden"):
        raise ValidationError({"outcome": "Outcome must be “accepted” or “overridden”."})
    mapped = Feedback.Outcome.ACCEPTED if outcome == "accepted" else Feedback.Outcome.DECLINED
    with transaction.atomic():
        feedback, created = Feedback.objects.get_or_create(
            card_uuid=card_id,
            outcome=mapped,
            defaults={
                "rule_id": card.rule_id,
                "client": client,
                "reason_code": override_reason_code[:60],
                "reason_text": override_reason_text.replace("\x00", "")[:NOTE_MAX],
            },
        )
        if created:
            audit_record(
                actor=None,
                action=AuditAction.CREATE,
                obj=feedback,
                detail={"client": client.name, "rule": card.rule_id, "outcome": outcome},
            )
    return feedback
