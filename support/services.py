"""Every write of the helpdesk: opening a ticket (or feedback on an AI result), replying,
changing its status or assignee, and the owner's "seen" mark.

Links are checked against the acting user here, whoever calls: a patient, a risk assessment or a
study the user may not see is Http404 (audited as a denial by the selectors of those apps), the
same answer as for one that does not exist. The ticket's owner is told in the portal inbox
(accounts.Notification, the bell) when support answers or moves the ticket; those notices name
the ticket by its reference only, never its subject, which may name a patient.
"""

import re
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, Notification, User
from accounts.services import notification_send, notifications_mark_read
from imaging.models import Study
from imaging.selectors import study_get_for_user
from patients.models import Patient
from patients.selectors import patient_get_for_user
from prediction.models import RiskAssessment
from prediction.selectors import assessment_get_for_user
from support.models import (
    DESCRIPTION_MAX,
    PAGE_MAX,
    REPLY_MAX,
    SUBJECT_MAX,
    Ticket,
    TicketReply,
)
from support.selectors import user_is_support_admin
from support.storage import ScreenshotRefused, screenshot_remove, screenshot_store

# A path of this site: one leading slash (never "//host"), then the characters of RFC 3986 paths.
_PATH = re.compile(r"^/(?![/\\])[A-Za-z0-9\-._~%!$&'()*+,;=:@/]*$")


def page_path_clean(page: str) -> str:
    """The path of the portal page a ticket came from: the query string and fragment dropped
    (a search's terms may be PHI), "" for none. ValidationError for an absolute URL (another
    host, or any scheme) or anything that is not a same-site path."""
    page = (page or "").strip()
    if not page:
        return ""
    parts = urlsplit(page)
    if parts.scheme or parts.netloc or not _PATH.match(parts.path):
        raise ValidationError({"page": ["Give the page as a path of this site, like /patients/."]})
    if len(parts.path) > PAGE_MAX:
        raise ValidationError({"page": [f"The page path is longer than {PAGE_MAX} characters."]})
    return parts.path


def _text(field: str, value: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: ["This field is required."]})
    if len(value) > limit:
        raise ValidationError({field: [f"At most {limit} characters ({len(value)} given)."]})
    return value


def _ticket_url(ticket: Ticket) -> str:
    return reverse("support:ticket", args=[ticket.public_id])


def _notify(user: User, ticket: Ticket, what: str) -> None:
    notification_send(
        user=user, message=f"Support ticket {ticket.reference}: {what}", url=_ticket_url(ticket)
    )


def _risk_label(assessment: RiskAssessment) -> str:
    version = assessment.model_version
    return f"{version.disease} risk model {version.version}"[:130]


def _result_links(
    *,
    by: User,
    risk_assessment: uuid.UUID | None,
    study: uuid.UUID | None,
    ip: str | None,
) -> dict[str, Any]:
    """The fields that link a ticket to one AI result the user may see (Http404 otherwise)."""
    if risk_assessment is not None and study is not None:
        raise ValidationError("Link a ticket to one result: a risk assessment or a study.")
    if risk_assessment is not None:
        assessment = assessment_get_for_user(user=by, public_id=risk_assessment, ip=ip)
        return {
            "risk_assessment": assessment,
            "risk_model_version": assessment.model_version,
            "model_label": _risk_label(assessment),
            "patient": assessment.patient,
        }
    if study is not None:
        found: Study = study_get_for_user(user=by, public_id=study, ip=ip, want="feedback")
        version = found.model_version
        return {
            "study": found,
            "imaging_model_version": version,
            "model_label": f"{version.name} {version.version}"[:130] if version else "",
            "patient": found.patient,
        }
    return {}


def ticket_open(
    *,
    by: User,
    category: str,
    subject: str,
    description: str,
    page: str = "",
    patient: uuid.UUID | None = None,
    risk_assessment: uuid.UUID | None = None,
    study: uuid.UUID | None = None,
    screenshot: Iterable[bytes] | None = None,
    ip: str | None = None,
) -> Ticket:
    """Open a ticket owned by `by`. Everything is checked before anything is written: text
    lengths, the page path, the patient and the result (Http404 for one `by` may not see; a
    result brings its own patient, and another one named beside it is refused), then the
    screenshot by content (ValidationError on "screenshot", and nothing kept). A ticket that
    names a patient is audited (CREATE, with the patient's id)."""
    if category not in Ticket.Category.values:
        raise ValidationError({"category": ["Choose a category."]})
    fields: dict[str, Any] = {
        "category": category,
        "subject": _text("subject", subject, SUBJECT_MAX),
        "description": _text("description", description, DESCRIPTION_MAX),
        "page": page_path_clean(page),
    }
    links = _result_links(by=by, risk_assessment=risk_assessment, study=study, ip=ip)
    if links:
        fields["category"] = Ticket.Category.AI_RESULT
    chosen: Patient | None = None
    if patient is not None:
        chosen = patient_get_for_user(user=by, public_id=patient, ip=ip)
    if chosen is not None and "patient" in links and links["patient"].pk != chosen.pk:
        raise ValidationError({"patient": ["This result is of another patient."]})
    fields.update(links)
    if chosen is not None:
        fields["patient"] = chosen
    stored = None
    if screenshot is not None:
        try:
            stored = screenshot_store(screenshot)
        except ScreenshotRefused as refused:
            raise ValidationError({"screenshot": [refused.message]}) from None
        fields.update(
            screenshot_name=stored.name,
            screenshot_type=stored.content_type,
            screenshot_bytes=stored.size,
        )
    try:
        with transaction.atomic():
            now = timezone.now()
            ticket = Ticket.objects.create(created_by=by, created_at=now, updated_at=now, **fields)
            if ticket.patient is not None:
                detail = {"patient": str(ticket.patient.public_id), "category": ticket.category}
                if ticket.risk_assessment is not None:
                    detail["assessment"] = str(ticket.risk_assessment.public_id)
                if ticket.study is not None:
                    detail["study"] = str(ticket.study.public_id)
                audit_record(actor=by, action=AuditAction.CREATE, obj=ticket, ip=ip, detail=detail)
    except BaseException:
        if stored is not None:
            screenshot_remove(stored.name)
        raise
    return ticket


def feedback_on_result(
    *,
    by: User,
    description: str,
    risk_assessment: uuid.UUID | None = None,
    study: uuid.UUID | None = None,
    subject: str = "",
    page: str = "",
    screenshot: Iterable[bytes] | None = None,
    ip: str | None = None,
) -> Ticket:
    """ "This result looks wrong": a ticket of category AI_RESULT linked to exactly one result
    `by` may see, recording the model version that made it (what the model-quality dashboard
    counts). The subject, when not given, names the model, never the patient."""
    if (risk_assessment is None) == (study is None):
        raise ValidationError("Name one result: a risk assessment or a study.")
    if not (subject or "").strip():
        links = _result_links(by=by, risk_assessment=risk_assessment, study=study, ip=ip)
        subject = f"AI result looks wrong: {links.get('model_label') or 'imaging model'}"
    return ticket_open(
        by=by,
        category=Ticket.Category.AI_RESULT,
        subject=subject[:SUBJECT_MAX],
        description=description,
        page=page,
        risk_assessment=risk_assessment,
        study=study,
        screenshot=screenshot,
        ip=ip,
    )


@transaction.atomic
def ticket_reply(*, by: User, ticket: Ticket, body: str, internal: bool = False) -> TicketReply:
    """Add to the thread of a ticket `by` may see (the caller fetched it through
    ticket_get_for_user, or is Django admin). Internal notes are for administrators only. The
    owner's reply reopens a ticket waiting for them or resolved (a closed one takes no reply: a
    new ticket is opened instead); support's public reply notifies the owner, the owner's reply
    notifies the assignee."""
    is_admin = user_is_support_admin(user=by)
    is_owner = ticket.created_by_id == by.pk
    if not (is_admin or is_owner):
        raise PermissionDenied("This is not your ticket.")
    if internal and not is_admin:
        raise PermissionDenied("Only administrators write internal notes.")
    text = _text("body", body, REPLY_MAX)
    now = timezone.now()
    if is_owner and not internal:
        if ticket.status == Ticket.Status.CLOSED:
            raise ValidationError({"body": ["This ticket is closed; please open a new one."]})
        if ticket.status in (Ticket.Status.WAITING, Ticket.Status.RESOLVED):
            ticket.status = Ticket.Status.OPEN
            ticket.resolved_at = None
    reply = TicketReply.objects.create(
        ticket=ticket, author=by, body=text, is_internal=internal, created_at=now
    )
    ticket.updated_at = now
    changed = ["updated_at", "status", "resolved_at"]
    if not internal and not is_owner:
        ticket.support_replied_at = now
        changed.append("support_replied_at")
        _notify(ticket.created_by, ticket, "support replied.")
    elif is_owner:
        ticket.owner_seen_at = now
        changed.append("owner_seen_at")
        if ticket.assignee_id is not None and ticket.assignee_id != by.pk:
            assert ticket.assignee is not None
            _notify(ticket.assignee, ticket, "the reporter replied.")
    ticket.save(update_fields=changed)
    return reply


@transaction.atomic
def ticket_set_status(*, by: User, ticket: Ticket, status: str) -> Ticket:
    """Move a ticket: administrators to any status; its owner only to resolved (support keeps
    the rest). When anyone but the owner moves it, the owner is told."""
    if status not in Ticket.Status.values:
        raise ValidationError({"status": ["Choose a status."]})
    is_admin = user_is_support_admin(user=by)
    is_owner = ticket.created_by_id == by.pk
    owner_resolves = is_owner and status == Ticket.Status.RESOLVED and ticket.is_active
    if not is_admin and not owner_resolves:
        raise PermissionDenied("Only support changes a ticket's status.")
    if status == ticket.status:
        return ticket
    now = timezone.now()
    ticket.status = status
    ticket.updated_at = now
    done = status in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)
    ticket.resolved_at = (ticket.resolved_at or now) if done else None
    ticket.save(update_fields=["status", "updated_at", "resolved_at"])
    if not is_owner:
        _notify(ticket.created_by, ticket, f"now {Ticket.Status(status).label.lower()}.")
    return ticket


@transaction.atomic
def ticket_assign(*, by: User, ticket: Ticket, assignee: User | None) -> Ticket:
    """Give a ticket to an administrator (or to nobody). Administrators only."""
    if not user_is_support_admin(user=by):
        raise PermissionDenied("Only administrators assign tickets.")
    if assignee is not None and not (assignee.is_active and assignee.is_portal_admin):
        raise ValidationError({"assignee": ["Assign tickets to an administrator."]})
    ticket.assignee = assignee
    ticket.updated_at = timezone.now()
    ticket.save(update_fields=["assignee", "updated_at"])
    return ticket


def ticket_mark_seen(*, by: User, ticket: Ticket) -> None:
    """The owner opened their ticket: its "new reply" mark goes, and so do its unread notices
    in the bell (others looking at it change nothing)."""
    if ticket.created_by_id != by.pk:
        return
    now = timezone.now()
    Ticket.objects.filter(pk=ticket.pk).update(owner_seen_at=now)
    ticket.owner_seen_at = now
    notices = Notification.objects.filter(user=by, url=_ticket_url(ticket), read_at__isnull=True)
    notifications_mark_read(user=by, notifications=notices)
