"""Placeholder: filled by the home dashboard."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
