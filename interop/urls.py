"""/interop/: imports of patients and observations (FHIR Bundle or CSV). Ids are UUIDs."""

from django.urls import path

from interop import views

app_name = "interop"

urlpatterns = [
    path("imports/", views.imports, name="imports"),
    path("imports/template.csv", views.import_template, name="import_template"),
    path("imports/<uuid:public_id>/", views.import_detail, name="import"),
    path("imports/<uuid:public_id>/status/", views.import_status, name="import_status"),
    path("imports/<uuid:public_id>/report.csv", views.import_report, name="import_report"),
]
