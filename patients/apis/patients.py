"""Patients over REST: list and register, read and change demographics, the timeline, and the
observation catalog."""

import uuid
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_serializer, extend_schema_view
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from healthmentor.api import BaseApi
from patients import serializers as out
from patients.apis.base import StrictFieldsMixin, audit_read, request_patient, request_user
from patients.catalog import OBSERVATION_TYPES
from patients.filters import PatientFilter
from patients.models import CareTeam, Patient, Sex
from patients.selectors import (
    care_teams_for_user,
    patient_timeline,
    patients_visible_to,
    user_may_add_patient,
)
from patients.services import patient_create, patient_update


@extend_schema_serializer(component_name="Patient")
class PatientIn(StrictFieldsMixin, serializers.Serializer):
    mrn = serializers.CharField(max_length=40)
    given_name = serializers.CharField(max_length=100)
    family_name = serializers.CharField(max_length=100)
    date_of_birth = serializers.DateField()
    sex = serializers.ChoiceField(choices=Sex.choices)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    address = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class PatientCreateIn(PatientIn):
    care_teams = serializers.ListField(
        child=serializers.UUIDField(),
        max_length=20,
        required=False,
        help_text="Public ids of care teams you are a member of (at least one; admins: any "
        "teams, or none).",
    )

    def validate_care_teams(self, value: list[uuid.UUID]) -> list[CareTeam]:
        # The choices are the acting user's teams, as on the web form.
        allowed: QuerySet[CareTeam] = self.context["care_teams"]
        teams = list(allowed.filter(public_id__in=value))
        if len(teams) != len(set(value)):
            raise serializers.ValidationError("Choose care teams you are a member of.")
        return teams

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.context["care_team_required"] and not attrs.get("care_teams"):
            raise serializers.ValidationError({"care_teams": ["Choose at least one care team."]})
        return attrs


class CanAddPatient(BasePermission):
    message = "Your role does not allow adding patients."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return request.method != "POST" or user_may_add_patient(user=request_user(request))


@extend_schema_view(
    get=extend_schema(
        summary="Patients you may see",
        description="Paginated, newest first. `mrn` and `name` are exact matches through blind "
        "indexes (the columns are encrypted); `sex` decrypts the rows the other filters left.",
        responses=out.PatientSerializer(many=True),
    ),
    post=extend_schema(
        summary="Register a patient",
        request=PatientCreateIn,
        responses={201: out.PatientSerializer},
    ),
)
@extend_schema(tags=["patients"])
class PatientListApi(BaseApi):
    queryset = Patient.objects.none()  # for the schema and the filter backend's model check
    filterset_class = PatientFilter
    permission_classes = [*BaseApi.permission_classes, CanAddPatient]

    def get(self, request: Request) -> Response:
        patients = self.filter_queryset(
            patients_visible_to(user=request_user(request)).order_by("-created_at", "-pk")
        )
        page = self.paginate_queryset(
            patients.select_related("created_by").prefetch_related("care_teams")
        )
        rows = page or []
        audit_read(
            request,
            patient=None,
            view="patient_list",
            count=len(rows),
            patients=[str(p.public_id) for p in rows],
        )
        return self.get_paginated_response(out.PatientSerializer(rows, many=True).data)

    def post(self, request: Request) -> Response:
        user = request_user(request)
        data = PatientCreateIn(
            data=request.data,
            context={
                "care_teams": care_teams_for_user(user=user),
                "care_team_required": not user.is_portal_admin,
            },
        )
        data.is_valid(raise_exception=True)
        patient = patient_create(by=user, **data.validated_data)
        return Response(out.PatientSerializer(patient).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(summary="A patient's demographics", responses=out.PatientSerializer),
    patch=extend_schema(
        summary="Change a patient's demographics",
        description="Only the fields of the request body may be sent. Sending a read-only field "
        "(`public_id`, `care_teams`, `created_by`, `is_synthetic`, `created_at`, `updated_at`) "
        "or an unknown one is a 400 naming it, and nothing is changed.",
        request=PatientIn,
        responses=out.PatientSerializer,
    ),
)
@extend_schema(tags=["patients"])
class PatientDetailApi(BaseApi):
    queryset = Patient.objects.none()

    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        patient = request_patient(request, public_id)
        audit_read(request, patient=patient, view="patient")
        return Response(out.PatientSerializer(patient).data)

    def patch(self, request: Request, public_id: uuid.UUID) -> Response:
        patient = request_patient(request, public_id, for_change=True)
        data = PatientIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        patient = patient_update(by=request_user(request), patient=patient, **data.validated_data)
        return Response(out.PatientSerializer(patient).data)


@extend_schema_view(
    get=extend_schema(
        summary="Everything recorded for a patient, newest first",
        responses=out.TimelineItemSerializer(many=True),
    )
)
@extend_schema(tags=["patients"])
class PatientTimelineApi(BaseApi):
    filter_backends = []

    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        patient = request_patient(request, public_id)
        page = self.paginate_queryset(patient_timeline(patient=patient)) or []
        audit_read(request, patient=patient, view="timeline", count=len(page))
        return self.get_paginated_response(out.TimelineItemSerializer(page, many=True).data)


@extend_schema_view(
    get=extend_schema(
        summary="The observation catalog: codes, units and plausible ranges",
        responses=out.ObservationCodeSerializer(many=True),
    )
)
@extend_schema(tags=["catalog"])
class ObservationCodeListApi(BaseApi):
    filter_backends = []
    pagination_class = None

    def get(self, request: Request) -> Response:
        codes = list(OBSERVATION_TYPES.values())
        return Response(out.ObservationCodeSerializer(codes, many=True).data)


@extend_schema_view(
    get=extend_schema(
        summary="The care teams you may register patients in (yours; an admin's: every team)",
        responses=out.CareTeamSerializer(many=True),
    )
)
@extend_schema(tags=["patients"])
class CareTeamListApi(BaseApi):
    filter_backends = []
    pagination_class = None

    def get(self, request: Request) -> Response:
        teams = care_teams_for_user(user=request_user(request))
        return Response(out.CareTeamSerializer(teams, many=True).data)
