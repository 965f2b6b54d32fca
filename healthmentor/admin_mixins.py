"""Shared Django admin behaviour (imports no app)."""

import json
from typing import Any

from django.contrib import admin
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html


class ReadOnlyAdminMixin:
    """Rows that are written only by services (audit events, invitations, model versions,
    assessments): admin may list and show them, never add, change or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def json_pre(data: Any) -> str:
    """A JSON value as an indented, escaped <pre> block for a read-only admin field."""
    return format_html("<pre>{}</pre>", json.dumps(data, indent=2, sort_keys=True, default=str))


class PatientRefAdminMixin:
    """For rows of a patient (studies, assessments, recommendations): the `patient_ref` column
    shows the patient's public id, annotated in the query, so admin never loads (and decrypts)
    the patient row. The rows' model version, if they have one, comes in the same query."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        if any(field.name == "model_version" for field in queryset.model._meta.get_fields()):
            queryset = queryset.select_related("model_version")
        return queryset.annotate(patient_public_id=F("patient__public_id"))

    @admin.display(description="Patient")
    def patient_ref(self, obj: Any) -> str:
        return str(obj.patient_public_id)
