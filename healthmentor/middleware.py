"""Cross-cutting HTTP behaviour: credentials that cannot be valid, session lifetime and caching
of signed-in pages."""

from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone

_STARTED = "auth_started_at"
_ACTIVE = "auth_active_at"
# Sent by the pages' background polls (htmx `hx-headers`): a poll is not the user being active.
POLL_HEADER = "X-Background-Poll"


class RefuseNulCredentialsMiddleware:
    """A NUL character in the Authorization header or in a cookie is refused with a 400 before
    anything looks it up: PostgreSQL cannot hold NUL in text, so the session or token lookup would
    raise and answer a 500. No valid credential contains one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        values = [request.headers.get("Authorization", ""), *request.COOKIES.values()]
        if any("\x00" in value for value in values):
            message = "The Authorization header or a cookie contains a NUL character."
            if request.path.startswith("/fhir/"):
                outcome = {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "invalid", "diagnostics": message}],
                }
                return JsonResponse(outcome, status=400, content_type="application/fhir+json")
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=400)
            return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class SessionLifetimeMiddleware:
    """Ends a signed-in session 12 hours after login, however active it was, and after 30
    minutes (SESSION_COOKIE_AGE) without a request of the user's own: background polls (a page
    updating itself, the notification bell) keep the cookie but do not count as activity.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and hasattr(request, "session"):
            started = request.session.get(_STARTED)
            now = timezone.now()
            active = request.session.get(_ACTIVE)
            poll = bool(request.headers.get(POLL_HEADER))
            if started is None:
                request.session[_STARTED] = now.isoformat()
            elif now - datetime.fromisoformat(started) > settings.SESSION_ABSOLUTE_LIFETIME or (
                active is not None
                and (now - datetime.fromisoformat(active)).total_seconds()
                > settings.SESSION_COOKIE_AGE
            ):
                logout(request)
                if request.path.startswith("/api/"):
                    return HttpResponse(status=401)
                if poll:  # htmx reloads the page, which then shows the login form
                    return HttpResponse(status=204, headers={"HX-Refresh": "true"})
                return redirect(settings.LOGIN_URL)
            if not poll or active is None:
                request.session[_ACTIVE] = now.isoformat()
        return self.get_response(request)


class NoStoreForSignedInMiddleware:
    """Pages for a signed-in user may show PHI: browsers and proxies must not keep them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.user.is_authenticated or request.path.startswith("/api/"):
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"
        return response
