"""/api/v1/imports/: submit an import (multipart; 202 with the status URL), list one's imports,
poll one, download its rejected-rows report (CSV). Thin: validation here, the work in
interop.services, the reads in interop.importing.selectors."""

import uuid
from typing import Any

from django.conf import settings
from django.http import HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import audit_request, client_ip
from accounts.models import AuditAction
from healthmentor.api import BaseApi
from imaging.apis.base import JSONErrorsNegotiation
from interop.importing.selectors import (
    import_job_get_for_user,
    import_jobs_for_user,
    user_may_import,
)
from interop.models import ImportJob
from interop.services import STORAGE_UNAVAILABLE, ImportRefused, import_submit
from interop.views import report_response
from patients.apis.base import StrictFieldsMixin, request_user

MULTIPART_OVERHEAD_BYTES = 64 * 1024


def _url(serializer: serializers.Serializer, name: str, **kwargs: Any) -> str:
    path = reverse(name, kwargs=kwargs)
    request = serializer.context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


# --- serializers ---------------------------------------------------------------------------------


@extend_schema_serializer(component_name="ImportSubmit")
class ImportSubmitIn(StrictFieldsMixin, serializers.Serializer):
    # An empty file is the content check's to refuse, with its code (empty_file).
    file = serializers.FileField(
        allow_empty_file=True,
        help_text="A FHIR Bundle (JSON: collection, transaction, batch or searchset) or a CSV "
        "file made from the template (GET /interop/imports/template.csv); decided by content.",
    )
    care_team = serializers.UUIDField(
        help_text="One of your care teams (any team for an administrator): new patients join it."
    )


class ImportProgressOut(serializers.Serializer):
    percent = serializers.IntegerField(read_only=True, help_text="0-100.")
    phase = serializers.CharField(read_only=True)
    bytes_read = serializers.IntegerField(read_only=True)
    rows_done = serializers.IntegerField(read_only=True)
    rows_total = serializers.IntegerField(
        read_only=True, help_text="Patients and entries in the file, once it has been read."
    )


class ImportCountsOut(serializers.Serializer):
    patients_created = serializers.IntegerField(read_only=True)
    patients_matched = serializers.IntegerField(
        read_only=True, help_text="Already in the portal (by MRN): not duplicated."
    )
    observations_imported = serializers.IntegerField(read_only=True)
    observations_present = serializers.IntegerField(
        read_only=True, help_text="Already in the record: not duplicated."
    )
    entries_imported = serializers.IntegerField(
        read_only=True, help_text="Conditions, allergies, medications, family history."
    )
    entries_present = serializers.IntegerField(read_only=True)
    rejected = serializers.IntegerField(read_only=True, help_text="Rows in the report.")


COUNTS = (
    "patients_created",
    "patients_matched",
    "observations_imported",
    "observations_present",
    "entries_imported",
    "entries_present",
    "rejected",
)


class ImportFailureOut(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    reason = serializers.CharField(read_only=True)


class ImportJobOut(serializers.Serializer):
    """An import: its state, progress and counts. No PHI (the file's name stays out)."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    state = serializers.ChoiceField(choices=ImportJob.State.choices, read_only=True)
    format = serializers.ChoiceField(choices=ImportJob.Format.choices, read_only=True)
    care_team = serializers.UUIDField(source="care_team.public_id", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    size_bytes = serializers.IntegerField(read_only=True)
    sha256 = serializers.CharField(read_only=True)
    progress = serializers.SerializerMethodField()
    counts = serializers.SerializerMethodField()
    skipped = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="{resource type: count} not imported by design (RiskAssessment, "
        "DiagnosticReport: the portal's own derived results).",
    )
    failure = serializers.SerializerMethodField(help_text="When the state is failed; else null.")
    report_url = serializers.SerializerMethodField(
        help_text="The rejected-rows report (CSV) once done; else null (also once the import's "
        "files were removed, INTEROP_IMPORT_KEEP_DAYS after it ended)."
    )
    files_removed_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the uploaded file and the report were removed (kept a set number of "
        "days after the import ended); null while they are kept.",
    )
    url = serializers.SerializerMethodField(help_text="This import in the API.")
    page_url = serializers.SerializerMethodField(help_text="This import as a web page.")

    @extend_schema_field(ImportProgressOut)
    def get_progress(self, job: ImportJob) -> dict[str, Any]:
        return {
            "percent": job.percent,
            "phase": job.phase,
            "bytes_read": job.bytes_read,
            "rows_done": job.rows_done,
            "rows_total": job.rows_total,
        }

    @extend_schema_field(ImportCountsOut)
    def get_counts(self, job: ImportJob) -> dict[str, int]:
        return {name: getattr(job, name) for name in COUNTS}

    @extend_schema_field(ImportFailureOut(allow_null=True))
    def get_failure(self, job: ImportJob) -> dict[str, str] | None:
        if job.state != ImportJob.State.FAILED:
            return None
        return {"code": job.failure_code, "reason": job.failure_reason}

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_report_url(self, job: ImportJob) -> str | None:
        if not job.report_available:
            return None
        return _url(self, "api-imports-report", public_id=job.public_id)

    def get_url(self, job: ImportJob) -> str:
        return _url(self, "api-imports-detail", public_id=job.public_id)

    def get_page_url(self, job: ImportJob) -> str:
        return _url(self, "interop:import", public_id=job.public_id)


class ImportSubmittedOut(serializers.Serializer):
    """The 202 of a submit: where to poll, and the page that updates by itself."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    state = serializers.ChoiceField(choices=ImportJob.State.choices, read_only=True)
    format = serializers.ChoiceField(choices=ImportJob.Format.choices, read_only=True)
    status_url = serializers.SerializerMethodField(help_text="Poll this (the import in the API).")
    page_url = serializers.SerializerMethodField(help_text="The import as a web page.")

    def get_status_url(self, job: ImportJob) -> str:
        return _url(self, "api-imports-detail", public_id=job.public_id)

    def get_page_url(self, job: ImportJob) -> str:
        return _url(self, "interop:import", public_id=job.public_id)


class ImportRefusedOut(serializers.Serializer):
    code = serializers.CharField(
        read_only=True, help_text="too_large, empty_file, unknown_format, csv_header..."
    )
    detail = serializers.CharField(read_only=True)


# --- errors and permissions ----------------------------------------------------------------------


class ImportRefusedError(exceptions.APIException):
    """An upload refused by content or size: {code, detail}, 400 (413 too large, 503 disk)."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, message: str) -> None:
        super().__init__(detail={"code": code, "detail": message}, code=code)
        if code == "too_large":
            self.status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        elif code == STORAGE_UNAVAILABLE:
            self.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
            self.wait = 60


class ReportUnavailable(exceptions.APIException):
    """The web download's refusal (interop.views.report_response: 404 not done or missing, 409
    damaged, 410 removed), with its words, as the API's JSON error."""

    def __init__(self, refusal: HttpResponseBase) -> None:
        self.status_code = refusal.status_code
        super().__init__(detail=getattr(refusal, "content", b"").decode())


class MayImport(BasePermission):
    message = "Only clinicians and administrators import records."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method != "POST" or user_may_import(user=request_user(request))


def _job(request: Request, public_id: uuid.UUID | str, want: str = "view") -> ImportJob:
    return import_job_get_for_user(
        user=request_user(request), public_id=public_id, ip=client_ip(request._request), want=want
    )


def _refuse_oversize(request: Request) -> None:
    """413 for a body that announces more than the limit allows, before it is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = int(settings.INTEROP_IMPORT_MAX_BYTES)
    if length > limit + MULTIPART_OVERHEAD_BYTES:
        raise ImportRefusedError(
            "too_large", f"The file is larger than the {limit // (1024 * 1024)} MB import limit."
        )


# --- views ---------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        summary="Your imports (an administrator: everyone's), newest first",
        responses=ImportJobOut(many=True),
    ),
    post=extend_schema(
        summary="Import patients and observations from a FHIR Bundle or a CSV file",
        description="Multipart: `file` and `care_team`. The file is checked by content (a FHIR "
        "Bundle in JSON, or a CSV file starting with the template's header) and size, and "
        "stored encrypted; the import runs in a worker: every row is validated (codes, units, "
        "plausible ranges, dates, lengths, duplicates by MRN and within the file), good rows "
        "are imported one transaction per patient, and every rejected row goes into a report "
        "with its reason. Re-importing the same file creates no duplicates. Answers 202 at "
        "once with the import's `status_url` (also the `Location` header) to poll. A refused "
        "file is a 400 (413 when too large) with a `code`, and nothing is kept.",
        request={"multipart/form-data": ImportSubmitIn},
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                location=OpenApiParameter.HEADER,
                description="The import in the API (its status URL).",
                response=[202],
            )
        ],
        responses={
            202: ImportSubmittedOut,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                "Refused by content (`code` and `detail`), or fields missing or invalid (each "
                "field with its messages).",
            ),
            413: OpenApiResponse(ImportRefusedOut, "Larger than the import limit."),
        },
    ),
)
@extend_schema(tags=["imports"])
class ImportListApi(BaseApi):
    queryset = ImportJob.objects.none()
    filter_backends = []
    parser_classes = [MultiPartParser]
    permission_classes = [*BaseApi.permission_classes, MayImport]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before authentication too: session authentication's CSRF check would parse the body.
        if request.method == "POST":
            _refuse_oversize(request)
        super().initial(request, *args, **kwargs)

    def get(self, request: Request) -> Response:
        jobs = import_jobs_for_user(user=request_user(request))
        rows = self.paginate_queryset(jobs) or []
        return self.get_paginated_response(
            ImportJobOut(rows, many=True, context={"request": request}).data
        )

    def post(self, request: Request) -> Response:
        data = ImportSubmitIn(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        try:
            job = import_submit(
                by=request_user(request),
                care_team=data.validated_data["care_team"],
                upload=upload,
                original_name=upload.name or "",
                ip=client_ip(request._request),
            )
        except ImportRefused as refused:
            raise ImportRefusedError(refused.code, refused.message) from None
        body = ImportSubmittedOut(job, context={"request": request}).data
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]}
        )


JOB_ID = OpenApiParameter(
    "public_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The import's id."
)


@extend_schema_view(
    get=extend_schema(
        summary="One import: its state, progress and counts",
        parameters=[JOB_ID],
        description="Poll this after a submit; `report_url` once it is done, `failure` when it "
        "failed.",
        responses=ImportJobOut,
    )
)
@extend_schema(tags=["imports"])
class ImportDetailApi(BaseApi):
    queryset = ImportJob.objects.none()
    filter_backends = []

    def get(self, request: Request, public_id: str) -> Response:
        job = _job(request, public_id)
        return Response(ImportJobOut(job, context={"request": request}).data)


@extend_schema_view(
    get=extend_schema(
        summary="An import's rejected rows (CSV attachment)",
        parameters=[JOB_ID],
        description="One line per rejected row: its row (the CSV line, or the Bundle's entry "
        "number), resource, id, MRN, the field at fault, the reason and the value (its first "
        "200 characters). Cells are escaped against formula injection. Audited as an export.",
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such import for you, or not done yet."),
            409: OpenApiResponse(description="The stored report failed its integrity check."),
            410: OpenApiResponse(
                description="The import's files were removed (INTEROP_IMPORT_KEEP_DAYS after it "
                "ended); its counts remain."
            ),
        },
    )
)
@extend_schema(tags=["imports"])
class ImportReportApi(BaseApi):
    queryset = ImportJob.objects.none()
    filter_backends = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONErrorsNegotiation

    def get(self, request: Request, public_id: str) -> HttpResponseBase:
        job = _job(request, public_id, want="report")
        response = report_response(job)
        if response.status_code != 200:
            raise ReportUnavailable(response)
        audit_request(
            request._request,
            action=AuditAction.EXPORT,
            obj=job,
            detail={"view": "api_import_report", "file": "rejected_rows", "rows": job.rejected},
        )
        return response
