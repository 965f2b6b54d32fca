"""Administrators work only with a verified second factor.

Install after django_otp.middleware.OTPMiddleware, which tells whether the session is verified.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.decorators import session_is_verified
from accounts.models import User
from accounts.selectors import user_has_second_factor

# Pages an administrator may still reach before their session is verified.
_OPEN_URL_NAMES = ("accounts:otp_enroll", "accounts:login_otp", "accounts:logout")
_OPEN_PREFIXES = ("/health/",)


class AdminTwoFactorMiddleware:
    """Sends an unverified administrator (role admin, staff or superuser) to 2FA, from anywhere.

    Without a confirmed device they go to enrolment; with one, to the code prompt. The API gets a
    JSON 403 instead of a redirect, FHIR an OperationOutcome. Everything else, /admin/ included,
    is out of reach until then.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._open_paths: frozenset[str] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            isinstance(user, User)
            and user.is_authenticated
            and user.must_use_two_factor
            and not session_is_verified(user)
            and not self._is_open(request.path)
        ):
            return self._refuse(request, user)
        return self.get_response(request)

    def _is_open(self, path: str) -> bool:
        if self._open_paths is None:
            # Resolved on first use: the URLconf cannot be imported while middleware loads.
            self._open_paths = frozenset(reverse(name) for name in _OPEN_URL_NAMES)
        static = settings.STATIC_URL or "/static/"
        return path in self._open_paths or path.startswith((static, *_OPEN_PREFIXES))

    def _refuse(self, request: HttpRequest, user: User) -> HttpResponse:
        words = "Administrators must complete two-factor authentication first."
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": words}, status=403)
        if request.path_info.startswith("/fhir/"):
            # FHIR clients read errors as an OperationOutcome, never an HTML redirect.
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "security", "diagnostics": words}],
            }
            return JsonResponse(outcome, status=403, content_type="application/fhir+json")
        if user_has_second_factor(user=user):
            return redirect("accounts:login_otp")
        return redirect("accounts:otp_enroll")


class AuditDenialsMiddleware:
    """Every 403 answer goes to the audit trail, whichever view, API or admin page refused.

    Refusals to see another care team's patient are 404s, audited where they are decided (the
    patient selectors); anonymous 401s are failed authentication, not a denial of permission.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 403:
            from accounts.audit import audit_request
            from accounts.models import AuditAction, AuditOutcome

            match = request.resolver_match
            kwargs = match.kwargs if match is not None else {}
            audit_request(
                request,
                action=AuditAction.DENIED,
                object_type=match.view_name[:60] if match is not None else "",
                object_id=str(kwargs.get("public_id", ""))[:64],
                outcome=AuditOutcome.DENIED,
            )
        return response
