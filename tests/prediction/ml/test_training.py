"""Training on the real datasets: reproducible, documented per the contract, honest about its
baseline."""

import json

import numpy as np
import pytest

from prediction.ml.diseases import DISEASES
from prediction.ml.training import save_trained, train_disease

pytestmark = pytest.mark.slow

METRIC_KEYS = {
    "auroc",
    "auroc_ci",
    "auprc",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "brier",
    "calibration_slope",
    "calibration_intercept",
    "threshold",
    "threshold_rule",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "alert_rate",
    "prevalence",
}
MANIFEST_KEYS = {
    "disease",
    "title",
    "outcome",
    "version",
    "algorithm",
    "created",
    "model_file",
    "sha256",
    "synthetic",
    "intended_use",
    "caveats",
    "dataset",
    "features",
    "metrics",
    "subgroups",
    "comparison",
    "baseline",
    "published",
    "bands",
    "reference",
}


def test_training_is_reproducible_with_the_same_seed(trained):
    again = train_disease("diabetes")
    first = trained["diabetes"]
    assert again.version == first.version
    assert again.manifest["metrics"] == first.manifest["metrics"]
    assert again.manifest["comparison"] == first.manifest["comparison"]
    # skops output is made canonical, so even the model file is byte-identical.
    assert again.model_bytes == first.model_bytes
    assert again.sha256 == first.sha256


def test_another_seed_gives_another_version(trained):
    other = train_disease("ischemic_stroke", seed=7)
    assert other.version != trained["ischemic_stroke"].version


def test_saving_twice_keeps_the_artifact(trained, saved, model_root):
    folder = saved["diabetes"]
    before = (folder / "manifest.json").read_text()
    assert save_trained(trained["diabetes"], model_root) == folder
    assert (folder / "manifest.json").read_text() == before
    assert folder == model_root / "diabetes" / trained["diabetes"].version


@pytest.mark.parametrize("key", list(DISEASES))
def test_manifest_follows_the_contract(trained, saved, key):
    manifest = json.loads((saved[key] / "manifest.json").read_text())
    spec = DISEASES[key]
    assert set(manifest) >= MANIFEST_KEYS
    assert set(manifest["metrics"]) >= METRIC_KEYS
    assert manifest["synthetic"] is False
    assert manifest["model_file"] == "model.skops"
    assert manifest["version"] == trained[key].version
    assert [f["name"] for f in manifest["features"]] == spec.feature_names
    assert set(manifest["reference"]) == set(spec.feature_names)
    for reference in manifest["reference"].values():
        assert len(reference["edges"]) == len(reference["proportions"]) + 1
        assert sum(reference["proportions"]) == pytest.approx(1.0, abs=1e-4)
    dataset = manifest["dataset"]
    assert {"name", "package", "package_version", "loader", "licence", "citation"} <= set(dataset)
    assert dataset["rows"] > dataset["positives"] > 0
    low, high = manifest["metrics"]["auroc_ci"]
    assert low <= manifest["metrics"]["auroc"] <= high
    assert 0 < manifest["bands"]["moderate"] < manifest["bands"]["high"] < 1
    assert manifest["bands"]["high"] == manifest["metrics"]["threshold"]
    assert manifest["metrics"]["sensitivity"] >= spec.target_sensitivity
    assert {row["algorithm"] for row in manifest["comparison"]} == {
        "logistic_regression",
        "decision_tree",
        "gradient_boosting",
        "random_forest",
    }
    assert sum(row["chosen"] for row in manifest["comparison"]) == 1
    for caveat in spec.caveats:
        assert caveat in manifest["caveats"]
    for row in manifest["subgroups"]:
        assert row["group"] in {"sex", "age_band"}
        if min(row["positives"], row["n"] - row["positives"]) < 10:
            assert row["auroc"] is None and row["note"]
        else:
            assert 0 <= row["auroc"] <= 1


def test_the_known_dataset_sizes_are_on_the_cards(trained):
    sizes = {
        key: (t.manifest["dataset"]["rows"], t.manifest["dataset"]["positives"])
        for key, t in trained.items()
    }
    assert sizes == {
        "diabetes": (532, 177),
        "breast_cancer": (569, 212),
        "heart_disease": (303, 83),
        "mi_mortality": (500, 138),  # deaths within a year; 215 over the whole follow-up
        "ischemic_stroke": (126, 64),
    }


@pytest.mark.parametrize("key", list(DISEASES))
def test_each_model_beats_its_baseline_or_says_it_does_not(trained, key):
    manifest = trained[key].manifest
    auroc, baseline = manifest["metrics"]["auroc"], manifest["baseline"]
    assert baseline["feature"] in DISEASES[key].feature_names
    low, high = baseline["auroc_ci"]
    assert low <= baseline["auroc"] <= high
    if baseline["beats_baseline"]:
        assert auroc > baseline["auroc"]
    else:
        assert any("does not beat its simple baseline" in c for c in manifest["caveats"])
    if baseline["difference_ci"][0] <= 0:  # not clearly better: the card must say so
        assert any(
            "within the uncertainty" in c or "does not beat" in c for c in manifest["caveats"]
        )


def test_every_model_beats_its_baseline_today(trained):
    """The state of the five real models; if a retrained one stops beating its baseline, its card
    says so (test above) and this list is what to update, knowingly."""
    beaten = {key: t.manifest["baseline"]["beats_baseline"] for key, t in trained.items()}
    assert beaten == dict.fromkeys(DISEASES, True)


def test_the_tiny_stroke_cohort_is_flagged_as_uncertain(trained):
    caveats = " ".join(trained["ischemic_stroke"].manifest["caveats"])
    assert "126 patients" in caveats
    assert "within the uncertainty" in caveats  # its gain over wall thickness alone
    heart = " ".join(trained["heart_disease"].manifest["caveats"])
    assert "TensorFlow" in heart and "num" in heart


def test_progress_reports_each_step():
    steps: list[str] = []
    train_disease("ischemic_stroke", progress=steps.append, algorithms=["logistic_regression"])
    assert [step.split("]")[0] for step in steps] == [
        f"ischemic_stroke [{n}/7" for n in range(1, 8)
    ]
    assert "cross-validating logistic_regression" in steps[1]


def test_unknown_algorithm_is_refused():
    with pytest.raises(ValueError, match="Unknown algorithms"):
        train_disease("diabetes", algorithms=["svm"])


def test_out_of_fold_figures_are_consistent(trained):
    metrics = trained["heart_disease"].manifest["metrics"]
    assert metrics["recall"] == metrics["sensitivity"]
    assert metrics["precision"] == metrics["ppv"]
    expected_f1 = (
        2 * metrics["ppv"] * metrics["sensitivity"] / (metrics["ppv"] + metrics["sensitivity"])
    )
    assert metrics["f1"] == pytest.approx(expected_f1, abs=1e-3)
    assert 0.5 < metrics["calibration_slope"] < 1.5
    assert abs(metrics["calibration_intercept"]) < 0.5
    assert np.isclose(metrics["prevalence"], 83 / 303, atol=1e-4)
