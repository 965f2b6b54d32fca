"""Studies: submit (202), list, detail, their PNG files and the de-identified DICOM."""

import uuid
from typing import Any

from django.conf import settings
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
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import audit_request, client_ip
from accounts.models import AuditAction
from healthmentor.api import BaseApi
from imaging import serializers as out
from imaging.apis.base import (
    FileRefused,
    JSONErrorsNegotiation,
    MayUpload,
    StudyRefused,
    size_words,
    study_of_request,
)
from imaging.downloads import (
    FILES,
    DownloadRefused,
    study_deidentified_response,
    study_file_response,
    window_parse,
)
from imaging.models import Study
from imaging.selectors import (
    studies_visible_to,
)
from imaging.services import StudyRejected, study_submit
from patients.apis.base import (
    FiniteFloatField,
    StrictFieldsMixin,
    audit_read,
    request_patient,
    request_user,
)

# Room for the multipart boundaries, part headers and the `patient` field around the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


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
            # Refused by content ({code, detail}), or fields missing or invalid ({field: [...]}).
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                "Refused by content (`code` and `detail`, as for a 413), or fields missing or "
                "invalid (each field with its messages).",
            ),
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
        raise StudyRefused("too_large", f"The file is larger than the {size_words(limit)} limit.")


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
        study = study_of_request(request, public_id)
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
        study = study_of_request(request, public_id, want=f"file:{which[:20]}")
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


@extend_schema_view(
    get=extend_schema(
        summary="A study's DICOM file, de-identified (DICOM attachment)",
        description="The stored DICOM file after the PS3.15 Basic Application Level "
        "Confidentiality Profile with the Modified Dates option: Patient's Name and ID are the "
        "patient's research pseudonym (the one of the research export), dates are shifted by "
        "the patient's offset, UIDs replaced, identifying attributes, private tags and free "
        "text removed. Named `study-<pseudonym>-deid.dcm`. Audited as an export.",
        responses={
            (200, "application/dicom"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such study for you, or its file is missing."),
            409: OpenApiResponse(
                OpenApiTypes.OBJECT,
                "Not served, with `code` and `detail`: `not_dicom` (the study is not a single "
                "DICOM file), `not_deidentifiable` (burned-in annotation), `file_corrupt` (the "
                "stored file failed its integrity check).",
            ),
        },
    )
)
@extend_schema(tags=["imaging"])
class StudyDeidentifiedApi(BaseApi):
    queryset = Study.objects.none()
    filter_backends = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONErrorsNegotiation

    def get(self, request: Request, public_id: uuid.UUID) -> HttpResponseBase:
        study = study_of_request(request, public_id, want="deidentified")
        try:
            response = study_deidentified_response(study)
        except DownloadRefused as refused:
            raise FileRefused(refused.code, refused.message) from None
        audit_request(
            request._request,
            action=AuditAction.EXPORT,
            obj=study,
            detail={
                "view": "imaging_study_deidentified",
                "file": "deidentified_dicom",
                "patient": str(study.patient.public_id),
            },
        )
        return response
