"""Reports (edit, sign, FHIR export) and the imaging model cards."""

import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import audit_request, client_ip
from accounts.models import AuditAction
from healthmentor.api import BaseApi
from imaging import serializers as out
from imaging.apis.base import (
    FhirJSONRenderer,
    MayReport,
    ReportNotSigned,
    ReportSigned,
    report_of,
    study_of_request,
)
from imaging.models import ImagingModelVersion, StudyReport
from imaging.reports import report_fhir
from imaging.selectors import (
    imaging_model_versions,
    model_card,
)
from imaging.services import report_sign, report_update
from patients.apis.base import (
    StrictFieldsMixin,
    audit_read,
    request_user,
)

REPORT_MAX_CHARS = 20_000


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
        study = study_of_request(request, public_id, want="report")
        report = report_of(study)
        audit_read(request, patient=study.patient, view="imaging_report", study=str(public_id))
        return Response(out.StudyReportSerializer(report, context={"request": request}).data)

    def put(self, request: Request, public_id: uuid.UUID) -> Response:
        report = report_of(study_of_request(request, public_id, want="report"))
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
        report = report_of(study_of_request(request, public_id, want="report_sign"))
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
        study = study_of_request(request, public_id, want="report_fhir")
        report = report_of(study)
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
