"""Joining the portal: invitations, self-registration, and the administrators' approval queue."""

from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import audit_request, client_ip
from accounts.decorators import AuthedRequest, portal_admin_required
from accounts.forms import InvitationAcceptForm, InvitationForm, RegistrationForm
from accounts.models import AuditAction, AuditOutcome, User
from accounts.selectors import (
    invitation_get_by_token,
    invitations_recent,
    users_awaiting_approval,
)
from accounts.services import (
    AccountError,
    EmailAlreadyRegistered,
    InvitationNotUsable,
    invitation_accept,
    invitation_check,
    invitation_create,
    user_approve,
    user_register,
    user_reject,
)

_UNUSABLE_STATUS = {"invalid": 404, "expired": 410, "used": 410}


@portal_admin_required
@require_http_methods(["GET", "POST"])
def invite_create_view(request: AuthedRequest) -> HttpResponse:
    """An administrator invites someone by email; the link in the email works once, for 3 days."""
    form = InvitationForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            invitation_create(
                by=request.user,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                base_url=request.build_absolute_uri("/"),
                ip=client_ip(request),
            )
        except EmailAlreadyRegistered as error:
            form.add_error("email", str(error))
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("accounts:invite_create")
    return render(
        request,
        "accounts/invite_create.html",
        {"form": form, "invitations": invitations_recent()},
    )


def _unusable(request: HttpRequest, reason: str) -> HttpResponse:
    return render(
        request,
        "accounts/invite_unusable.html",
        {"reason": reason},
        status=_UNUSABLE_STATUS.get(reason, 400),
    )


@never_cache
@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def invite_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    """The invited person chooses a name and password; the account is then ready to sign in."""
    try:
        invitation = invitation_check(invitation=invitation_get_by_token(token=token))
    except InvitationNotUsable as error:
        return _unusable(request, error.reason)
    form = InvitationAcceptForm(
        request.POST if request.method == "POST" else None, email=invitation.email
    )
    if form.is_valid():
        try:
            invitation_accept(
                token=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
                ip=client_ip(request),
            )
        except InvitationNotUsable as error:
            return _unusable(request, error.reason)
        except EmailAlreadyRegistered:
            return _unusable(request, "registered")
        except ValidationError as error:
            form.add_error("password1", error)
        else:
            messages.success(request, "Your account is ready. Sign in with your new password.")
            return redirect("accounts:login")
    return render(request, "accounts/invite_accept.html", {"form": form, "invitation": invitation})


@never_cache
@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest) -> HttpResponse:
    """Self-registration. The answer is the same whether or not the address already has an
    account, so this page cannot be used to find out who works here."""
    if request.user.is_authenticated:
        return redirect("accounts:profile")
    form = RegistrationForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            user_register(
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                role=form.cleaned_data["role"],
                password=form.cleaned_data["password1"],
                base_url=request.build_absolute_uri("/"),
                ip=client_ip(request),
            )
        except EmailAlreadyRegistered:
            audit_request(
                request,
                action=AuditAction.CREATE,
                object_type="accounts.user",
                outcome=AuditOutcome.FAILURE,
                detail={"via": "self_registration", "reason": "email_taken"},
            )
        except ValidationError as error:
            form.add_error("password1", error)
            return render(request, "accounts/register.html", {"form": form})
        return render(request, "accounts/register_done.html")
    return render(request, "accounts/register.html", {"form": form})


@portal_admin_required
def pending_users_view(request: AuthedRequest) -> HttpResponse:
    return render(request, "accounts/pending_users.html", {"pending": users_awaiting_approval()})


@portal_admin_required
@require_POST
def user_approve_view(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    user = get_object_or_404(User, public_id=public_id)
    try:
        user_approve(
            user=user,
            by=request.user,
            base_url=request.build_absolute_uri("/"),
            ip=client_ip(request),
        )
    except AccountError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{user.email} can now sign in.")
    return redirect("accounts:pending_users")


@portal_admin_required
@require_POST
def user_reject_view(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    user = get_object_or_404(User, public_id=public_id)
    email = user.email
    try:
        user_reject(user=user, by=request.user, ip=client_ip(request))
    except AccountError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"The registration of {email} was rejected.")
    return redirect("accounts:pending_users")
