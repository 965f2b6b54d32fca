"""The patient record over REST, under /api/v1/ (Django REST framework).

Thin views: an input serializer validates, one service or selector does the work, an output
serializer (patients.serializers) renders. Access to a patient goes through
`patient_get_for_user` (404 for anyone outside the patient's care teams, audited as a denial);
role permissions are checked by the services (403). Every response that shows PHI appends an
audit READ; writes are audited by the services.
"""

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from axes.helpers import get_lockout_message
from django.contrib.auth import authenticate, user_logged_in, user_login_failed
from django.db.models import QuerySet
from django_filters import FilterSet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.generics import GenericAPIView
from rest_framework.metadata import SimpleMetadata
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from accounts.audit import audit_request, client_ip
from accounts.models import AuditAction, User
from accounts.selectors import user_has_second_factor
from accounts.services import api_token_create, api_token_revoke, second_factor_verify
from patients import serializers as out
from patients.catalog import OBSERVATION_TYPES
from patients.filters import ObservationFilter, PatientFilter
from patients.models import (
    Allergy,
    CareTeam,
    Condition,
    FamilyHistory,
    GeneticMarker,
    LifestyleAssessment,
    Medication,
    Observation,
    Patient,
    RecordEntry,
    Sex,
)
from patients.selectors import (
    care_teams_for_user,
    patient_get_for_user,
    patient_timeline,
    patients_visible_to,
    record_entries,
    record_entry_get,
    user_may_add_patient,
)
from patients.services import (
    allergy_add,
    condition_add,
    family_history_add,
    genetic_marker_add,
    lifestyle_record,
    medication_add,
    observation_record,
    patient_create,
    patient_update,
    record_entry_update,
)

# --- shared -----------------------------------------------------------------------------------


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, but JSON nested past Python's recursion limit, or holding unpaired
    surrogates (which no database column can store), is a 400 rather than a 500. (Bodies over
    DATA_UPLOAD_MAX_MEMORY_SIZE are refused before parsing: healthmentor.api_errors.)"""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False).encode()
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        except UnicodeEncodeError:
            raise ParseError("JSON parse error - a string holds an unpaired surrogate.") from None
        return data


class BasicMetadata(SimpleMetadata):
    """OPTIONS says what a view is and speaks; request bodies are described by /api/schema/.
    (DRF's default would build the view's serializer, which these views do not declare.)"""

    def determine_actions(self, request: Request, view: APIView) -> dict[str, Any]:
        return {}


class BaseApi(GenericAPIView):
    parser_classes = [SafeJSONParser]
    metadata_class = BasicMetadata
    # The rates are in settings (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]).
    throttle_classes = [AnonRateThrottle, UserRateThrottle]
    filterset_class: type[FilterSet] | None = None


def _user(request: Request) -> User:
    # Every view but the token exchange requires an authenticated staff user.
    return cast(User, request.user)


def _patient(request: Request, public_id: uuid.UUID, *, for_change: bool = False) -> Patient:
    return patient_get_for_user(
        user=_user(request),
        public_id=public_id,
        for_change=for_change,
        ip=client_ip(request._request),
    )


def _audit_read(request: Request, *, patient: Patient | None, view: str, **detail: Any) -> None:
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


# --- patients ---------------------------------------------------------------------------------


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
        return request.method != "POST" or user_may_add_patient(user=_user(request))


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
            patients_visible_to(user=_user(request)).order_by("-created_at", "-pk")
        )
        page = self.paginate_queryset(
            patients.select_related("created_by").prefetch_related("care_teams")
        )
        rows = page or []
        _audit_read(
            request,
            patient=None,
            view="patient_list",
            count=len(rows),
            patients=[str(p.public_id) for p in rows],
        )
        return self.get_paginated_response(out.PatientSerializer(rows, many=True).data)

    def post(self, request: Request) -> Response:
        user = _user(request)
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
        patient = _patient(request, public_id)
        _audit_read(request, patient=patient, view="patient")
        return Response(out.PatientSerializer(patient).data)

    def patch(self, request: Request, public_id: uuid.UUID) -> Response:
        patient = _patient(request, public_id, for_change=True)
        data = PatientIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        patient = patient_update(by=_user(request), patient=patient, **data.validated_data)
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
        patient = _patient(request, public_id)
        page = self.paginate_queryset(patient_timeline(patient=patient)) or []
        _audit_read(request, patient=patient, view="timeline", count=len(page))
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


# --- record entries ---------------------------------------------------------------------------


@extend_schema_serializer(component_name="Observation")
class ObservationIn(StrictFieldsMixin, serializers.Serializer):
    code = serializers.CharField(max_length=20, help_text="LOINC code (see observation-codes).")
    value = FiniteFloatField()
    unit = serializers.CharField(
        max_length=30, help_text="Any accepted unit of the code; stored in the canonical one."
    )
    effective_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="Observation")
class ObservationChangeIn(StrictFieldsMixin, serializers.Serializer):
    # The code is not changeable: a different code is a different observation.
    value = FiniteFloatField(required=False)
    unit = serializers.CharField(max_length=30, required=False)
    effective_at = serializers.DateTimeField(required=False)


def _model_input(model: type[RecordEntry], fields: list[str]) -> type[serializers.Serializer]:
    """An input serializer of a record entry's own fields, with the model's limits and choices
    (validation only: it never saves)."""
    meta = type("Meta", (), {"model": model, "fields": fields})
    name = f"{model.__name__}In"
    serializer = type(name, (StrictFieldsMixin, serializers.ModelSerializer), {"Meta": meta})
    return cast(
        type[serializers.Serializer],
        extend_schema_serializer(component_name=model.__name__)(serializer),
    )


@dataclass(frozen=True)
class RecordKind:
    """One kind of entry in the record: its model, inputs, output and the service that adds it."""

    name: str
    model: type[RecordEntry]
    create_in: type[serializers.Serializer]
    output: type[serializers.Serializer]
    add: Callable[..., RecordEntry]
    change_in: type[serializers.Serializer] | None = None
    filterset: type[FilterSet] | None = None

    @property
    def patch_in(self) -> type[serializers.Serializer]:
        return self.change_in or self.create_in


RECORD_KINDS: dict[str, RecordKind] = {
    "observations": RecordKind(
        "observation",
        Observation,
        ObservationIn,
        out.ObservationSerializer,
        observation_record,
        change_in=ObservationChangeIn,
        filterset=ObservationFilter,
    ),
    "conditions": RecordKind(
        "condition",
        Condition,
        _model_input(
            Condition,
            ["system", "code", "display", "onset_date", "resolved_date", "status", "notes"],
        ),
        out.ConditionSerializer,
        condition_add,
    ),
    "medications": RecordKind(
        "medication",
        Medication,
        _model_input(
            Medication,
            [
                "name",
                "code",
                "dose",
                "dose_unit",
                "frequency",
                "route",
                "start_date",
                "end_date",
                "status",
            ],
        ),
        out.MedicationSerializer,
        medication_add,
    ),
    "allergies": RecordKind(
        "allergy",
        Allergy,
        _model_input(Allergy, ["substance", "code", "reaction", "severity", "noted_on"]),
        out.AllergySerializer,
        allergy_add,
    ),
    "lifestyle": RecordKind(
        "lifestyle",
        LifestyleAssessment,
        _model_input(
            LifestyleAssessment,
            [
                "assessed_on",
                "smoking",
                "pack_years",
                "alcohol_units_per_week",
                "activity_minutes_per_week",
                "diet",
                "notes",
            ],
        ),
        out.LifestyleAssessmentSerializer,
        lifestyle_record,
    ),
    "family-history": RecordKind(
        "family_history",
        FamilyHistory,
        _model_input(
            FamilyHistory, ["relation", "condition_code", "condition_display", "onset_age"]
        ),
        out.FamilyHistorySerializer,
        family_history_add,
    ),
    "genetic-markers": RecordKind(
        "genetic_marker",
        GeneticMarker,
        _model_input(GeneticMarker, ["gene", "variant", "zygosity", "interpretation", "tested_on"]),
        out.GeneticMarkerSerializer,
        genetic_marker_add,
    ),
}


class RecordListApi(BaseApi):
    # List (paginated, filterable) and add entries of one kind of a patient's record.

    kind: ClassVar[RecordKind]

    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        patient = _patient(request, public_id)
        entries = self.filter_queryset(record_entries(patient=patient, model=self.kind.model))
        page = self.paginate_queryset(entries) or []
        _audit_read(request, patient=patient, view=f"{self.kind.name}_list", count=len(page))
        return self.get_paginated_response(self.kind.output(page, many=True).data)

    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        patient = _patient(request, public_id, for_change=True)
        data = self.kind.create_in(data=request.data)
        data.is_valid(raise_exception=True)
        entry = self.kind.add(by=_user(request), patient=patient, **data.validated_data)
        return Response(self.kind.output(entry).data, status=status.HTTP_201_CREATED)


class RecordDetailApi(BaseApi):
    # Read and change one entry of a patient's record.

    kind: ClassVar[RecordKind]

    def get(self, request: Request, public_id: uuid.UUID, entry_id: uuid.UUID) -> Response:
        patient = _patient(request, public_id)
        entry = record_entry_get(patient=patient, model=self.kind.model, public_id=entry_id)
        _audit_read(request, patient=patient, view=self.kind.name, entry=str(entry.public_id))
        return Response(self.kind.output(entry).data)

    def patch(self, request: Request, public_id: uuid.UUID, entry_id: uuid.UUID) -> Response:
        patient = _patient(request, public_id, for_change=True)
        entry = record_entry_get(patient=patient, model=self.kind.model, public_id=entry_id)
        data = self.kind.patch_in(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        entry = record_entry_update(by=_user(request), entry=entry, **data.validated_data)
        return Response(self.kind.output(entry).data)


def _record_apis(
    segment: str, kind: RecordKind
) -> tuple[type[RecordListApi], type[RecordDetailApi]]:
    """The list and detail views of one kind, with their OpenAPI description."""
    label = kind.model._meta.verbose_name_plural
    tagged = extend_schema(tags=[segment])
    attrs = {
        "kind": kind,
        "queryset": kind.model._default_manager.none(),
        "filterset_class": kind.filterset,
    }
    list_api = extend_schema_view(
        get=extend_schema(summary=f"A patient's {label}", responses=kind.output(many=True)),
        post=extend_schema(
            summary=f"Add to a patient's {label}",
            request=kind.create_in,
            responses={201: kind.output},
        ),
    )(tagged(type(f"{kind.model.__name__}ListApi", (RecordListApi,), attrs)))
    detail_api = extend_schema_view(
        get=extend_schema(summary=f"One of a patient's {label}", responses=kind.output),
        patch=extend_schema(
            summary=f"Change one of a patient's {label}",
            description="Only the fields of the request body may be sent; others are a 400.",
            request=kind.patch_in,
            responses=kind.output,
        ),
    )(tagged(type(f"{kind.model.__name__}DetailApi", (RecordDetailApi,), attrs)))
    return list_api, detail_api


RECORD_APIS = {segment: _record_apis(segment, kind) for segment, kind in RECORD_KINDS.items()}


# --- API tokens -------------------------------------------------------------------------------


@extend_schema_serializer(component_name="Token")
class TokenIn(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    otp_token = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="A code from the authenticator app, or a backup code, for accounts that have "
        "two-factor sign-in.",
    )


@extend_schema_serializer(component_name="Token")
class TokenOut(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")


@extend_schema_serializer(component_name="Refusal")
class RefusalOut(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


def _refused(http_status: int, detail: str, code: str) -> Response:
    response = Response({"detail": detail, "code": code}, status=http_status)
    if http_status == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = "Token"
    return response


WRONG_CREDENTIALS = "The email address, password or code is not correct."


@extend_schema_view(
    post=extend_schema(
        summary="Exchange email and password (and a second-factor code) for an API token",
        description="Issues a new token, replacing the previous one. Failed attempts count "
        "towards the account lockout (django-axes): after 10, even the right password is "
        "refused for 30 minutes.",
        request=TokenIn,
        responses={
            200: TokenOut,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Malformed request."),
            401: OpenApiResponse(RefusalOut, description="Wrong credentials, or code needed."),
            403: OpenApiResponse(RefusalOut, description="Locked out, or 2FA not set up."),
        },
        auth=[],
    ),
    delete=extend_schema(summary="Revoke your API token", responses={204: None}),
)
@extend_schema(tags=["auth"])
class AuthTokenApi(BaseApi):
    def get_permissions(self) -> Sequence[Any]:
        if self.request.method == "POST":
            return [AllowAny()]
        return super().get_permissions()

    def post(self, request: Request) -> Response:
        data = TokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"].strip().lower()
        code = data.validated_data.get("otp_token", "")
        http = request._request
        # Through authenticate(), so django-axes counts the failure and refuses locked accounts.
        user = authenticate(request=http, username=email, password=data.validated_data["password"])
        if isinstance(user, User) and user_has_second_factor(user=user):
            if not code.strip():
                return _refused(
                    status.HTTP_401_UNAUTHORIZED,
                    "This account uses two-factor sign-in: send otp_token, a code from the "
                    "authenticator app or a backup code.",
                    "otp_required",
                )
            if second_factor_verify(user=user, token=code) is None:
                # A wrong code is a failed sign-in: it counts towards the lockout as well.
                user_login_failed.send(
                    sender=__name__, credentials={"username": email}, request=http
                )
                user = None
        if getattr(http, "axes_locked_out", False):
            # Answered here in JSON; AxesMiddleware would swap in its HTML lockout page.
            http.axes_locked_out = False  # type: ignore[attr-defined]
            return _refused(status.HTTP_403_FORBIDDEN, str(get_lockout_message()), "locked_out")
        if not isinstance(user, User):
            return _refused(status.HTTP_401_UNAUTHORIZED, WRONG_CREDENTIALS, "wrong_credentials")
        if user.must_use_two_factor and not user_has_second_factor(user=user):
            return _refused(
                status.HTTP_403_FORBIDDEN,
                "Administrators must set up two-factor sign-in in the portal before using the API.",
                "two_factor_setup_required",
            )
        # A sign-in like the portal's: axes clears the failures, the audit trail records a LOGIN.
        user_logged_in.send(sender=type(user), request=http, user=user)
        key = api_token_create(user=user, ip=client_ip(http))
        return Response({"token": key})

    def delete(self, request: Request) -> Response:
        api_token_revoke(user=_user(request), ip=client_ip(request._request))
        return Response(status=status.HTTP_204_NO_CONTENT)
