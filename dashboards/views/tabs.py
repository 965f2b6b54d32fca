"""The dashboard tabs a user sees, by role."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import reverse

from accounts.models import Role, User

# (url name, label, roles that see it; None: every role)
TABS: tuple[tuple[str, str, frozenset[str] | None], ...] = (
    ("dashboards:home", "My patients", frozenset({Role.CLINICIAN, Role.NURSE, Role.RADIOLOGIST})),
    ("dashboards:population", "Population", None),
    ("dashboards:models", "Model quality", None),
    ("dashboards:imaging_ops", "Imaging operations", frozenset({Role.RADIOLOGIST})),
    ("dashboards:acceptance", "Recommendations", frozenset({Role.CLINICIAN, Role.RESEARCHER})),
)


def tab_may_see(user: User, url_name: str) -> bool:
    for name, _, roles in TABS:
        if name == url_name:
            return roles is None or user.is_portal_admin or user.role in roles
    return False


def dashboard_tabs(user: User, current: str) -> list[dict[str, Any]]:
    """[{"url", "label", "current"}] of the dashboards `user` may open; `current` is the url
    name of the page being shown."""
    tabs = []
    for name, label, _ in TABS:
        if not tab_may_see(user, name):
            continue
        tabs.append({"url": reverse(name), "label": label, "current": name == current})
    return tabs


@login_required
def index(request: HttpRequest) -> HttpResponseRedirect:
    """/dashboards/: the first dashboard the user may open."""
    assert isinstance(request.user, User)
    tabs = dashboard_tabs(request.user, current="")
    if not tabs:
        raise Http404("No dashboard is available.")
    return HttpResponseRedirect(tabs[0]["url"])
