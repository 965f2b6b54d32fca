"""Imaging studies over REST, under /api/v1/imaging/ (Django REST framework).

Thin views, as in prediction.apis: an input serializer validates, one service or selector does the
work, imaging.serializers renders. A study is reached through `study_get_for_user` (404, audited,
for another care team) and so are its files and its report; every response showing PHI appends an
audit READ (the FHIR export an EXPORT), and the services audit their writes.

A submit answers 202 at once with the study's status URL: the analysis runs in a worker. The body
is multipart (`patient`, `image`); a Content-Length past the upload limit is refused with a 413
before a byte of it is parsed. Clinicians, radiologists and admins upload; only radiologists edit
and sign reports (others get 403, like the pages).
"""

import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F
from django.http import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import exceptions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import audit_request, client_ip
from accounts.models import AuditAction
from healthmentor.api import BaseApi
from imaging import serializers as out
from imaging.downloads import FILES, study_file_response, window_parse
from imaging.models import ImagingModelVersion, Study, StudyReport
from imaging.reports import report_fhir
from imaging.selectors import (
    imaging_model_versions,
    model_card,
    studies_visible_to,
    study_get_for_user,
    user_may_report,
    user_may_upload,
)
from imaging.services import StudyRejected, report_sign, report_update, study_submit
from patients.apis.base import (
    FiniteFloatField,
    StrictFieldsMixin,
    audit_read,
    request_patient,
    request_user,
)

# Room for the multipart boundaries, part headers and the `patient` field around the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
REPORT_MAX_CHARS = 20_000


class StudyRefused(exceptions.APIException):
    """An upload refused by content or size: {code, detail}, 400 (413 when too large)."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, message: str) -> None:
        super().__init__(detail={"code": code, "detail": message}, code=code)
        if code == "too_large":
            self.status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


class ReportSigned(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This report is signed and final; it cannot be changed."
    default_code = "report_signed"


class ReportNotSigned(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Only a signed report is exported; a radiologist must sign it first."
    default_code = "report_not_signed"


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


def _study(request: Request, public_id: uuid.UUID, want: str = "view") -> Study:
    return study_get_for_user(
        user=request_user(request),
        public_id=public_id,
        ip=client_ip(request._request),
        want=want,
    )


def _report(study: Study) -> StudyReport:
    report = out.study_report_or_none(study)
    if report is None:
        raise exceptions.NotFound("This study has no report yet: its analysis has not finished.")
    return report


def _size_words(size: int) -> str:
    mb = 1024 * 1024
    return f"{size // mb} MB" if size >= mb else f"{size} bytes"


# --- studies -----------------------------------------------------------------------------------


@extend_schema_serializer(component_name="StudySubmit")
class StudySubmitIn(StrictFieldsMixin, serializers.Serializer):
    patient = serializers.UUIDField(help_text="The patient's public id.")
    # An empty file is the intake's to refuse, with its code (empty_file) like any other.
    image = serializers.FileField(
        allow_empty_file=True,
        help_text="A PNG, a JPEG, a DICOM file or a zip of one DICOM series; checked by content.",
    )


class StudyListQuery(serializers.Serializer):
    patient = serializers.UUIDField(required=False)
    state = serializers.ChoiceField(choices=Study.State.choices, required=False)
    modality = serializers.CharField(max_length=8, required=False)
    ordering = serializers.ChoiceField(choices=["newest", "urgency"], default="newest")


@extend_schema_view(
    get=extend_schema(
        summary="Imaging studies you may see",
        description="Paginated; newest first, or with `ordering=urgency` the most likely "
        "abnormal first (pending studies last), as on the worklist.",
        parameters=[
            OpenApiParameter("patient", OpenApiTypes.UUID, description="A patient's public id."),
            OpenApiParameter("state", OpenApiTypes.STR, enum=Study.State.values),
            OpenApiParameter("modality", OpenApiTypes.STR, description="DICOM modality, e.g. CT."),
            OpenApiParameter("ordering", OpenApiTypes.STR, enum=["newest", "urgency"]),
        ],
        responses=out.StudySerializer(many=True),
    ),
    post=extend_schema(
        summary="Submit an image for analysis",
        description="Multipart: `patient` and `image`. The file is checked by content (magic "
        "bytes, size, pixel count, DICOM parse) and stored under a random name; the analysis "
        "runs in a worker. Answers 202 at once with the study's `status_url` (also the "
        "`Location` header) to poll. A refused file is a 400 (413 when too large) with a "
        "`code`, and nothing is kept.",
        request={"multipart/form-data": StudySubmitIn},
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                location=OpenApiParameter.HEADER,
                description="The study in the API (its status URL).",
                response=[202],
            )
        ],
        responses={
            202: out.StudySubmittedSerializer,
            400: OpenApiResponse(out.StudyRefusedSerializer, "Refused by content."),
            413: OpenApiResponse(out.StudyRefusedSerializer, "Larger than the upload limit."),
        },
    ),
)
@extend_schema(tags=["imaging"])
class StudyListApi(BaseApi):
    queryset = Study.objects.none()
    filter_backends = []
    parser_classes = [MultiPartParser]
    permission_classes = [*BaseApi.permission_classes, MayUpload]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before authentication too: session authentication's CSRF check would parse the body.
        if request.method == "POST":
            _refuse_oversize(request)
        super().initial(request, *args, **kwargs)

    def get(self, request: Request) -> Response:
        query = StudyListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        studies = studies_visible_to(user=request_user(request)).select_related(
            "patient", "model_version", "report"
        )
        if "patient" in filters:
            studies = studies.filter(patient__public_id=filters["patient"])
        if "state" in filters:
            studies = studies.filter(state=filters["state"])
        if "modality" in filters:
            studies = studies.filter(modality=filters["modality"].upper())
        if filters["ordering"] == "urgency":
            studies = studies.order_by(
                F("abnormal_probability").desc(nulls_last=True), "uploaded_at", "pk"
            )
        else:
            studies = studies.order_by("-uploaded_at", "-pk")
        rows = self.paginate_queryset(studies) or []
        audit_read(
            request,
            patient=None,
            view="imaging_study_list",
            count=len(rows),
            studies=[str(s.public_id) for s in rows],
        )
        context = {"request": request}
        return self.get_paginated_response(
            out.StudySerializer(rows, many=True, context=context).data
        )

    def post(self, request: Request) -> Response:
        data = StudySubmitIn(data=request.data)
        data.is_valid(raise_exception=True)
        patient = request_patient(request, data.validated_data["patient"])
        image = data.validated_data["image"]
        try:
            study = study_submit(
                by=request_user(request),
                patient=patient,
                chunks=image.chunks(),
                original_name=image.name or "",
                ip=client_ip(request._request),
            )
        except StudyRejected as rejected:
            raise StudyRefused(rejected.code, rejected.message) from None
        body = out.StudySubmittedSerializer(study, context={"request": request}).data
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]}
        )


def _refuse_oversize(request: Request) -> None:
    """413 for a body that announces more than the limit allows, before it is read."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = int(settings.IMAGING_MAX_UPLOAD_BYTES)
    if length > limit + MULTIPART_OVERHEAD_BYTES:
        raise StudyRefused("too_large", f"The file is larger than the {_size_words(limit)} limit.")


@extend_schema_view(
    get=extend_schema(
        summary="One imaging study: its state, place in the queue, and result",
        description="`queue` while the study is queued or running, `result` once it is done, "
        "`failure` when it failed. Poll this after a submit.",
        responses=out.StudyDetailSerializer,
    )
)
@extend_schema(tags=["imaging"])
class StudyDetailApi(BaseApi):
    queryset = Study.objects.none()
    filter_backends = []

    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        study = _study(request, public_id)
        audit_read(request, patient=study.patient, view="imaging_study", study=str(public_id))
        return Response(out.StudyDetailSerializer(study, context={"request": request}).data)


class StudyFileQuery(serializers.Serializer):
    window = serializers.CharField(max_length=40, required=False, allow_blank=True)
    wc = FiniteFloatField(required=False)
    ww = FiniteFloatField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("wc" in attrs) != ("ww" in attrs):
            raise serializers.ValidationError({"window": ["Give both wc and ww, or neither."]})
        return attrs


@extend_schema_view(
    get=extend_schema(
        summary="A study's rendered image, heatmap or mask (PNG attachment)",
        description="`image` is the key frame as rendered at intake; `window` (a preset) or "
        "`wc` and `ww` (centre and width, in the image's units: HU for CT) re-window it.",
        parameters=[
            OpenApiParameter("which", OpenApiTypes.STR, OpenApiParameter.PATH, enum=sorted(FILES)),
            OpenApiParameter("window", OpenApiTypes.STR, description="A window preset name."),
            OpenApiParameter("wc", OpenApiTypes.NUMBER, description="Window centre."),
            OpenApiParameter("ww", OpenApiTypes.NUMBER, description="Window width."),
        ],
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            400: OpenApiResponse(description="A window that does not exist or is out of range."),
            404: OpenApiResponse(description="No such study for you, or no such image yet."),
        },
    )
)
@extend_schema(tags=["imaging"])
class StudyFileApi(BaseApi):
    queryset = Study.objects.none()
    filter_backends = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONErrorsNegotiation

    def get(self, request: Request, public_id: uuid.UUID, which: str) -> HttpResponseBase:
        study = _study(request, public_id, want=f"file:{which[:20]}")
        window = None
        if which == "image":
            query = StudyFileQuery(data=request.query_params)
            query.is_valid(raise_exception=True)
            params = query.validated_data
            try:
                window = window_parse(
                    params.get("window", ""),
                    str(params["wc"]) if "wc" in params else "",
                    str(params["ww"]) if "ww" in params else "",
                )
            except ValueError as exc:
                raise serializers.ValidationError({"window": [str(exc)]}) from None
        response = study_file_response(study, which, window=window)
        audit_read(
            request,
            patient=study.patient,
            view="imaging_study_file",
            study=str(public_id),
            which=which,
        )
        return response


# --- reports -----------------------------------------------------------------------------------


@extend_schema_serializer(component_name="StudyReportText")
class ReportTextIn(StrictFieldsMixin, serializers.Serializer):
    text = serializers.CharField(max_length=REPORT_MAX_CHARS)


@extend_schema_serializer(component_name="StudyReportSign")
class ReportSignIn(StrictFieldsMixin, serializers.Serializer):
    text = serializers.CharField(
        max_length=REPORT_MAX_CHARS,
        required=False,
        help_text="A last edit, signed as given; without it the saved text is signed.",
    )


def _refuse_if_signed(report: StudyReport) -> None:
    if report.status == StudyReport.Status.SIGNED:
        raise ReportSigned()


def _signed_meanwhile(report: StudyReport) -> bool:
    """The services refuse a signed report with a ValidationError; one signed between our check
    and their row lock is a 409 like any other."""
    return StudyReport.objects.filter(pk=report.pk, status=StudyReport.Status.SIGNED).exists()


@extend_schema_view(
    get=extend_schema(summary="A study's report", responses=out.StudyReportSerializer),
    put=extend_schema(
        summary="Edit the report's text (radiologists)",
        description="The report stays a draft until signed; a signed report is a 409.",
        request=ReportTextIn,
        responses={200: out.StudyReportSerializer, 409: OpenApiResponse(description="Signed.")},
    ),
    patch=extend_schema(
        summary="Edit the report's text (radiologists)",
        description="The same as PUT: `text` is the only field.",
        request=ReportTextIn,
        responses={200: out.StudyReportSerializer, 409: OpenApiResponse(description="Signed.")},
    ),
)
@extend_schema(tags=["imaging"])
class StudyReportApi(BaseApi):
    queryset = StudyReport.objects.none()
    filter_backends = []
    permission_classes = [*BaseApi.permission_classes, MayReport]

    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        study = _study(request, public_id, want="report")
        report = _report(study)
        audit_read(request, patient=study.patient, view="imaging_report", study=str(public_id))
        return Response(out.StudyReportSerializer(report, context={"request": request}).data)

    def put(self, request: Request, public_id: uuid.UUID) -> Response:
        report = _report(_study(request, public_id, want="report"))
        _refuse_if_signed(report)
        data = ReportTextIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            report = report_update(
                report=report,
                by=request_user(request),
                text=data.validated_data["text"],
                ip=client_ip(request._request),
            )
        except DjangoValidationError:
            if _signed_meanwhile(report):
                raise ReportSigned() from None
            raise
        return Response(out.StudyReportSerializer(report, context={"request": request}).data)

    def patch(self, request: Request, public_id: uuid.UUID) -> Response:
        return self.put(request, public_id)


@extend_schema_view(
    post=extend_schema(
        summary="Sign the report (radiologists): it becomes final",
        description="With `text`, that text is signed; without, the saved one. Its SHA-256 is "
        "kept. A report already signed is a 409.",
        request=ReportSignIn,
        responses={200: out.StudyReportSerializer, 409: OpenApiResponse(description="Signed.")},
    )
)
@extend_schema(tags=["imaging"])
class StudyReportSignApi(BaseApi):
    queryset = StudyReport.objects.none()
    filter_backends = []
    permission_classes = [*BaseApi.permission_classes, MayReport]

    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        report = _report(_study(request, public_id, want="report_sign"))
        _refuse_if_signed(report)
        data = ReportSignIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            report = report_sign(
                report=report,
                by=request_user(request),
                text=data.validated_data.get("text"),
                ip=client_ip(request._request),
            )
        except DjangoValidationError:
            if _signed_meanwhile(report):
                raise ReportSigned() from None
            raise
        return Response(out.StudyReportSerializer(report, context={"request": request}).data)


@extend_schema_view(
    get=extend_schema(
        summary="The signed report as a FHIR R4 DiagnosticReport",
        description="The conclusion is the radiologist's signed text; the model's estimates are "
        "contained Observations tagged AIAST (AI asserted). 409 until the report is signed.",
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, "A FHIR R4 DiagnosticReport resource."),
            409: OpenApiResponse(description="Not signed yet."),
        },
    )
)
@extend_schema(tags=["imaging"])
class StudyReportFhirApi(BaseApi):
    queryset = StudyReport.objects.none()
    filter_backends = []
    renderer_classes = [FhirJSONRenderer, JSONRenderer]

    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        study = _study(request, public_id, want="report_fhir")
        report = _report(study)
        if report.status != StudyReport.Status.SIGNED:
            raise ReportNotSigned()
        resource = report_fhir(report, base_url=request.build_absolute_uri("/").rstrip("/"))
        audit_request(
            request._request,
            action=AuditAction.EXPORT,
            obj=study.patient,
            detail={
                "view": "imaging_report_fhir",
                "study": str(public_id),
                "report": str(report.public_id),
            },
        )
        return Response(resource)


# --- models ------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        summary="The imaging models' cards, newest first",
        description="Every registered version; `active` marks the one new studies use.",
        responses=out.ImagingModelCardSerializer(many=True),
    )
)
@extend_schema(tags=["models"])
class ImagingModelListApi(BaseApi):
    queryset = ImagingModelVersion.objects.none()
    filter_backends = []
    pagination_class = None

    def get(self, request: Request) -> Response:
        cards = [
            {**model_card(version), "id": version.public_id} for version in imaging_model_versions()
        ]
        return Response(out.ImagingModelCardSerializer(cards, many=True).data)
