"""Placeholder: filled by the population dashboard."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
