"""Shared Django admin behaviour (imports no app)."""

from typing import Any

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Rows that are written only by services (audit events, invitations, model versions,
    assessments): admin may list and show them, never add, change or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
