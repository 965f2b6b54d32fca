"""The curves training records for the model-quality dashboard: ROC points, calibration bins and
confusion counts, checked on synthetic arrays against scikit-learn and their definitions; and,
with real training (slow), that the manifest carries them reproducibly."""

import json

import numpy as np
import pytest
from sklearn.metrics import auc, roc_curve

from prediction.ml import metrics as m
from prediction.ml.training import ROC_POINTS, _curves, train_disease


@pytest.fixture
def scored():
    rng = np.random.default_rng(4)
    y = rng.random(2000) < 0.3
    prob = np.clip(np.round(rng.normal(0.3 + 0.3 * y, 0.15), 3), 0, 1)  # ties included
    return prob, y


def test_roc_points_lie_on_scikit_learns_curve(scored):
    prob, y = scored
    points = m.roc_points(prob, y, max_points=10_000)
    fpr, tpr, thresholds = roc_curve(y, prob, drop_intermediate=False)
    assert [p["fpr"] for p in points] == pytest.approx(list(fpr))
    assert [p["tpr"] for p in points] == pytest.approx(list(tpr))
    assert points[0]["threshold"] is None
    assert [p["threshold"] for p in points[1:]] == pytest.approx(list(thresholds[1:]))
    area = auc([p["fpr"] for p in points], [p["tpr"] for p in points])
    assert area == pytest.approx(m.auroc(prob, y), abs=1e-12)


def test_roc_points_are_thinned_keeping_both_ends_and_the_shape(scored):
    prob, y = scored
    full = m.roc_points(prob, y, max_points=10_000)
    thin = m.roc_points(prob, y, max_points=60)
    assert len(full) > 60 and 30 <= len(thin) <= 60
    assert thin[0] == full[0] and thin[-1] == full[-1]
    assert all(p in full for p in thin)
    fprs = [p["fpr"] for p in thin]
    assert fprs == sorted(fprs)
    area = auc(fprs, [p["tpr"] for p in thin])
    assert area == pytest.approx(m.auroc(prob, y), abs=0.01)


def test_roc_points_need_both_classes():
    assert m.roc_points(np.array([0.2, 0.4]), np.array([1, 1])) == []


def test_calibration_bins_count_every_prediction_once(scored):
    prob, y = scored
    bins = m.calibration_bins(prob, y)
    assert len(bins) == 10 and sum(b["n"] for b in bins) == len(prob)
    for b in bins:
        inside = (prob >= b["lower"]) & ((prob < b["upper"]) | (b["upper"] == 1.0))
        assert b["n"] == inside.sum()
        if b["n"]:
            assert b["observed"] == pytest.approx(y[inside].mean())
            assert b["mean_predicted"] == pytest.approx(prob[inside].mean())
        else:
            assert b["observed"] is None and b["mean_predicted"] is None
    kept = m.calibration_bins(np.array([0.05, 0.07, 0.95]), np.array([0, 1, 1]), keep_empty=False)
    assert [(b["lower"], b["n"]) for b in kept] == [(0.0, 2), (0.9, 1)]


def test_confusion_counts_agree_with_threshold_metrics(scored):
    prob, y = scored
    counts = m.confusion_counts(prob, y, 0.4)
    figures = m.threshold_metrics(prob, y, 0.4)
    assert sum(counts.values()) == len(y)
    assert counts["tp"] / (counts["tp"] + counts["fn"]) == pytest.approx(figures["sensitivity"])
    assert counts["tn"] / (counts["tn"] + counts["fp"]) == pytest.approx(figures["specificity"])


def test_psi_from_counts_equals_psi_from_values():
    rng = np.random.default_rng(2)
    reference = m.reference_distribution(rng.normal(0, 1, 3000))
    values = rng.normal(0.4, 1.2, 500)
    cuts = np.asarray(reference["edges"][1:-1])
    counts = np.bincount(np.searchsorted(cuts, values, side="right"), minlength=len(cuts) + 1)
    assert m.psi_from_counts(reference, counts) == pytest.approx(
        m.population_stability_index(reference, values)
    )
    with pytest.raises(ValueError):
        m.psi_from_counts(reference, np.zeros(len(cuts) + 1))


def test_training_curves_pool_repeats_and_average_the_confusion():
    rng = np.random.default_rng(9)
    y = (rng.random(400) < 0.4).astype(int)
    prob = np.clip(rng.normal(0.3 + 0.3 * y, 0.2, size=(3, 400)), 0, 1)
    curves = _curves(prob, y, 0.35)
    assert 2 < len(curves["roc"]) <= ROC_POINTS
    assert len(curves["calibration"]) == 10
    assert sum(b["n"] for b in curves["calibration"]) == pytest.approx(400, abs=5)
    per_repeat = [m.confusion_counts(row, y, 0.35) for row in prob]
    for key in ("tp", "fp", "fn", "tn"):
        assert curves["confusion"][key] == round(np.mean([c[key] for c in per_repeat]))
    assert curves["confusion"]["threshold"] == 0.35
    assert "averaged over the 3 CV repeats" in curves["confusion_note"]
    json.dumps(curves, allow_nan=False)  # strict JSON for the manifest


@pytest.mark.slow
def test_a_trained_manifest_records_its_curves_reproducibly():
    first = train_disease("diabetes")
    manifest = first.manifest
    curves = manifest["curves"]
    assert 2 < len(curves["roc"]) <= ROC_POINTS
    assert curves["roc"][0] == {"fpr": 0.0, "tpr": 0.0, "threshold": None}
    assert curves["roc"][-1]["fpr"] == 1.0 and curves["roc"][-1]["tpr"] == 1.0
    assert [b["lower"] for b in curves["calibration"]] == pytest.approx([i / 10 for i in range(10)])
    rows = manifest["dataset"]["rows"]
    confusion = curves["confusion"]
    assert confusion["threshold"] == manifest["metrics"]["threshold"]
    assert abs(sum(confusion[k] for k in ("tp", "fp", "fn", "tn")) - rows) <= 2
    sensitivity = confusion["tp"] / (confusion["tp"] + confusion["fn"])
    assert sensitivity == pytest.approx(manifest["metrics"]["sensitivity"], abs=0.01)
    again = train_disease("diabetes")
    assert again.manifest["curves"] == curves and again.version == first.version
    assert again.model_bytes == first.model_bytes
