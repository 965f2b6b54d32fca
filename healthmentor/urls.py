"""Wires the apps' urls: web pages, the API under /api/v1/ with its schema and docs, health."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from healthmentor import health

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="patients:list", permanent=False)),
    path("accounts/", include("accounts.urls")),
    path("patients/", include("patients.urls")),
    path("risk/", include("prediction.urls")),
    path("imaging/", include("imaging.urls")),
    path("recommendations/", include("recommendations.urls")),
    path("dashboards/", include("dashboards.urls")),
    path("interop/", include("interop.urls")),  # imports (web)
    path("fhir/", include("interop.fhir_urls")),  # FHIR R4 read API
    path("support/", include("support.urls")),  # helpdesk tickets
    path("help/", include("support.help_urls")),  # help center (guides, tour)
    path("", include("recommendations.cds.urls")),  # /cds-services (the CDS Hooks spec's path)
    path("api/v1/", include("accounts.api_urls")),
    path("api/v1/", include("patients.api_urls")),
    path("api/v1/", include("prediction.api_urls")),
    path("api/v1/", include("imaging.api_urls")),
    path("api/v1/", include("recommendations.api_urls")),
    path("api/v1/", include("interop.api_urls")),  # imports (API)
    path("api/v1/", include("support.api_urls")),  # helpdesk tickets (API)
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # GET only: DRF's OPTIONS answer went through the docs' HTML renderer and was a 500.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", http_method_names=["get"]),
        name="api-docs",
    ),
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("admin/", admin.site.urls),
]
