"""What the patients app's APIs share: the acting user, a patient looked up with access checks,
the READ audit, and inputs that refuse what they do not know."""

import uuid
from collections.abc import Mapping
from typing import Any, cast

from rest_framework import serializers
from rest_framework.request import Request

from accounts.audit import audit_request, client_ip
from accounts.models import AuditAction, User
from patients.models import Patient
from patients.selectors import patient_get_for_user


def request_user(request: Request) -> User:
    # Every view but the token exchange requires an authenticated staff user.
    return cast(User, request.user)


def request_patient(request: Request, public_id: uuid.UUID, *, for_change: bool = False) -> Patient:
    return patient_get_for_user(
        user=request_user(request),
        public_id=public_id,
        for_change=for_change,
        ip=client_ip(request._request),
    )


def audit_read(request: Request, *, patient: Patient | None, view: str, **detail: Any) -> None:
    """One READ per response that shows PHI: the patient read, or for a list the count."""
    audit_request(
        request._request,
        action=AuditAction.READ,
        obj=patient,
        object_type="" if patient is not None else "patients.patient",
        detail={"view": view, **detail},
    )


class StrictFieldsMixin(serializers.Serializer):
    """Fields not listed here are refused with a 400 naming them (read-only ones included)."""

    # A misspelt field silently dropped from a clinical record would be worse than an error.

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            names = [n for n in data if n not in self.fields or self.fields[n].read_only]
            unknown = {str(n)[:100]: ["Unknown or read-only field."] for n in names[:20]}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**unknown, **exc.detail}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class FiniteFloatField(serializers.FloatField):
    """A JSON number or numeric string; NaN, infinities (1e309) and booleans are refused."""

    default_error_messages = {
        "invalid": "Enter a finite number (not NaN, Infinity or a value beyond ±1.8e308).",
        "overflow": "Enter a finite number (not NaN, Infinity or a value beyond ±1.8e308).",
    }

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return cast(float, super().to_internal_value(data))
