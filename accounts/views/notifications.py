"""The portal inbox: the list page, marking read, and the bell's live count."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import AuthedRequest
from accounts.selectors import notifications_for_user, notifications_unread_count
from accounts.services import notifications_mark_read

INBOX_SIZE = 50


@login_required
@require_GET
def notification_list(request: AuthedRequest) -> HttpResponse:
    items = list(notifications_for_user(user=request.user)[:INBOX_SIZE])
    return render(request, "accounts/notifications.html", {"notifications": items})


@login_required
@require_POST
def notification_open(request: AuthedRequest, public_id: str) -> HttpResponse:
    """Marks one notification read and goes to its page (a local URL only)."""
    items = notifications_for_user(user=request.user).filter(public_id=public_id)
    item = items.first()
    notifications_mark_read(user=request.user, notifications=items)
    target = item.url if item else ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("accounts:notifications")


@login_required
@require_POST
def notifications_read_all(request: AuthedRequest) -> HttpResponse:
    notifications_mark_read(user=request.user)
    return redirect("accounts:notifications")


@login_required
@require_GET
def notification_bell(request: AuthedRequest) -> HttpResponse:
    """The bell in the top bar, re-fetched every few seconds by htmx."""
    count = notifications_unread_count(user=request.user)
    return render(request, "accounts/_bell.html", {"unread_notifications": count})
