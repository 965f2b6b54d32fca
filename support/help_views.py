"""/help/: the help center (guides by role, search, one guide) and the guided tour's state.

Every page needs a signed-in user (a staff portal); everyone may read every guide, their own
role's first.
"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from accounts.services import user_tour_seen_record
from support.guides import GUIDES, guide_get, guides_grouped_for, guides_search

SEARCH_MAX_CHARS = 200


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@require_GET
@login_required
def help_index(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(
        request,
        "help/index.html",
        {"groups": guides_grouped_for(user.role), "guide_count": len(GUIDES)},
    )


@require_GET
@login_required
def help_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:SEARCH_MAX_CHARS]
    hits = guides_search(query) if query else []
    return render(request, "help/search.html", {"query": query, "hits": hits})


@require_GET
@login_required
def guide_detail(request: HttpRequest, slug: str) -> HttpResponse:
    guide = guide_get(slug)
    if guide is None:
        raise Http404("No such guide.")
    user = _user(request)
    others = [g for g in GUIDES if g != guide]
    others.sort(key=lambda g: user.role not in g.roles)
    return render(request, "help/guide.html", {"guide": guide, "others": others})


@require_POST
@login_required
def tour_state(request: HttpRequest) -> JsonResponse:
    """POST /help/tour/ (CSRF-protected): the tour of the user's current role was dismissed or
    finished, so it is not shown by itself again. "Tour" in the top bar re-opens it at any time."""
    user = _user(request)
    seen = user_tour_seen_record(user=user, role=user.role)
    return JsonResponse({"role": user.role, "seen": seen})
