"""Properties of the API's input serializers (patients and every kind of record entry): any JSON
object, with the fields' own names and others, with values of every type and well-formed ones,
is either valid or a ValidationError keyed by field; never another exception. What is valid
respects the field's limits: no NUL, lengths within max_length, finite numbers inside their
bounds, known choices. Then the same through HTTP: 201 or 400, and a 400 stores nothing."""

import datetime as dt
import json
import math
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.test import APIClient

from patients.apis.patients import PatientIn
from patients.apis.records import RECORD_KINDS, ObservationChangeIn, ObservationIn
from patients.models import Observation, Patient

INPUTS: list[type[serializers.Serializer]] = list(
    dict.fromkeys(
        [PatientIn, ObservationChangeIn, *(kind.create_in for kind in RECORD_KINDS.values())]
    )
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["\x00", "a\x00b", "NaN", "1e309", "-Infinity", "2023-02-30", "x" * 5000]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def well_formed(field: serializers.Field) -> st.SearchStrategy[Any]:
    """Values of the field's own type, inside and just outside its limits."""
    if isinstance(field, serializers.ChoiceField):
        return st.sampled_from([*field.choices, "not-a-choice"])
    if isinstance(field, serializers.EmailField):
        return st.emails()
    if isinstance(field, serializers.CharField):
        limit = field.max_length or 200
        inside = st.text(st.characters(categories=["L", "N", "P"]), min_size=1, max_size=40)
        edge = st.text(min_size=max(0, limit - 2), max_size=limit + 3)  # across the limit
        return st.one_of(inside, inside, inside, st.text(max_size=30), edge)
    if isinstance(field, serializers.DateTimeField):
        return st.datetimes(timezones=st.just(dt.UTC)).map(lambda d: d.isoformat())
    if isinstance(field, serializers.DateField):
        return st.dates().map(lambda d: d.isoformat())
    if isinstance(field, serializers.DecimalField):
        return st.decimals(allow_nan=True, allow_infinity=True).map(str) | st.decimals(
            min_value=-1000, max_value=10000, places=2
        ).map(str)
    if isinstance(field, serializers.IntegerField):
        return st.integers(min_value=-(10**12), max_value=10**12)
    if isinstance(field, serializers.FloatField):
        return st.floats(allow_nan=True, allow_infinity=True) | st.floats(-1e4, 1e4)
    if isinstance(field, serializers.UUIDField):
        return st.uuids().map(str)
    if isinstance(field, serializers.ListField):
        return st.lists(st.uuids().map(str), max_size=3)
    return json_scalars


@st.composite
def bodies(draw: st.DrawFn, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    fields = serializer_class().fields
    body: dict[str, Any] = {}
    for name, field in fields.items():
        # Mid-range picks: hypothesis favours the bounds of an integer range.
        choice = draw(st.integers(0, 19))
        if choice == 7:
            continue  # missing
        body[name] = draw(json_values if choice == 13 else well_formed(field))
    if draw(st.integers(0, 3)) == 2:
        body.update(draw(st.dictionaries(st.text(max_size=8), json_scalars, max_size=2)))
    return body


def assert_within_limits(serializer: serializers.Serializer, data: dict[str, Any]) -> None:
    fields = serializer.fields
    assert set(data) <= set(fields)
    for name, value in data.items():
        field = fields[name]
        if isinstance(value, str):
            assert "\x00" not in value, name
            limit = getattr(field, "max_length", None)
            if limit:
                assert len(value) <= limit, name
        if isinstance(value, float):
            assert math.isfinite(value), name
        if isinstance(value, Decimal):
            assert value.is_finite(), name
        for bound in ("min_value", "max_value"):
            limit = getattr(field, bound, None)
            if limit is not None and isinstance(value, int | float | Decimal):
                assert (value >= limit) if bound == "min_value" else (value <= limit), name
        if isinstance(field, serializers.ChoiceField):
            assert value in field.choices, name


@pytest.mark.parametrize("serializer_class", INPUTS, ids=lambda c: c.__name__)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_body_is_valid_within_limits_or_a_validation_error_by_field(serializer_class, data):
    body = data.draw(bodies(serializer_class))
    serializer = serializer_class(data=body)
    valid = serializer.is_valid()
    event("valid" if valid else "invalid")
    if valid:
        assert_within_limits(serializer, serializer.validated_data)
    else:
        assert isinstance(serializer.errors, dict) and serializer.errors
        for messages in serializer.errors.values():
            assert messages


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), json_values))
def test_an_observation_value_is_kept_exactly_when_it_is_a_finite_number(value):
    body = {"code": "8480-6", "unit": "mm[Hg]", "effective_at": "2024-01-01T10:00:00Z"}
    serializer = ObservationIn(data={**body, "value": value})
    finite = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
    if isinstance(value, str):
        try:
            finite = math.isfinite(float(value))
        except ValueError:
            finite = False
    assert serializer.is_valid() == finite, (value, serializer.errors)


# --- through HTTP ------------------------------------------------------------------------------


# The client and the database stay the same across examples: each example checks its own delta.
http_settings = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def api(db, clinician) -> APIClient:
    client = APIClient()
    client.force_authenticate(clinician)
    return client


@pytest.mark.django_db
@http_settings
@given(data=st.data())
def test_observation_posts_are_a_201_or_a_400_that_stores_nothing(api, patient, data):
    body = data.draw(bodies(ObservationIn))
    before = Observation.objects.count()
    response = api.generic(
        "POST",
        f"/api/v1/patients/{patient.public_id}/observations/",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code in (201, 400), (response.status_code, body)
    assert Observation.objects.count() == before + (response.status_code == 201)


@pytest.mark.django_db
@http_settings
@given(data=st.data())
def test_patient_posts_are_a_201_or_a_400_that_stores_nothing(api, team, data):
    body = data.draw(bodies(PatientIn))
    if data.draw(st.booleans()):
        body["care_teams"] = [str(team.public_id)]
    body["mrn"] = body.get("mrn") if data.draw(st.booleans()) else uuid.uuid4().hex[:20]
    before = Patient.objects.count()
    response = api.generic(
        "POST", "/api/v1/patients/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code in (201, 400, 409), (response.status_code, body)
    assert Patient.objects.count() == before + (response.status_code == 201)
