"""/recommendations/: pages (owned by the web layer)."""

from django.urls import path  # noqa: F401

app_name = "recommendations"

urlpatterns: list = []
