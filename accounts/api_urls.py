"""/api/v1/auth/token/: API tokens (the rest of /api/v1/ is the patients app's)."""

from django.urls import URLPattern, path

from accounts import apis

urlpatterns: list[URLPattern] = [
    path("auth/token/", apis.AuthTokenApi.as_view(), name="api-auth-token"),
]
