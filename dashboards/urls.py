"""/dashboards/: the pages and, under data/, their chart endpoints (JSON)."""

from django.urls import URLPattern, path

from dashboards.views import acceptance, home, imaging_ops, models, patient, population, tabs

app_name = "dashboards"

urlpatterns: list[URLPattern] = [
    path("", tabs.index, name="index"),
    *home.urlpatterns,
    *patient.urlpatterns,
    *population.urlpatterns,
    *models.urlpatterns,
    *imaging_ops.urlpatterns,
    *acceptance.urlpatterns,
]
