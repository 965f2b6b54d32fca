"""The numeric helpers agree with scikit-learn and with their definitions."""

import numpy as np
import pytest
from sklearn.calibration import _SigmoidCalibration
from sklearn.metrics import average_precision_score, roc_auc_score

from prediction.ml import metrics as m


@pytest.fixture
def scored():
    rng = np.random.default_rng(3)
    y = rng.random(400) < 0.3
    return np.round(rng.normal(size=400) + 1.2 * y, 1), y  # rounded: ties included


def test_auroc_and_average_precision_match_scikit_learn(scored):
    scores, y = scored
    assert m.auroc(scores, y) == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert m.average_precision(scores, y) == pytest.approx(
        average_precision_score(y, scores), abs=1e-12
    )


def test_platt_matches_scikit_learn_sigmoid_calibration(scored):
    scores, y = scored
    a, b = m.platt_fit(scores, y)
    reference = _SigmoidCalibration().fit(scores, y)
    assert (a, b) == pytest.approx((-reference.a_, -reference.b_), abs=1e-5)


def test_bootstrap_resamples_patients(scored):
    scores, y = scored
    oof = np.stack([scores, scores])
    interval, difference = m.bootstrap_auroc(oof, y, seed=1, n_boot=300, paired=oof)
    assert interval[0] < m.auroc(scores, y) < interval[1]
    assert difference == [0.0, 0.0]
    counts = np.random.default_rng(5).multinomial(len(y), np.full(len(y), 1 / len(y)))
    rows = np.repeat(np.arange(len(y)), counts)
    weighted = m._weighted_auroc(scores, (counts * y)[None], (counts * ~y)[None])[0]
    assert weighted == pytest.approx(roc_auc_score(y[rows], scores[rows]), abs=1e-12)


def test_threshold_reaches_the_target_sensitivity(scored):
    scores, y = scored
    prob = 1 / (1 + np.exp(-scores))
    threshold = m.threshold_for_sensitivity(prob, y, 0.8)
    figures = m.threshold_metrics(prob, y, threshold)
    assert figures["sensitivity"] >= 0.8
    assert m.threshold_metrics(prob, y, threshold + 0.01)["sensitivity"] < 0.8 + 0.05
    assert figures["alert_rate"] == pytest.approx(np.mean(prob >= threshold))


def test_calibration_of_perfectly_calibrated_predictions():
    rng = np.random.default_rng(0)
    prob = rng.uniform(0.05, 0.95, 20000)
    y = rng.random(20000) < prob
    slope, intercept = m.calibration_slope_intercept(prob, y)
    assert slope == pytest.approx(1.0, abs=0.08)
    assert intercept == pytest.approx(0.0, abs=0.05)


def test_population_stability_index():
    rng = np.random.default_rng(0)
    train = rng.normal(size=5000)
    reference = m.reference_distribution(train)
    assert len(reference["proportions"]) == 10
    assert m.population_stability_index(reference, train) == pytest.approx(0.0, abs=1e-12)
    assert m.population_stability_index(reference, rng.normal(size=5000)) < 0.02
    assert m.population_stability_index(reference, rng.normal(1.0, 1, 5000)) > 0.25
    flags = m.reference_distribution(np.array([0.0, 0.0, 0.0, 1.0]))
    assert flags == {"edges": [0.0, 0.5, 1.0], "proportions": [0.75, 0.25]}
    with pytest.raises(ValueError):
        m.population_stability_index(flags, np.array([]))


@pytest.mark.parametrize(
    ("age", "band"),
    [(21, "<50"), (49.9, "<50"), (50, "50-64"), (64, "50-64"), (65, "65+"), (101, "65+")],
)
def test_age_bands(age, band):
    assert m.age_band(age) == band
