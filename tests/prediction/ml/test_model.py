"""Loaded models: exact explanations, refused inputs, risk bands."""

import math

import numpy as np
import pytest

from prediction.ml.datasets import dataset_load
from prediction.ml.diseases import DISEASES
from prediction.ml.model import Prediction, load_risk_model, risk_band

pytestmark = pytest.mark.slow


def _rows(key: str, count: int = 12) -> list[dict[str, float]]:
    """`count` patients of the training data spread over it, among those whose every value lies
    in the features' accepted ranges (WHAS500 holds a few diastolic pressures below 20 mmHg)."""
    data = dataset_load(key)
    inside = np.ones(len(data.y), dtype=bool)
    for spec in DISEASES[key].features:
        inside &= data.X[spec.name].between(spec.low, spec.high).to_numpy()
    rows = np.flatnonzero(inside)
    picks = rows[np.linspace(0, len(rows) - 1, count).astype(int)]
    return [dict(data.X.iloc[i]) for i in picks]


def _assert_exact(prediction: Prediction) -> None:
    total = prediction.base + sum(prediction.contributions.values())
    assert total + prediction.calibration_adjustment == pytest.approx(prediction.output, abs=1e-9)
    if prediction.space == "log-odds":
        # output is the exact logit; the probability is its sigmoid (recomputing the logit from
        # a probability near 0 or 1 loses digits, so compare in that direction).
        assert 1 / (1 + math.exp(-prediction.output)) == pytest.approx(
            prediction.probability, rel=1e-12, abs=1e-15
        )
        assert prediction.calibration_adjustment == pytest.approx(0.0, abs=1e-9)
    else:
        assert prediction.space == "probability"
        assert prediction.output == prediction.probability


@pytest.mark.parametrize("key", list(DISEASES))
def test_contributions_add_up_to_the_output(saved, key):
    model = load_risk_model(saved[key])
    for row in _rows(key):
        prediction = model.predict(row)
        _assert_exact(prediction)
        assert list(prediction.contributions) == model.feature_names
        raw = model.predict_proba_raw(np.array([[row[n] for n in model.feature_names]]))
        assert raw[0] == pytest.approx(prediction.probability, abs=1e-12)


@pytest.mark.parametrize("algorithm", ["decision_tree", "gradient_boosting", "random_forest"])
def test_tree_models_are_explained_exactly_by_treeshap(saved_trees, algorithm):
    model = load_risk_model(saved_trees[algorithm])
    assert model.manifest["algorithm"] == algorithm
    assert model.manifest["explanation"]["method"] == "TreeSHAP"
    for row in _rows("heart_disease"):
        prediction = model.predict(row)
        _assert_exact(prediction)
    space = "log-odds" if algorithm == "gradient_boosting" else "probability"
    assert prediction.space == space


def test_logistic_contributions_are_coefficient_times_deviation(saved):
    model = load_risk_model(saved["mi_mortality"])
    assert model.manifest["algorithm"] == "logistic_regression"
    row = _rows("mi_mortality", 1)[0]
    older = dict(row, age=row["age"] + 10)
    first, second = model.predict(row), model.predict(older)
    # Only age's term moves, and by a fixed slope: the other contributions are untouched.
    for name in model.feature_names:
        if name != "age":
            assert first.contributions[name] == second.contributions[name]
    assert second.contributions["age"] > first.contributions["age"]
    assert first.base == second.base


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), -float("inf"), "abc"])
def test_predict_refuses_missing_and_non_finite_values_by_name(saved, bad):
    model = load_risk_model(saved["diabetes"])
    row = _rows("diabetes", 1)[0]
    row["bmi"] = bad
    with pytest.raises(ValueError, match="bmi"):
        model.predict(row)


def test_predict_refuses_an_absent_feature_by_name(saved):
    model = load_risk_model(saved["diabetes"])
    row = _rows("diabetes", 1)[0]
    del row["glucose_2h"]
    with pytest.raises(ValueError, match=r"glucose_2h .*a value is required"):
        model.predict(row)


@pytest.mark.parametrize(
    ("key", "name", "value", "message"),
    [
        ("diabetes", "glucose_2h", 5000.0, "outside the accepted range"),
        ("heart_disease", "exercise_angina", 0.5, "must be 0"),
        ("heart_disease", "major_vessels_fluoroscopy", 1.5, "whole number"),
    ],
)
def test_predict_refuses_out_of_range_and_ill_typed_values(saved, key, name, value, message):
    model = load_risk_model(saved[key])
    row = _rows(key, 1)[0] | {name: value}
    with pytest.raises(ValueError, match=message) as error:
        model.predict(row)
    assert name in str(error.value)


def test_extra_values_are_ignored(saved):
    model = load_risk_model(saved["diabetes"])
    row = _rows("diabetes", 1)[0]
    assert model.predict(row | {"unrelated": 1.0}) == model.predict(row)


def test_risk_bands_follow_the_manifest(saved):
    manifest = load_risk_model(saved["diabetes"]).manifest
    moderate, high = manifest["bands"]["moderate"], manifest["bands"]["high"]
    assert risk_band(0.0, manifest) == "low"
    assert risk_band(moderate - 1e-9, manifest) == "low"
    assert risk_band(moderate, manifest) == "moderate"
    assert risk_band(high - 1e-9, manifest) == "moderate"
    assert risk_band(high, manifest) == "high"
    assert risk_band(1.0, manifest) == "high"
