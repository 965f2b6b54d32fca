"""/cds-services (CDS Hooks 2.0): discovery, a service, its feedback endpoint."""

from django.urls import path

from recommendations.cds import views

app_name = "cds"

urlpatterns = [
    path("", views.discovery, name="discovery"),
    path("/<str:service_id>", views.service, name="service"),
    path("/<str:service_id>/feedback", views.feedback, name="feedback"),
]
