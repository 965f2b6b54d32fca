"""The base of every chart endpoint: a django-chartjs class-based view that answers a Chart
payload (dashboards.charts) as JSON, after checking who asks, from the cache when it can.

Access: an anonymous request gets 401, a role outside `roles` 403, an object the user may not
see 404 (raised by the subclass through the other apps' selectors), each as JSON with a
sentence. Caching: the payload, with the time it was computed, is kept for
settings.DASHBOARD_CACHE_SECONDS under a key made of the view, the query string and the user's
scope (see `cache_scope`): everyone who may see the same patients shares one entry.
"""

import hashlib
from typing import Any, ClassVar

from chartjs.views.lines import BaseLineChartView
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from accounts.models import Role, User
from dashboards.charts import Chart, palette_colours, series_style

CARE_ROLES = frozenset({Role.CLINICIAN, Role.NURSE, Role.RADIOLOGIST, Role.ADMIN})
ALL_ROLES = frozenset(Role)
CACHE_PREFIX = "dashboards:v1"


def user_scope(user: User) -> str:
    """Who sees the same rows: admins all identified patients, researchers all patients as
    de-identified aggregates, anyone else the patients of their own care teams."""
    if user.is_portal_admin:
        return "admin"
    if user.role == Role.RESEARCHER:
        return "researcher"
    return f"user-{user.pk}"


def user_is_researcher(user: User) -> bool:
    return user.role == Role.RESEARCHER and not user.is_portal_admin


class ChartView(BaseLineChartView):
    """Subclasses set `roles` and implement `chart()`; simple label-by-series charts may instead
    implement django-chartjs's get_labels / get_providers / get_data and set `chart_type`,
    `title` and `description`."""

    roles: ClassVar[frozenset[str]] = ALL_ROLES
    chart_type: ClassVar[str] = "line"
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    cache_seconds: ClassVar[int | None] = None  # None: settings.DASHBOARD_CACHE_SECONDS
    request: HttpRequest
    user: User

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return JsonResponse({"detail": "Sign in to see this chart."}, status=401)
        assert isinstance(user, User)
        self.user = user
        if user.role not in self.roles and not user.is_portal_admin:
            return JsonResponse({"detail": "Your role does not show this chart."}, status=403)
        try:
            return super().dispatch(request, *args, **kwargs)
        except Http404:
            return JsonResponse({"detail": "No such record, or you may not see it."}, status=404)
        except PermissionDenied as exc:
            return JsonResponse({"detail": str(exc) or "You may not see this chart."}, status=403)
        except ValueError as exc:  # a bad query parameter, raised by a subclass
            return JsonResponse({"detail": str(exc)}, status=400)

    # --- what subclasses provide ----------------------------------------------------------

    def chart(self) -> Chart:
        return Chart(
            type=self.chart_type,
            title=self.title,
            description=self.description,
            labels=self.get_labels(),
            datasets=self.get_datasets(),
        )

    def cache_scope(self) -> str | None:
        """The part of the cache key that says whose data this is; None: do not cache (a
        single patient's charts, which must show an entry the moment it is saved)."""
        return user_scope(self.user)

    # --- django-chartjs hooks -------------------------------------------------------------

    def get_colors(self) -> Any:
        return palette_colours()

    def get_dataset_options(self, index: int, color: tuple[int, int, int]) -> dict[str, Any]:
        return series_style(index)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        # Not super(): django-chartjs would add its "view" repr to the JSON.
        scope = self.cache_scope()
        # DASHBOARD_CACHE_SECONDS=0 turns every cache off (the benchmark measures the work).
        if scope is None or settings.DASHBOARD_CACHE_SECONDS <= 0:
            return self.chart().as_json()
        query = self.request.GET.urlencode()
        digest = hashlib.sha256(f"{self.request.path}?{query}".encode()).hexdigest()[:24]
        key = f"{CACHE_PREFIX}:{type(self).__name__}:{scope}:{digest}"
        payload = cache.get(key)
        if payload is None:
            payload = self.chart().as_json()
            seconds = self.cache_seconds
            cache.set(
                key, payload, settings.DASHBOARD_CACHE_SECONDS if seconds is None else seconds
            )
        return payload

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        return JsonResponse(context)
