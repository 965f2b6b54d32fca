"""A user's own profile: name, second factor (enrol, backup codes, disable) and API token."""

from base64 import b32encode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from accounts.audit import client_ip
from accounts.decorators import AuthedRequest, session_is_verified
from accounts.forms import CodeForm, ProfileForm
from accounts.qr import qr_svg_data_uri
from accounts.selectors import backup_codes_remaining, user_api_token, user_totp_device
from accounts.services import (
    SecondFactorError,
    api_token_create,
    api_token_revoke,
    backup_codes_generate,
    second_factor_disable,
    totp_device_confirm,
    totp_device_start,
    user_update_profile,
)


@login_required
@require_http_methods(["GET", "POST"])
def profile_view(request: AuthedRequest) -> HttpResponse:
    user = request.user
    form = ProfileForm(
        request.POST if request.method == "POST" else None, initial={"full_name": user.full_name}
    )
    if form.is_valid():
        user_update_profile(
            user=user, full_name=form.cleaned_data["full_name"], ip=client_ip(request)
        )
        messages.success(request, "Your name was saved.")
        return redirect("accounts:profile")
    return render(
        request,
        "accounts/profile.html",
        {
            "form": form,
            "totp_device": user_totp_device(user=user),
            "backup_codes_left": backup_codes_remaining(user=user),
            "api_token": user_api_token(user=user),
            "disable_form": CodeForm(auto_id="disable_%s"),
        },
    )


def _secret_for_humans(key: bytes) -> str:
    secret = b32encode(key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@login_required
@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def otp_enroll_view(request: AuthedRequest) -> HttpResponse:
    """Shows a QR code and the secret; a correct code confirms the device and shows backup codes."""
    user = request.user
    if user_totp_device(user=user) is not None:
        messages.info(request, "Two-factor authentication is already on.")
        return redirect("accounts:profile")
    form = CodeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            device, codes = totp_device_confirm(
                user=user, token=form.cleaned_data["code"], ip=client_ip(request)
            )
        except SecondFactorError as error:
            form.add_error("code", str(error))
        else:
            request.session.cycle_key()
            otp_login(request, device)
            return render(
                request,
                "accounts/backup_codes.html",
                {
                    "codes": codes,
                    "just_enrolled": True,
                    "continue_url": resolve_url(settings.LOGIN_REDIRECT_URL),
                },
            )
    device = totp_device_start(user=user)
    return render(
        request,
        "accounts/otp_enroll.html",
        {
            "form": form,
            "qr_data_uri": qr_svg_data_uri(device.config_url),
            "secret": _secret_for_humans(device.bin_key),
            "required": user.must_use_two_factor,
        },
    )


@login_required
@never_cache
@require_POST
def backup_codes_view(request: AuthedRequest) -> HttpResponse:
    """New backup codes (the old ones stop working), shown this once."""
    user = request.user
    if user_totp_device(user=user) is None:
        messages.error(request, "Turn on two-factor authentication first.")
        return redirect("accounts:profile")
    if not session_is_verified(user):
        return redirect("accounts:login_otp")
    codes = backup_codes_generate(user=user, ip=client_ip(request))
    return render(
        request,
        "accounts/backup_codes.html",
        {"codes": codes, "just_enrolled": False, "continue_url": resolve_url("accounts:profile")},
    )


@login_required
@sensitive_post_parameters("code")
@require_POST
def otp_disable_view(request: AuthedRequest) -> HttpResponse:
    """Turns 2FA off given a current code; administrators get a 403 (PermissionDenied)."""
    form = CodeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter a current code to turn two-factor authentication off.")
        return redirect("accounts:profile")
    try:
        second_factor_disable(
            user=request.user, token=form.cleaned_data["code"], ip=client_ip(request)
        )
    except SecondFactorError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Two-factor authentication is off.")
    return redirect("accounts:profile")


@login_required
@never_cache
@require_POST
def api_token_create_view(request: AuthedRequest) -> HttpResponse:
    """Issues a new API token (replacing the old one) and shows its key this once."""
    key = api_token_create(user=request.user, ip=client_ip(request))
    return render(request, "accounts/api_token.html", {"key": key})


@login_required
@require_POST
def api_token_revoke_view(request: AuthedRequest) -> HttpResponse:
    if api_token_revoke(user=request.user, ip=client_ip(request)):
        messages.success(request, "Your API token was revoked; it no longer works.")
    else:
        messages.info(request, "You had no API token.")
    return redirect("accounts:profile")
