"""View guards shared by the pages of every app."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts.models import User

View = Callable[..., HttpResponse]


class AuthedRequest(HttpRequest):
    """The request of a view behind login_required: `user` is a signed-in staff user."""

    user: User


def portal_admin_required(view: View) -> View:
    """Anonymous users go to the login page; signed-in users who are not admins get a 403.

    Refusals are audited, like every 403, by accounts.middleware.AuditDenialsMiddleware.
    """

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (isinstance(user, User) and user.is_portal_admin):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(guarded)


def session_is_verified(user: Any) -> bool:
    """True when django-otp verified this session with one of the user's devices."""
    return getattr(user, "otp_device", None) is not None
