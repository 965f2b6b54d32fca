"""Risk assessments and model cards over REST, under /api/v1/ (Django REST framework).

Thin views, as in patients.apis: an input serializer validates, one service or selector does the
work, prediction.serializers renders. A patient is reached through `patient_get_for_user` (404,
audited, for another care team) and an assessment through `assessment_get_for_user` (the same);
every response showing PHI appends an audit READ, and the services audit their writes.
Clinicians and admins assess and record outcomes (others get 403, like the pages). An assessment
always uses the active version of its disease, and answers synchronously (milliseconds).
"""

import uuid
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import client_ip
from healthmentor.api import BaseApi
from healthmentor.artifacts import ArtifactIntegrityError
from patients.apis.base import (
    FiniteFloatField,
    StrictFieldsMixin,
    audit_read,
    request_patient,
    request_user,
)
from prediction import serializers as out
from prediction.ml.diseases import DISEASES
from prediction.models import ModelVersion, Outcome, RiskAssessment
from prediction.selectors import (
    assessment_get_for_user,
    assessments_for_patient,
    model_version_get,
    model_versions_active,
)
from prediction.services import risk_assess, risk_outcome_record, user_may_assess

MAX_OVERRIDES = 100


class ModelUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "The active model of this disease failed its integrity check and cannot be used; an "
        "administrator must replace it."
    )
    default_code = "model_unavailable"


class MayAssess(BasePermission):
    message = "Your role does not allow running risk models or recording their outcomes."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method != "POST" or user_may_assess(user=request_user(request))


def _audit_assessment(request: Request, assessment: RiskAssessment, view: str) -> None:
    audit_read(request, patient=assessment.patient, view=view, assessment=str(assessment.public_id))


@extend_schema_serializer(component_name="RiskAssessmentRequest")
class AssessmentIn(StrictFieldsMixin, serializers.Serializer):
    patient = serializers.UUIDField()
    disease = serializers.ChoiceField(
        choices=sorted(DISEASES),
        required=False,
        help_text="The disease to assess; its active model version is used.",
    )
    model = serializers.UUIDField(
        required=False,
        help_text="Instead of `disease`: a model version id, which must be the active version of "
        "its disease (an older version is refused rather than silently replaced).",
    )
    overrides = serializers.DictField(
        child=FiniteFloatField(),
        required=False,
        help_text="Values by feature name (see the model card's features), in the feature's unit; "
        "binary features take 0 or 1. They replace the record's value or supply a missing one, "
        "and are stored as entered.",
    )

    def validate_overrides(self, value: dict[str, float]) -> dict[str, float]:
        if len(value) > MAX_OVERRIDES:
            raise serializers.ValidationError(f"At most {MAX_OVERRIDES} values.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        disease = attrs.get("disease")
        model = attrs.pop("model", None)
        if model is not None:
            try:
                version = model_version_get(public_id=model)
            except Http404:
                raise serializers.ValidationError({"model": ["No such model version."]}) from None
            if disease is not None and disease != version.disease:
                raise serializers.ValidationError(
                    {"model": [f"This version is a {version.disease} model, not {disease}."]}
                )
            if not version.is_active:
                raise serializers.ValidationError(
                    {
                        "model": [
                            "This version is not the active one of its disease; assessments use "
                            "the active version (see /api/v1/models/)."
                        ]
                    }
                )
            disease = attrs["disease"] = version.disease
        if disease is None:
            raise serializers.ValidationError(
                {"disease": ["Give the disease to assess (or the id of its active model)."]}
            )
        # "No model is active for this disease" is the service's to say (one query fewer here).
        names = {feature.name for feature in DISEASES[disease].features}
        unknown = [name for name in attrs.get("overrides", {}) if name not in names]
        if unknown:
            raise serializers.ValidationError(
                {
                    "overrides": {
                        name[:100]: [f"Not a feature of the {disease} model."]
                        for name in unknown[:20]
                    }
                }
            )
        return attrs


@extend_schema_serializer(component_name="RiskOutcome")
class OutcomeIn(StrictFieldsMixin, serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    outcome_date = serializers.DateField(help_text="When it was confirmed or ruled out.")


class AssessmentListQuery(serializers.Serializer):
    patient = serializers.UUIDField()
    disease = serializers.ChoiceField(choices=sorted(DISEASES), required=False)


@extend_schema_view(
    get=extend_schema(
        summary="A patient's risk assessments, newest first",
        parameters=[
            OpenApiParameter("patient", OpenApiTypes.UUID, required=True),
            OpenApiParameter("disease", OpenApiTypes.STR, enum=sorted(DISEASES)),
        ],
        responses=out.AssessmentSerializer(many=True),
    ),
    post=extend_schema(
        summary="Assess a patient's risk of a disease",
        description="Builds the features from the patient's record, applies `overrides`, checks "
        "every value's unit range, and scores them with the disease's active model version, "
        "synchronously. A value that is missing from the record and not given, or one outside "
        "its range, is a 400 under `overrides.<feature>`; nothing is stored then.",
        request=AssessmentIn,
        responses={201: out.AssessmentSerializer},
    ),
)
@extend_schema(tags=["risk"])
class AssessmentListApi(BaseApi):
    queryset = RiskAssessment.objects.none()
    filter_backends = []
    permission_classes = [*BaseApi.permission_classes, MayAssess]

    def get(self, request: Request) -> Response:
        query = AssessmentListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        patient = request_patient(request, query.validated_data["patient"])
        assessments = assessments_for_patient(patient=patient).select_related(
            "patient", "model_version", "created_by"
        )
        if "disease" in query.validated_data:
            assessments = assessments.filter(model_version__disease=query.validated_data["disease"])
        page = self.paginate_queryset(assessments.order_by("-created_at", "-pk")) or []
        audit_read(request, patient=patient, view="risk_assessment_list", count=len(page))
        return self.get_paginated_response(out.AssessmentSerializer(page, many=True).data)

    def post(self, request: Request) -> Response:
        data = AssessmentIn(data=request.data)
        data.is_valid(raise_exception=True)
        patient = request_patient(request, data.validated_data["patient"])
        try:
            assessment = risk_assess(
                by=request_user(request),
                patient=patient,
                disease=data.validated_data["disease"],
                overrides=data.validated_data.get("overrides") or {},
            )
        except DjangoValidationError as exc:
            raise _as_override_errors(exc, data.validated_data["disease"]) from None
        except ArtifactIntegrityError:
            raise ModelUnavailable() from None
        return Response(out.AssessmentSerializer(assessment).data, status=status.HTTP_201_CREATED)


def _as_override_errors(exc: DjangoValidationError, disease: str) -> serializers.ValidationError:
    """risk_assess's errors keyed by a feature belong under `overrides`, where the client
    supplies or corrects that value; others ("disease", "__all__") stay where they are."""
    if not hasattr(exc, "error_dict"):
        return serializers.ValidationError({"non_field_errors": exc.messages})
    features = set(DISEASES[disease].feature_names)
    detail: dict[str, Any] = {}
    for name, errors in exc.message_dict.items():
        if name in features:
            detail.setdefault("overrides", {})[name] = errors
        else:
            detail["non_field_errors" if name == "__all__" else name] = errors
    return serializers.ValidationError(detail)


@extend_schema_view(
    get=extend_schema(summary="One risk assessment", responses=out.AssessmentSerializer)
)
@extend_schema(tags=["risk"])
class AssessmentDetailApi(BaseApi):
    queryset = RiskAssessment.objects.none()
    filter_backends = []

    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        assessment = _assessment(request, public_id)
        _audit_assessment(request, assessment, "risk_assessment")
        return Response(out.AssessmentSerializer(assessment).data)


def _assessment(request: Request, public_id: uuid.UUID) -> RiskAssessment:
    return assessment_get_for_user(
        user=request_user(request), public_id=public_id, ip=client_ip(request._request)
    )


@extend_schema_view(
    post=extend_schema(
        summary="Record what really happened",
        description="Confirmed or ruled out, and when; it feeds the live monitoring of the model.",
        request=OutcomeIn,
        responses=out.AssessmentSerializer,
    )
)
@extend_schema(tags=["risk"])
class AssessmentOutcomeApi(BaseApi):
    queryset = RiskAssessment.objects.none()
    filter_backends = []
    permission_classes = [*BaseApi.permission_classes, MayAssess]

    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        assessment = _assessment(request, public_id)
        data = OutcomeIn(data=request.data)
        data.is_valid(raise_exception=True)
        assessment = risk_outcome_record(
            by=request_user(request), assessment=assessment, **data.validated_data
        )
        return Response(out.AssessmentSerializer(assessment).data)


@extend_schema_view(
    get=extend_schema(
        summary="The model cards of the active risk models",
        responses=out.ModelCardSerializer(many=True),
    )
)
@extend_schema(tags=["models"])
class ModelListApi(BaseApi):
    queryset = ModelVersion.objects.none()
    filter_backends = []
    pagination_class = None

    def get(self, request: Request) -> Response:
        versions = model_versions_active().order_by("disease")
        return Response(out.ModelCardSerializer(versions, many=True).data)


@extend_schema_view(
    get=extend_schema(summary="One model version's card", responses=out.ModelCardSerializer)
)
@extend_schema(tags=["models"])
class ModelDetailApi(BaseApi):
    queryset = ModelVersion.objects.none()
    filter_backends = []

    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        return Response(out.ModelCardSerializer(model_version_get(public_id=public_id)).data)
