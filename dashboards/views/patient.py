"""Placeholder: filled by the patient dashboard."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
