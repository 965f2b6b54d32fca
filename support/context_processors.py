"""Template context of every page: the help guide of the page (the "?" in the header) and whether
the guided tour should open by itself (a role whose tour the user has not seen yet)."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from support.guides import guide_for_url_name

# Pages where the tour would stand in the way of signing in (two-factor enrolment and codes).
NO_TOUR_AUTOSTART = frozenset(
    {"accounts:login", "accounts:login_otp", "accounts:otp_enroll", "accounts:backup_codes"}
)


def help_links(request: HttpRequest) -> dict[str, Any]:
    match = getattr(request, "resolver_match", None)
    view_name = match.view_name if match else None
    guide = guide_for_url_name(view_name)
    context: dict[str, Any] = {
        "help_url": reverse("help:guide", args=[guide.slug]) if guide else reverse("help:index"),
        "help_guide": guide,
    }
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        context["tour_autostart"] = (
            getattr(settings, "HELP_TOUR_AUTOSTART", True)
            and view_name not in NO_TOUR_AUTOSTART
            and user.role not in (user.tours_seen or [])
        )
    return context
