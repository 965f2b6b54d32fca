"""The entries of a patient's record over REST: one list (add) and one detail (change) view per
kind of entry, built from RECORD_KINDS."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, cast

from django_filters import FilterSet
from drf_spectacular.utils import extend_schema, extend_schema_serializer, extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from healthmentor.api import BaseApi
from patients import serializers as out
from patients.apis.base import (
    FiniteFloatField,
    StrictFieldsMixin,
    audit_read,
    request_patient,
    request_user,
)
from patients.filters import ObservationFilter
from patients.models import (
    Allergy,
    Condition,
    FamilyHistory,
    GeneticMarker,
    LifestyleAssessment,
    Medication,
    Observation,
    RecordEntry,
)
from patients.selectors import record_entries, record_entry_get
from patients.services import (
    allergy_add,
    condition_add,
    family_history_add,
    genetic_marker_add,
    lifestyle_record,
    medication_add,
    observation_record,
    record_entry_update,
)


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
        patient = request_patient(request, public_id)
        entries = self.filter_queryset(record_entries(patient=patient, model=self.kind.model))
        page = self.paginate_queryset(entries) or []
        audit_read(request, patient=patient, view=f"{self.kind.name}_list", count=len(page))
        return self.get_paginated_response(self.kind.output(page, many=True).data)

    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        patient = request_patient(request, public_id, for_change=True)
        data = self.kind.create_in(data=request.data)
        data.is_valid(raise_exception=True)
        entry = self.kind.add(by=request_user(request), patient=patient, **data.validated_data)
        return Response(self.kind.output(entry).data, status=status.HTTP_201_CREATED)


class RecordDetailApi(BaseApi):
    # Read and change one entry of a patient's record.

    kind: ClassVar[RecordKind]

    def get(self, request: Request, public_id: uuid.UUID, entry_id: uuid.UUID) -> Response:
        patient = request_patient(request, public_id)
        entry = record_entry_get(patient=patient, model=self.kind.model, public_id=entry_id)
        audit_read(request, patient=patient, view=self.kind.name, entry=str(entry.public_id))
        return Response(self.kind.output(entry).data)

    def patch(self, request: Request, public_id: uuid.UUID, entry_id: uuid.UUID) -> Response:
        patient = request_patient(request, public_id, for_change=True)
        entry = record_entry_get(patient=patient, model=self.kind.model, public_id=entry_id)
        data = self.kind.patch_in(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        entry = record_entry_update(by=request_user(request), entry=entry, **data.validated_data)
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
