"""/api/v1/imports/: bulk imports of patients and observations (FHIR Bundle or CSV).

The job's id is matched as any path segment, not with the uuid converter: a malformed id is then
the API's JSON 404 (the view's lookup refuses it), not Django's HTML page. The schema still says
uuid (interop.apis)."""

from django.urls import URLPattern, path

from interop import apis

urlpatterns: list[URLPattern] = [
    path("imports/", apis.ImportListApi.as_view(), name="api-imports"),
    path("imports/<str:public_id>/", apis.ImportDetailApi.as_view(), name="api-imports-detail"),
    path(
        "imports/<str:public_id>/report.csv",
        apis.ImportReportApi.as_view(),
        name="api-imports-report",
    ),
]
