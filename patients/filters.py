"""Query-string filters of the API lists (django-filter). Unknown parameters are ignored; a known
parameter with a bad value (a date that does not exist, a non-UUID team) is a 400.

Demographic PHI is encrypted: `mrn` and `name` match exactly through the blind indexes
(`patient_search_exact`) and `sex` decrypts the rows already narrowed by the other filters.
"""

import datetime as dt
from typing import Any, cast

import django_filters as filters
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError

from accounts.models import User
from patients.models import Observation, Patient, Sex
from patients.selectors import patient_search_exact, patients_of_sex


class UTCDateTimeFilter(filters.DateTimeFilter):
    """A DateTimeFilter whose value is taken to UTC first: an ISO offset such as +16:42 parses
    in Python but PostgreSQL refuses it (a 500); in UTC the same instant is always accepted."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            try:
                value = value.astimezone(dt.UTC)
            except OverflowError:  # the year 9999 plus an offset leaves datetime's range
                raise ValidationError(
                    {self.field_name: ["This date and time is out of range."]}
                ) from None
        return super().filter(qs, value)


class PatientFilter(filters.FilterSet):
    # Declared in the order they apply: `sex`, which decrypts, runs last on the fewest rows.
    is_synthetic = filters.BooleanFilter(help_text="Only generated demo patients (or only real).")
    care_team = filters.UUIDFilter(
        field_name="care_teams__public_id", help_text="Public id of a care team."
    )
    created_after = UTCDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Registered at or after (ISO 8601)."
    )
    created_before = UTCDateTimeFilter(
        field_name="created_at", lookup_expr="lte", help_text="Registered at or before (ISO 8601)."
    )
    mrn = filters.CharFilter(
        method="filter_mrn", max_length=40, help_text="Exact MRN (case and spacing ignored)."
    )
    name = filters.CharFilter(
        method="filter_name",
        max_length=201,
        help_text='Exact full name ("given family") or family name (case and accents ignored).',
    )
    sex = filters.ChoiceFilter(choices=Sex.choices, method="filter_sex")

    class Meta:
        model = Patient
        fields: list[str] = []

    def _user(self) -> User:
        return cast(User, self.request.user)

    def filter_mrn(self, queryset: QuerySet[Patient], name: str, value: str) -> QuerySet[Patient]:
        found = patient_search_exact(user=self._user(), mrn=value)
        return queryset.filter(pk__in=found.values("pk"))

    def filter_name(self, queryset: QuerySet[Patient], name: str, value: str) -> QuerySet[Patient]:
        found = patient_search_exact(user=self._user(), name=value)
        return queryset.filter(pk__in=found.values("pk"))

    def filter_sex(self, queryset: QuerySet[Patient], name: str, value: str) -> QuerySet[Patient]:
        return patients_of_sex(patients=queryset, sex=value)


class ObservationFilter(filters.FilterSet):
    code = filters.CharFilter(max_length=20, help_text="LOINC code, e.g. 8480-6.")
    effective_after = UTCDateTimeFilter(
        field_name="effective_at", lookup_expr="gte", help_text="Taken at or after (ISO 8601)."
    )
    effective_before = UTCDateTimeFilter(
        field_name="effective_at", lookup_expr="lte", help_text="Taken at or before (ISO 8601)."
    )

    class Meta:
        model = Observation
        fields: list[str] = []
