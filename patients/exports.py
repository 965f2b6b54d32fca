"""The de-identified research export: a page and two downloads (CSV and a FHIR R4 Bundle).

Researchers and administrators only (admins reach it, like every page, with a verified second
factor: accounts.middleware); anyone else gets a 403, audited by AuditDenialsMiddleware. Each
download is audited as an EXPORT with its format and patient count, never with any content. The
files are streamed, so an export of every patient holds one chunk of patients in memory at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.audit import audit_request
from accounts.decorators import AuthedRequest
from accounts.models import AuditAction, Role
from healthmentor.csv_safe import csv_rows
from patients.deid import (
    DeidPatient,
    deid_csv_rows,
    deid_fhir_bundle,
    deid_fhir_entries,
    deid_patients,
)
from patients.models import Patient

View = Callable[..., HttpResponse]


def user_may_export_deid(user: Any) -> bool:
    return bool(user.is_authenticated and (user.role == Role.RESEARCHER or user.is_portal_admin))


def _export_guard(request: AuthedRequest) -> None:
    if not user_may_export_deid(request.user):
        raise PermissionDenied("De-identified exports are for researchers and administrators.")


def _attachment(response: StreamingHttpResponse, filename: str) -> StreamingHttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _audited(request: AuthedRequest, fmt: str) -> None:
    audit_request(
        request,
        action=AuditAction.EXPORT,
        object_type="patients.patient",
        detail={"export": "deid", "format": fmt, "count": Patient.objects.count()},
    )


@login_required
@require_GET
def export_page(request: AuthedRequest) -> HttpResponse:
    _export_guard(request)
    return render(request, "patients/export.html", {"patient_count": Patient.objects.count()})


@login_required
@require_GET
def export_csv(request: AuthedRequest) -> StreamingHttpResponse:
    _export_guard(request)
    _audited(request, "csv")
    stamp = timezone.localdate().isoformat()
    response = StreamingHttpResponse(
        csv_rows(deid_csv_rows(deid_patients())), content_type="text/csv; charset=utf-8"
    )
    return _attachment(response, f"healthmentor-deid-{stamp}.csv")


def _fhir_stream(patients: Iterator[DeidPatient]) -> Iterator[str]:
    """The Bundle of deid_fhir_bundle, written entry by entry rather than built in memory."""
    head = deid_fhir_bundle([])
    del head["entry"]
    yield json.dumps(head)[:-1] + ', "entry": ['
    first = True
    for patient in patients:
        for entry in deid_fhir_entries(patient):
            yield ("" if first else ",") + json.dumps(entry)
            first = False
    yield "]}"


@login_required
@require_GET
def export_fhir(request: AuthedRequest) -> StreamingHttpResponse:
    _export_guard(request)
    _audited(request, "fhir")
    stamp = timezone.localdate().isoformat()
    response = StreamingHttpResponse(
        _fhir_stream(deid_patients()), content_type="application/fhir+json; charset=utf-8"
    )
    return _attachment(response, f"healthmentor-deid-{stamp}.fhir.json")
