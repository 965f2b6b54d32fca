"""Pages of the helpdesk: "Help & support" (my tickets; every ticket for administrators), the
new-ticket form (also reached from "This result looks wrong" on a result page), a ticket with its
thread, and its screenshot.

Every view needs a signed-in user. A ticket is fetched through `ticket_get_for_user`: another
user's ticket is a 404, never a 403 that would tell it exists. Pages that show a patient's name
append an audit READ, as the record's pages do.
"""

from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import BaseForm
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.audit import audit_request, client_ip
from accounts.decorators import AuthedRequest
from accounts.models import AuditAction
from imaging.selectors import study_get_for_user, study_title
from prediction.selectors import assessment_get_for_user, disease_title
from support import forms, services, storage
from support.models import Ticket
from support.selectors import (
    ticket_get_for_user,
    ticket_patient_choices,
    ticket_replies_for_user,
    tickets_for_user,
    user_is_support_admin,
)

PAGE_SIZE = 25
# Room for the multipart boundaries and the form's other fields around the screenshot.
ENVELOPE_BYTES = 64 * 1024
_HIDDEN = {"page", "risk_assessment", "study"}


def _add_service_errors(form: BaseForm, exc: ValidationError) -> None:
    """A service's ValidationError onto the form: by field where the form shows that field."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        shown = field in form.fields and field not in _HIDDEN
        form.add_error(field if shown else None, errors)


def _same_site_path(request: AuthedRequest, value: str) -> str:
    """`value` (a path, or a URL of this site) as a path without its query string; "" for
    anything else, and for the support pages themselves (they are not where a problem was)."""
    value = (value or "").strip()[:2000]
    if not value:
        return ""
    if urlsplit(value).scheme or urlsplit(value).netloc:
        if not url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()}):
            return ""
        value = urlsplit(value).path
    try:
        path = services.page_path_clean(value)
    except ValidationError:
        return ""
    return "" if path.startswith(reverse("support:tickets")) else path


def _uuid_param(request: AuthedRequest, name: str) -> UUID | None:
    value = request.GET.get(name) or request.POST.get(name) or ""
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise Http404(f"No such {name.replace('_', ' ')}.") from None


def _linked_result(request: AuthedRequest) -> dict[str, Any] | None:
    """The AI result the ticket is about (?risk_assessment= or ?study=), fetched for the user:
    Http404 (audited) for one they may not see."""
    ip = client_ip(request)
    assessment_id = _uuid_param(request, "risk_assessment")
    if assessment_id is not None:
        assessment = assessment_get_for_user(user=request.user, public_id=assessment_id, ip=ip)
        version = assessment.model_version
        return {
            "kind": "Risk assessment",
            "title": f"{disease_title(assessment.disease)} risk",
            "model": f"{version.algorithm}, version {version.version}",
            "when": assessment.created_at,
            "patient": assessment.patient,
            "url": reverse("prediction:assessment", args=[assessment.public_id]),
            "field": "risk_assessment",
            "public_id": assessment.public_id,
        }
    study_id = _uuid_param(request, "study")
    if study_id is not None:
        study = study_get_for_user(user=request.user, public_id=study_id, ip=ip, want="feedback")
        model = study.model_version
        return {
            "kind": "Imaging study",
            "title": study_title(study),
            "model": f"{model.name}, version {model.version}" if model else "",
            "when": study.finished_at or study.uploaded_at,
            "patient": study.patient,
            "url": reverse("imaging:study", args=[study.public_id]),
            "field": "study",
            "public_id": study.public_id,
        }
    return None


# --- list ---------------------------------------------------------------------------------------


@login_required
@require_GET
def ticket_list(request: AuthedRequest) -> HttpResponse:
    """/support/: Help & support. My tickets; an administrator sees every ticket, filtered."""
    is_admin = user_is_support_admin(user=request.user)
    filters = forms.TicketFilterForm(request.GET or None)
    chosen = filters.filters() if is_admin else {"status": "", "assigned": ""}
    tickets = tickets_for_user(user=request.user, **chosen)
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "support/list.html",
        {
            "page": page,
            "is_admin": is_admin,
            "filters": filters if is_admin else None,
            "filtered": any(chosen.values()),
        },
    )


# --- a new ticket -------------------------------------------------------------------------------


def _too_large(request: AuthedRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > storage.MAX_BYTES + ENVELOPE_BYTES


@login_required
@require_http_methods(["GET", "POST"])
def ticket_new(request: AuthedRequest) -> HttpResponse:
    """/support/tickets/new/: the form. ?from= (or the Referer) says where the user was, as a path
    only; ?risk_assessment= or ?study= links the AI result that looks wrong (404 for one the user
    may not see); ?patient= preselects one of the user's patients."""
    if request.method == "POST" and _too_large(request):
        # Refused before the body is read.
        limit = storage.MAX_BYTES // (1024 * 1024)
        messages.error(request, f"The screenshot is larger than {limit} MB; nothing was sent.")
        return redirect("support:ticket_new")
    result = _linked_result(request)
    patients = [] if result else ticket_patient_choices(user=request.user)
    form = forms.TicketForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        patients=patients,
        linked_result=result is not None,
        initial={
            "category": Ticket.Category.AI_RESULT if result else "",
            "page": _same_site_path(request, request.GET.get("from", ""))
            or _same_site_path(request, request.headers.get("Referer", ""))
            or (result["url"] if result else ""),
            "patient": request.GET.get("patient", ""),
            **({result["field"]: result["public_id"]} if result else {}),
            "subject": f"AI result looks wrong: {result['title']}" if result else "",
        },
    )
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        upload = data.get("screenshot")
        try:
            ticket = services.ticket_open(
                by=request.user,
                category=data["category"],
                subject=data["subject"],
                description=data["description"],
                page=data["page"],
                patient=UUID(data["patient"]) if data.get("patient") else None,
                risk_assessment=data.get("risk_assessment"),
                study=data.get("study"),
                screenshot=upload.chunks() if upload else None,
                ip=client_ip(request),
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"Ticket {ticket.reference} is open. Support answers here, and you are told "
                "in your notifications.",
            )
            return redirect("support:ticket", public_id=ticket.public_id)
    if result is not None:
        audit_request(
            request,
            action=AuditAction.READ,
            obj=result["patient"],
            detail={"page": "support_ticket_new", result["field"]: str(result["public_id"])},
        )
    elif patients:
        audit_request(
            request,
            action=AuditAction.READ,
            object_type="patients.patient",
            detail={"page": "support_ticket_new", "count": len(patients)},
        )
    return render(
        request,
        "support/new.html",
        {"form": form, "result": result},
        status=400 if form.is_bound and form.errors else 200,
    )


# --- one ticket ---------------------------------------------------------------------------------


def _ticket(request: AuthedRequest, public_id: UUID) -> Ticket:
    return ticket_get_for_user(user=request.user, public_id=public_id, ip=client_ip(request))


def _detail(
    request: AuthedRequest,
    ticket: Ticket,
    *,
    reply_form: forms.ReplyForm | None = None,
    status: int = 200,
) -> HttpResponse:
    is_admin = user_is_support_admin(user=request.user)
    if ticket.patient is not None:
        audit_request(
            request,
            action=AuditAction.READ,
            obj=ticket.patient,
            detail={"page": "support_ticket", "ticket": str(ticket.public_id)},
        )
    is_owner = ticket.created_by_id == request.user.pk
    return render(
        request,
        "support/detail.html",
        {
            "ticket": ticket,
            "replies": list(ticket_replies_for_user(user=request.user, ticket=ticket)),
            "is_admin": is_admin,
            "is_owner": is_owner,
            "reply_form": reply_form or forms.ReplyForm(),
            "may_reply": is_admin or ticket.status != Ticket.Status.CLOSED,
            "may_resolve": is_owner and ticket.is_active,
            "status_form": forms.StatusForm(initial={"status": ticket.status})
            if is_admin
            else None,
        },
        status=status,
    )


@login_required
@require_GET
def ticket_detail(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    ticket = _ticket(request, public_id)
    services.ticket_mark_seen(by=request.user, ticket=ticket)
    return _detail(request, ticket)


@login_required
@require_POST
def ticket_reply(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    ticket = _ticket(request, public_id)
    form = forms.ReplyForm(request.POST)
    if form.is_valid():
        try:
            services.ticket_reply(
                by=request.user,
                ticket=ticket,
                body=form.cleaned_data["body"],
                internal=form.cleaned_data["internal"],
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, "Your reply was added.")
            return redirect(reverse("support:ticket", args=[ticket.public_id]) + "#replies")
    return _detail(request, ticket, reply_form=form, status=400)


@login_required
@require_POST
def ticket_status(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    """An administrator moves the ticket; its owner may mark it resolved (others: 403)."""
    ticket = _ticket(request, public_id)
    form = forms.StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a status.")
        return redirect("support:ticket", public_id=ticket.public_id)
    # PermissionDenied (a 403, audited) for an owner asking for anything but "resolved".
    services.ticket_set_status(by=request.user, ticket=ticket, status=form.cleaned_data["status"])
    messages.success(request, f"The ticket is now {ticket.get_status_display().lower()}.")
    return redirect("support:ticket", public_id=ticket.public_id)


@login_required
@require_GET
def ticket_screenshot(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    """The ticket's screenshot, to its owner and administrators only, never cached, never
    sniffed; audited as a READ (it may show a patient's page)."""
    ticket = _ticket(request, public_id)
    if not ticket.screenshot_name:
        raise Http404("This ticket has no screenshot.")
    try:
        data = storage.screenshot_read(ticket.screenshot_name)
    except FileNotFoundError:
        raise Http404("The screenshot is missing from storage.") from None
    except storage.StoredFileCorrupt:
        return HttpResponse(
            "The stored screenshot failed its integrity check and is not served.",
            status=409,
            content_type="text/plain; charset=utf-8",
        )
    audit_request(
        request,
        action=AuditAction.READ,
        obj=ticket,
        detail={"page": "support_screenshot"},
    )
    extension = ".png" if ticket.screenshot_type == "image/png" else ".jpg"
    response = HttpResponse(data, content_type=ticket.screenshot_type)
    response["Content-Disposition"] = f'inline; filename="ticket-{ticket.reference}{extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
