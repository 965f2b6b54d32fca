"""Placeholder: filled by the models dashboard."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
