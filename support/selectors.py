"""Reads of the helpdesk: who sees which tickets and replies, and the feedback counts the
model-quality dashboard shows.

Everyone sees the tickets they opened; portal administrators see every ticket. Anyone else asking
for a ticket gets Http404, the same answer as for an id that does not exist, so ticket ids reveal
nothing. Internal notes are shown to administrators only.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import Http404

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditOutcome, User
from patients.models import Patient
from patients.selectors import patients_visible_to
from support.models import Ticket, TicketReply

# The patient chooser of the new-ticket form lists at most this many of the user's patients (the
# most recently updated first); a ticket about a result carries its patient without the list.
PATIENT_CHOICES_MAX = 100


def user_is_support_admin(*, user: User) -> bool:
    """Portal administrators triage tickets (in Django admin, and in the portal)."""
    return bool(user.is_authenticated and user.is_active and user.is_portal_admin)


def tickets_visible_to(*, user: User) -> QuerySet[Ticket]:
    if not user.is_authenticated or not user.is_active:
        return Ticket.objects.none()
    tickets = Ticket.objects.select_related("created_by", "assignee")
    if user_is_support_admin(user=user):
        return tickets
    return tickets.filter(created_by=user)


def tickets_for_user(*, user: User, status: str = "", assigned: str = "") -> QuerySet[Ticket]:
    """The tickets `user` may see, newest activity first, optionally of one status (or "active":
    open, in progress or waiting) and assigned to them ("me") or to nobody ("nobody")."""
    tickets = tickets_visible_to(user=user)
    if status == "active":
        tickets = tickets.filter(status__in=Ticket.ACTIVE_STATUSES)
    elif status in Ticket.Status.values:
        tickets = tickets.filter(status=status)
    if assigned == "me":
        tickets = tickets.filter(assignee=user)
    elif assigned == "nobody":
        tickets = tickets.filter(assignee__isnull=True)
    return tickets.order_by("-updated_at", "-pk")


def ticket_get_for_user(*, user: User, public_id: uuid.UUID | str, ip: str | None = None) -> Ticket:
    """The ticket if `user` opened it or administers the portal; else Http404, audited as a
    denial (the same answer whether it does not exist or is someone else's)."""
    try:
        return tickets_visible_to(user=user).select_related("patient").get(public_id=public_id)
    except (Ticket.DoesNotExist, ValueError, TypeError, ValidationError):
        audit_record(
            actor=user,
            action=AuditAction.DENIED,
            object_type="support.ticket",
            object_id=str(public_id)[:64],
            ip=ip,
            outcome=AuditOutcome.DENIED,
            detail={"wanted": "view"},
        )
        raise Http404("No such ticket.") from None


def ticket_replies_for_user(*, user: User, ticket: Ticket) -> QuerySet[TicketReply]:
    """The thread of a ticket the caller may see, oldest first; internal notes for admins only."""
    replies = TicketReply.objects.filter(ticket=ticket).select_related("author")
    if not user_is_support_admin(user=user):
        replies = replies.filter(is_internal=False)
    return replies.order_by("created_at", "pk")


def ticket_patient_choices(*, user: User, limit: int = PATIENT_CHOICES_MAX) -> list[Patient]:
    """The patients the new-ticket form offers: only ones `user` may see."""
    return list(patients_visible_to(user=user).order_by("-updated_at", "-pk")[:limit])


# --- feedback on AI results, for the model-quality dashboard ---------------------------------


_ACTIVE = Q(status__in=Ticket.ACTIVE_STATUSES)


def ai_feedback_by_risk_version(*, version_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """{risk model version pk: {"open": n, "total": n}} of "AI result looks wrong" tickets, in
    one query; versions without any are absent. Counts of staff reports, identifying no one."""
    rows = (
        Ticket.objects.filter(
            category=Ticket.Category.AI_RESULT, risk_model_version_id__in=list(version_ids)
        )
        .values("risk_model_version_id")
        .annotate(total=Count("pk"), open=Count("pk", filter=_ACTIVE))
    )
    return {r["risk_model_version_id"]: {"open": r["open"], "total": r["total"]} for r in rows}


def ai_feedback_for_risk_version(*, version_id: int) -> dict[str, int]:
    counts = ai_feedback_by_risk_version(version_ids=[version_id])
    return counts.get(version_id, {"open": 0, "total": 0})


@dataclass(frozen=True)
class AiFeedback:
    """Counts of "AI result looks wrong" tickets ({"open": n, "total": n}): per risk model
    version pk, and per imaging model version ({"public_id", "name", "version", "open",
    "total"}, newest version first). Counts of staff reports, identifying no one."""

    by_risk_version: dict[int, dict[str, int]]
    imaging: list[dict[str, Any]]

    def for_risk_version(self, pk: int) -> dict[str, int]:
        return self.by_risk_version.get(pk, {"open": 0, "total": 0})


def ai_feedback_summary(*, risk_version_ids: Iterable[int]) -> AiFeedback:
    """The feedback of the risk versions `risk_version_ids` and of every imaging version that
    has any, in one query (the model-quality list has a query budget)."""
    rows = (
        Ticket.objects.filter(category=Ticket.Category.AI_RESULT)
        .filter(
            Q(risk_model_version_id__in=list(risk_version_ids))
            | Q(imaging_model_version__isnull=False)
        )
        .values(
            "risk_model_version_id",
            "imaging_model_version__public_id",
            "imaging_model_version__name",
            "imaging_model_version__version",
            "imaging_model_version__registered_at",
        )
        .annotate(total=Count("pk"), open=Count("pk", filter=_ACTIVE))
        .order_by()
    )
    by_risk: dict[int, dict[str, int]] = {}
    imaging: dict[Any, dict[str, Any]] = {}
    for r in rows:
        if r["risk_model_version_id"] is not None:
            counts = by_risk.setdefault(r["risk_model_version_id"], {"open": 0, "total": 0})
        elif r["imaging_model_version__public_id"] is not None:
            counts = imaging.setdefault(
                r["imaging_model_version__public_id"],
                {
                    "public_id": r["imaging_model_version__public_id"],
                    "name": r["imaging_model_version__name"],
                    "version": r["imaging_model_version__version"],
                    "registered_at": r["imaging_model_version__registered_at"],
                    "open": 0,
                    "total": 0,
                },
            )
        else:
            continue
        counts["open"] += r["open"]
        counts["total"] += r["total"]
    newest_first = sorted(imaging.values(), key=lambda i: i["registered_at"], reverse=True)
    return AiFeedback(by_risk_version=by_risk, imaging=newest_first)
