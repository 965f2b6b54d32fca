"""/cds-services (CDS Hooks 2.0): discovery, a service, its feedback endpoint."""

from django.urls import path

from recommendations.cds import views

app_name = "cds"

urlpatterns = [
    path("cds-services", views.discovery, name="discovery"),
    path("cds-services/<str:service_id>", views.service, name="service"),
    path("cds-services/<str:service_id>/feedback", views.feedback, name="feedback"),
]
