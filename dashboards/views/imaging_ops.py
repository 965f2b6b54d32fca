"""Placeholder: filled by the imaging_ops dashboard."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
