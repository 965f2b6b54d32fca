"""Signing in (password, then a code for users with a second factor) and signing out."""

from datetime import datetime, timedelta
from typing import Any

from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from accounts.decorators import session_is_verified
from accounts.forms import CodeForm, LoginForm
from accounts.models import User
from accounts.selectors import user_has_second_factor, user_is_awaiting_approval
from accounts.services import second_factor_verify

# Between a correct password and a correct code the session holds only this, never a login.
_PENDING = "accounts.pending_login"
PENDING_LIFETIME = timedelta(minutes=5)
MAX_CODE_ATTEMPTS = 5

WRONG_CREDENTIALS = "The email address or password is not correct."
AWAITING_APPROVAL = "Your account is waiting for an administrator's approval."


def _next_url(request: HttpRequest, candidate: str | None) -> str:
    """`candidate` if it stays on this site, else the default landing page."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _pending_get(request: HttpRequest) -> dict[str, Any] | None:
    pending = request.session.get(_PENDING)
    if not isinstance(pending, dict):
        return None
    started = datetime.fromisoformat(pending["at"])
    if timezone.now() - started > PENDING_LIFETIME:
        del request.session[_PENDING]
        return None
    return pending


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """Email and password; on success either signs in or asks for the second factor."""
    requested_next = request.POST.get("next") or request.GET.get("next")
    if request.user.is_authenticated:
        return redirect(_next_url(request, requested_next))
    form = LoginForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        email, password = form.cleaned_data["username"], form.cleaned_data["password"]
        # Through authenticate(), so django-axes counts failures and refuses locked accounts.
        user = authenticate(request=request, username=email, password=password)
        if getattr(request, "axes_locked_out", False):
            return get_lockout_response(request, credentials={"username": email})
        if not isinstance(user, User):
            refusal = (
                AWAITING_APPROVAL
                if user_is_awaiting_approval(email=email, password=password)
                else WRONG_CREDENTIALS
            )
            form.add_error(None, refusal)
        elif user_has_second_factor(user=user):
            request.session[_PENDING] = {
                "user": user.pk,
                "backend": user.backend,
                "at": timezone.now().isoformat(),
                "next": _next_url(request, requested_next),
                "tries": 0,
            }
            return redirect("accounts:login_otp")
        else:
            auth_login(request, user)
            if user.must_use_two_factor:
                return redirect("accounts:otp_enroll")
            return redirect(_next_url(request, requested_next))
    return render(request, "accounts/login.html", {"form": form, "next": requested_next or ""})


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_otp_view(request: HttpRequest) -> HttpResponse:
    """The second step: a code from the app or a backup code.

    Serves both a sign-in waiting for its code and a signed-in session that has not been verified
    yet (an administrator sent here by AdminTwoFactorMiddleware).
    """
    pending: dict[str, Any] | None = None
    if isinstance(request.user, User):
        user: User | None = request.user
        if session_is_verified(request.user):
            return redirect(_next_url(request, request.GET.get("next")))
    else:
        pending = _pending_get(request)
        user = (
            User.objects.filter(pk=pending["user"], is_active=True).first()
            if pending is not None
            else None
        )
    if user is None:
        messages.info(request, "Please sign in again.")
        return redirect("accounts:login")

    form = CodeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        device = second_factor_verify(user=user, token=form.cleaned_data["code"])
        if device is not None:
            if pending is not None:
                del request.session[_PENDING]
                auth_login(request, user, backend=pending["backend"])
                destination = pending["next"]
            else:
                # A more privileged session from here on: a new key, as at login.
                request.session.cycle_key()
                destination = _next_url(request, request.GET.get("next"))
            otp_login(request, device)
            return redirect(destination)
        # A wrong code is a failed sign-in: django-axes counts it towards the lockout, and the
        # audit trail records it (accounts.signals).
        user_login_failed.send(
            sender=__name__,
            credentials={"username": user.email, "step": "second_factor"},
            request=request,
        )
        if getattr(request, "axes_locked_out", False):
            request.session.pop(_PENDING, None)
            if request.user.is_authenticated:
                auth_logout(request)
            return get_lockout_response(request, credentials={"username": user.email})
        if pending is not None:
            pending["tries"] += 1
            if pending["tries"] >= MAX_CODE_ATTEMPTS:
                del request.session[_PENDING]
                messages.error(request, "Too many wrong codes. Sign in again.")
                return redirect("accounts:login")
            request.session[_PENDING] = pending
        form.add_error("code", "That code is not valid.")
    return render(request, "accounts/login_otp.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Ends the session server-side: its cookie is worthless afterwards."""
    auth_logout(request)  # flushes the session row
    messages.success(request, "You have signed out.")
    return redirect(settings.LOGOUT_REDIRECT_URL or "accounts:login")
