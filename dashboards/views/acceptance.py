"""Placeholder: filled by the acceptance dashboard."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
