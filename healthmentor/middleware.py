"""Cross-cutting HTTP behaviour: session lifetime and caching of signed-in pages."""

from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

_STARTED = "auth_started_at"


class SessionLifetimeMiddleware:
    """Ends a signed-in session 12 hours after login, however active it was.

    The 30-minute idle limit is the session cookie age, renewed on every request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and hasattr(request, "session"):
            started = request.session.get(_STARTED)
            now = timezone.now()
            if started is None:
                request.session[_STARTED] = now.isoformat()
            elif now - datetime.fromisoformat(started) > settings.SESSION_ABSOLUTE_LIFETIME:
                logout(request)
                if request.path.startswith("/api/"):
                    return HttpResponse(status=401)
                return redirect(settings.LOGIN_URL)
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
