"""Reads of the recommendations app: a patient's current recommendations, what awaits a
clinician's decision, the rule catalogue and the acceptance rate of each rule (for dashboards).

Acceptance rates count each portal recommendation once, by its latest decision, and each CDS Hooks
card's feedback once: a clinician changing their mind does not count twice.
"""

import datetime as dt
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import Http404

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditOutcome, Role, User
from patients.models import Patient
from patients.selectors import TimelineItem, patients_visible_to
from recommendations.models import EvaluationRun, Feedback, Recommendation

# Roles that accept or decline recommendations (on their care teams' patients).
DECIDING_ROLES = frozenset({Role.CLINICIAN, Role.ADMIN})
URGENCY_WORDS = {1: "routine", 2: "soon", 3: "urgent"}


def user_may_decide(*, user: User) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_portal_admin or user.role in DECIDING_ROLES)
    )


def recommendations_visible_to(*, user: User) -> QuerySet[Recommendation]:
    return Recommendation.objects.filter(patient__in=patients_visible_to(user=user))


def recommendations_for_patient(*, patient: Patient) -> QuerySet[Recommendation]:
    """The patient's current recommendations, by rank (the caller has checked access)."""
    return (
        Recommendation.objects.filter(patient=patient, is_current=True)
        .select_related("decided_by")
        .order_by("rank", "pk")
    )


def recommendation_get_for_user(
    *, user: User, public_id: uuid.UUID | str, ip: str | None = None, want: str = "view"
) -> Recommendation:
    """The recommendation if `user` may see its patient; else Http404, audited as a denial."""
    try:
        return (
            recommendations_visible_to(user=user)
            .select_related("patient", "decided_by")
            .get(public_id=public_id)
        )
    except (Recommendation.DoesNotExist, ValueError, TypeError, ValidationError):
        audit_record(
            actor=user,
            action=AuditAction.DENIED,
            object_type="recommendations.recommendation",
            object_id=str(public_id)[:64],
            ip=ip,
            outcome=AuditOutcome.DENIED,
            detail={"wanted": want},
        )
        raise Http404("No such recommendation, or you do not have access to its patient.") from None


def recommendations_awaiting(*, user: User) -> QuerySet[Recommendation]:
    """Current recommendations nobody has decided on, for the user's patients, most urgent first."""
    return (
        recommendations_visible_to(user=user)
        .filter(is_current=True, status=Recommendation.Status.PENDING)
        .select_related("patient")
        .order_by("-urgency", "rank", "created_at")
    )


def evaluation_run_for(*, patient: Patient) -> EvaluationRun | None:
    return EvaluationRun.objects.filter(patient=patient).first()


def rule_catalogue() -> list[dict[str, Any]]:
    """Every rule: id, title, category, when it applies, and its source."""
    from recommendations.engine import rules_all

    return [
        {
            "id": rule.id,
            "title": rule.title,
            "category": rule.category,
            "description": rule.description,
            "source": {
                "guideline": rule.source.guideline,
                "year": rule.source.year,
                "section": rule.source.section,
                "url": rule.source.url,
                "label": rule.source.label(),
            },
        }
        for rule in rules_all()
    ]


def acceptance_rates(*, since: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per rule: decisions, accepted, declined, acceptance rate (None before any decision) and
    the decline reasons counted; portal decisions (latest per recommendation) and CDS feedback."""
    decided = Recommendation.objects.exclude(status=Recommendation.Status.PENDING)
    cds = Feedback.objects.filter(recommendation__isnull=True)
    if since is not None:
        decided = decided.filter(decided_at__gte=since)
        cds = cds.filter(at__gte=since)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    # Counted in SQL (two grouped queries), so the cost does not grow with the decisions.
    rows: Iterable[tuple[str, str, str, int]] = [
        *decided.values_list("rule_id", "status", "decline_reason")
        .annotate(n=Count("pk"))
        .order_by(),
        *(
            (rule, "accepted" if outcome == Feedback.Outcome.ACCEPTED else "declined", code, n)
            for rule, outcome, code, n in cds.values_list("rule_id", "outcome", "reason_code")
            .annotate(n=Count("pk"))
            .order_by()
        ),
    ]
    for rule_id, status, reason, n in rows:
        counts[rule_id][status] += n
        if status == "declined":
            reasons[rule_id][reason or "unspecified"] += n
    titles = {rule["id"]: rule["title"] for rule in rule_catalogue()}
    out = []
    for rule_id in sorted(set(titles) | set(counts)):
        accepted = counts[rule_id]["accepted"]
        declined = counts[rule_id]["declined"]
        total = accepted + declined
        out.append(
            {
                "rule_id": rule_id,
                "title": titles.get(rule_id, rule_id),
                "decided": total,
                "accepted": accepted,
                "declined": declined,
                "rate": round(accepted / total, 4) if total else None,
                "reasons": dict(reasons[rule_id]),
            }
        )
    return out


def recommendation_payload(rec: Recommendation) -> dict[str, Any]:
    """A recommendation as JSON (API): no patient identifiers beyond the patient's public id."""
    return {
        "id": str(rec.public_id),
        "patient": str(rec.patient.public_id),
        "rule_id": rec.rule_id,
        "title": rec.title,
        "action": rec.action,
        "category": rec.category,
        "urgency": URGENCY_WORDS.get(rec.urgency, str(rec.urgency)),
        "rank": rec.rank,
        "strength": rec.strength,
        "evidence": rec.evidence,
        "source": rec.source,
        "reasons": rec.reasons,
        "suppressed": rec.suppressed,
        "suggestions": rec.suggestions,
        "details": rec.details,
        "benefit": rec.benefit,
        "illustrative": rec.illustrative,
        "illustrative_note": rec.illustrative_note,
        "status": rec.status,
        "is_current": rec.is_current,
        "created_at": rec.created_at.isoformat(),
        "evaluated_at": rec.evaluated_at.isoformat(),
        "decided_at": rec.decided_at.isoformat() if rec.decided_at else None,
        "decided_by": rec.decided_by.get_full_name() if rec.decided_by else None,
        "decline_reason": rec.decline_reason,
        "decline_note": rec.decline_note,
    }


def recommendation_timeline_items(patient: Patient) -> Iterable[TimelineItem]:
    """Decisions on the patient's recommendations as timeline lines (registered in apps.ready)."""
    feedback = (
        Feedback.objects.filter(recommendation__patient=patient)
        .select_related("recommendation", "user")
        .order_by("-at")[:500]
    )
    labels = dict(decline_reason_labels())
    for item in feedback:
        rec = item.recommendation
        assert rec is not None
        who = item.user.get_full_name() if item.user else "EHR"
        if item.outcome == Feedback.Outcome.ACCEPTED:
            title = f"Recommendation accepted: {rec.title}"
            detail = f"by {who}"
        else:
            title = f"Recommendation declined: {rec.title}"
            reason = labels.get(item.reason_code, item.reason_code)
            detail = f"by {who}: {reason}" + (f" ({item.reason_text})" if item.reason_text else "")
        yield TimelineItem(item.at, "recommendation", title, detail, rec)


def decline_reason_labels() -> list[tuple[str, str]]:
    """(value, label) of every reason a clinician may give for declining."""
    from recommendations.models import DeclineReason

    return [(choice.value, str(choice.label)) for choice in DeclineReason]
