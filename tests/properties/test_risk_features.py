"""Properties of the risk feature check: whatever a client, a form or a caller hands it (any
number, NaN, infinities, integers beyond float range, Decimals, numeric or other text, wrong
types), `feature_value_check` returns a finite value of the feature's kind inside its range or
raises ValueError naming the feature; `_inputs` returns valid features or a ValidationError keyed
by feature. Nothing else escapes (an OverflowError did, for an int like 10**400)."""

import math
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from prediction.features import FeatureValue
from prediction.ml.diseases import DISEASES, FeatureSpec
from prediction.services import _inputs, feature_value_check

SPECS: list[FeatureSpec] = [spec for disease in DISEASES.values() for spec in disease.features]

numeric_text = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**400), max_value=10**400).map(str),
    st.sampled_from(
        [
            "nan",
            " NaN ",
            "inf",
            "-Infinity",
            "1e309",
            "-1e309",
            "1_000",
            "0x1F",
            "1,5",
            "",
            "  ",
            "yes",
            "No",
            "TRUE",
            "\x00",
            "1\x00",
            "٣",
            "\uff11\uff12",  # fullwidth digits
            "1e-400",
            "9" * 5000,
        ]
    ),
)
raw_values = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("sNaN"), Decimal("-sNaN"), Decimal("1e400"), 10**400, -(10**400)]),
    numeric_text,
    st.text(max_size=50),
    st.binary(max_size=10),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def assert_valid(spec: FeatureSpec, value: float) -> None:
    assert isinstance(value, float) and math.isfinite(value)
    assert spec.low <= value <= spec.high
    if spec.kind == "binary":
        assert value in (0.0, 1.0)
    if spec.kind == "integer":
        assert value.is_integer()


@settings(max_examples=400, deadline=None)
@given(spec=st.sampled_from(SPECS), raw=raw_values)
def test_any_value_is_a_valid_feature_or_a_value_error_naming_it(spec, raw):
    try:
        value = feature_value_check(spec, raw)
    except ValueError as error:
        assert str(error).startswith(spec.label), str(error)
        assert "Traceback" not in str(error)
        return
    assert_valid(spec, value)


@settings(max_examples=200, deadline=None)
@given(spec=st.sampled_from(SPECS), x=st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_is_accepted_exactly_when_it_is_a_finite_value_in_range(spec, x):
    in_range = math.isfinite(x) and spec.low <= x <= spec.high
    if spec.kind == "binary":
        in_range = x in (0.0, 1.0)
    if spec.kind == "integer":
        in_range = in_range and x.is_integer()
    if in_range:
        assert feature_value_check(spec, x) == x
        assert feature_value_check(spec, repr(x)) == x  # the same number typed as text
    else:
        with pytest.raises(ValueError):
            feature_value_check(spec, x)


@pytest.mark.parametrize("raw", [10**400, -(10**400), Decimal("sNaN"), Decimal("-1e400")])
def test_numbers_beyond_float_range_are_refused_as_not_finite(raw):
    spec = next(s for s in SPECS if s.kind == "numeric")
    with pytest.raises(ValueError, match="must be a finite number"):
        feature_value_check(spec, raw)


record_values = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), disease=st.sampled_from(sorted(DISEASES)))
def test_inputs_are_all_valid_or_a_validation_error_keyed_by_feature(data, disease):
    specs = DISEASES[disease].features
    values = [
        FeatureValue(spec, data.draw(record_values), "record", None, data.draw(st.booleans()))
        for spec in specs
    ]
    names = st.one_of(st.sampled_from([spec.name for spec in specs]), st.text(max_size=10))
    overrides = data.draw(st.dictionaries(names, raw_values, max_size=len(specs)))
    try:
        final, inputs = _inputs(values, overrides)
    except ValidationError as error:
        keys = set(error.message_dict)
        assert keys <= {spec.name for spec in specs} | {str(name) for name in overrides}
        assert all(messages for messages in error.message_dict.values())
        return
    assert set(final) == {spec.name for spec in specs} == set(inputs)
    for spec in specs:
        assert_valid(spec, final[spec.name])
        assert inputs[spec.name]["value"] == final[spec.name]
