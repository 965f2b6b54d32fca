"""Shared pieces of the imaging API: errors, permissions, renderers, lookups."""

import uuid
from collections.abc import Iterable

from rest_framework import exceptions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.audit import client_ip
from imaging import serializers as out
from imaging.models import Study, StudyReport
from imaging.selectors import (
    study_get_for_user,
    user_may_report,
    user_may_upload,
)
from imaging.services import STORAGE_RETRY_AFTER_S, STORAGE_UNAVAILABLE
from patients.apis.base import (
    request_user,
)


class StudyRefused(exceptions.APIException):
    """An upload refused by content or size: {code, detail}, 400 (413 when too large)."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, message: str) -> None:
        super().__init__(detail={"code": code, "detail": message}, code=code)
        if code == "too_large":
            self.status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        elif code == STORAGE_UNAVAILABLE:  # the server's condition, not the file's
            self.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
            self.wait = STORAGE_RETRY_AFTER_S  # DRF's handler sends it as Retry-After


class ReportSigned(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This report is signed and final; it cannot be changed."
    default_code = "report_signed"


class ReportNotSigned(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Only a signed report is exported; a radiologist must sign it first."
    default_code = "report_not_signed"


class FileRefused(exceptions.APIException):
    """A study file that exists but is not served (imaging.downloads.DownloadRefused): 409 with
    {code, detail}."""

    status_code = status.HTTP_409_CONFLICT

    def __init__(self, code: str, message: str) -> None:
        super().__init__(detail={"code": code, "detail": message}, code=code)


class MayUpload(BasePermission):
    message = "Your role does not upload images."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method != "POST" or user_may_upload(user=request_user(request))


class MayReport(BasePermission):
    message = "Only radiologists edit and sign imaging reports."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method in SAFE_METHODS or user_may_report(user=request_user(request))


class FhirJSONRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir"


class JSONErrorsNegotiation(BaseContentNegotiation):
    """Whatever the client accepts, errors are JSON (the only thing a file view renders)."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        json = next(r for r in renderers if isinstance(r, JSONRenderer))
        return json, json.media_type


def study_of_request(request: Request, public_id: uuid.UUID, want: str = "view") -> Study:
    return study_get_for_user(
        user=request_user(request),
        public_id=public_id,
        ip=client_ip(request._request),
        want=want,
    )


def report_of(study: Study) -> StudyReport:
    report = out.study_report_or_none(study)
    if report is None:
        raise exceptions.NotFound("This study has no report yet: its analysis has not finished.")
    return report


def size_words(size: int) -> str:
    mb = 1024 * 1024
    return f"{size // mb} MB" if size >= mb else f"{size} bytes"
