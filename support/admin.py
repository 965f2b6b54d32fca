"""Django admin of the helpdesk: administrators triage tickets (status, assignee) and answer them.

What a user wrote is shown, never edited. A reply added in the inline, a status or an assignee
changed on the form, and the actions all go through support.services, so that the ticket's owner
is notified exactly as when support answers in the portal. Shown to portal administrators only
(Django admin itself already requires staff with a verified second factor).
"""

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import User
from support.models import Ticket, TicketReply
from support.services import ticket_assign, ticket_reply, ticket_set_status

# The subject is encrypted, so the search decrypts the newest tickets in Python (about 11 µs a
# subject); past this many, older tickets are found by reference or reporter only.
SUBJECT_SEARCH_WINDOW = 5000


def _portal_admin(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_portal_admin", False))


class TicketReplyInline(admin.StackedInline):
    """The thread: past replies as they were written; a new one (public, or an internal note)
    is added through `ticket_reply`."""

    model = TicketReply
    extra = 1
    fields = ("author", "created_at", "is_internal", "body")
    readonly_fields = ("author", "created_at")
    ordering = ("created_at", "pk")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _portal_admin(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _portal_admin(request)


class TicketAdminForm(forms.ModelForm):
    class Meta:
        model = Ticket
        fields = ("status", "assignee")


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketAdminForm
    list_display = (
        "reference",
        "subject",
        "category",
        "status",
        "assignee",
        "created_by",
        "created_at",
        "result",
    )
    list_filter = ("status", "category", "assignee")
    search_fields = ("created_by__email",)
    search_help_text = "A ticket reference or id, a reporter's email, or words of the subject."
    list_select_related = ("created_by", "assignee")
    date_hierarchy = "created_at"
    inlines = (TicketReplyInline,)
    actions = ("assign_to_me", "mark_in_progress", "mark_waiting", "mark_resolved", "mark_closed")
    fieldsets = (
        (None, {"fields": ("reference", "category", "subject", "description", "screenshot")}),
        ("Context", {"fields": ("created_by", "created_at", "page", "patient_ref", "result")}),
        ("Triage", {"fields": ("status", "assignee", "updated_at", "resolved_at")}),
    )
    readonly_fields = (
        "reference",
        "category",
        "subject",
        "description",
        "screenshot",
        "created_by",
        "created_at",
        "page",
        "patient_ref",
        "result",
        "updated_at",
        "resolved_at",
    )

    # --- who ---------------------------------------------------------------------------------

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _portal_admin(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _portal_admin(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _portal_admin(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tickets are opened by their reporters, in the portal

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a ticket is closed, not deleted

    # --- columns -----------------------------------------------------------------------------

    @admin.display(description="Ticket")
    def reference(self, obj: Ticket) -> str:
        return obj.reference

    @admin.display(description="Patient")
    def patient_ref(self, obj: Ticket) -> str:
        # The public id only: the patient's name is on the portal's page, behind its checks.
        return str(obj.patient.public_id) if obj.patient_id and obj.patient else "—"

    @admin.display(description="Linked result")
    def result(self, obj: Ticket) -> str:
        if obj.risk_assessment_id:
            kind = "Risk assessment"
        elif obj.study_id:
            kind = "Imaging study"
        else:
            return "—"
        return f"{kind} · {obj.model_label}" if obj.model_label else kind

    @admin.display(description="Screenshot")
    def screenshot(self, obj: Ticket) -> str:
        if not obj.screenshot_name:
            return "—"
        url = reverse("support:ticket_screenshot", args=[obj.public_id])
        return format_html('<a href="{}">Open the screenshot</a>', url)

    # --- search over an encrypted subject ----------------------------------------------------

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Ticket], search_term: str
    ) -> tuple[QuerySet[Ticket], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(public_id=uuid.UUID(term)), False
        except ValueError:
            pass
        found, duplicates = super().get_search_results(request, queryset, term)
        ids = set(found.values_list("pk", flat=True))
        words = term.casefold()
        recent = queryset.order_by("-created_at")[:SUBJECT_SEARCH_WINDOW]
        for pk, public_id, subject in recent.values_list("pk", "public_id", "subject"):
            if words in (subject or "").casefold() or public_id.hex.upper().startswith(
                term.upper()
            ):
                ids.add(pk)
        return queryset.filter(pk__in=ids), duplicates

    # --- writes through the services ---------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        assert isinstance(request.user, User)
        stored = Ticket.objects.select_related("created_by").get(pk=obj.pk)
        if "assignee" in form.changed_data:
            ticket_assign(by=request.user, ticket=stored, assignee=form.cleaned_data["assignee"])
        if "status" in form.changed_data:
            ticket_set_status(by=request.user, ticket=stored, status=form.cleaned_data["status"])
        obj.refresh_from_db()

    def save_formset(
        self, request: HttpRequest, form: Any, formset: BaseInlineFormSet, change: bool
    ) -> None:
        assert isinstance(request.user, User)
        ticket = Ticket.objects.select_related("created_by", "assignee").get(pk=form.instance.pk)
        for reply in formset.save(commit=False):
            if reply.pk is None and (reply.body or "").strip():
                ticket_reply(
                    by=request.user, ticket=ticket, body=reply.body, internal=reply.is_internal
                )

    # --- actions -----------------------------------------------------------------------------

    @admin.action(description="Assign to me")
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        assert isinstance(request.user, User)
        for ticket in queryset.select_related("created_by"):
            ticket_assign(by=request.user, ticket=ticket, assignee=request.user)
        self.message_user(
            request, f"{queryset.count()} ticket(s) assigned to you.", messages.SUCCESS
        )

    def _move(self, request: HttpRequest, queryset: QuerySet[Ticket], status: str) -> None:
        assert isinstance(request.user, User)
        moved = 0
        for ticket in queryset.select_related("created_by"):
            if ticket.status != status:
                ticket_set_status(by=request.user, ticket=ticket, status=status)
                moved += 1
        label = Ticket.Status(status).label.lower()
        self.message_user(request, f"{moved} ticket(s) now {label}.", messages.SUCCESS)

    @admin.action(description="Set status: in progress")
    def mark_in_progress(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._move(request, queryset, Ticket.Status.IN_PROGRESS)

    @admin.action(description="Set status: waiting for user")
    def mark_waiting(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._move(request, queryset, Ticket.Status.WAITING)

    @admin.action(description="Set status: resolved")
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._move(request, queryset, Ticket.Status.RESOLVED)

    @admin.action(description="Set status: closed")
    def mark_closed(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        self._move(request, queryset, Ticket.Status.CLOSED)
