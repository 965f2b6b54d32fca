"""The treatment-benefit model's numeric core (recommendations.ml.benefit) on the real GBSG2
cohort: reproducible artifacts, sensible estimates, honest validation figures, refused files."""

import itertools
import json
import shutil
import statistics
import time
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
import skops.io as sio

from healthmentor.artifacts import ArtifactIntegrityError
from recommendations.ml.benefit import (
    COHORT_SIZE,
    HORIZON_DAYS,
    MODEL_FILE,
    BenefitInputs,
    OutsideCohortError,
    benefit_load,
    gbsg2_cohort,
)
from recommendations.ml.benefit_training import benefit_train
from recommendations.ml.persist import payload_load
from tests.recommendations import benefit_fixtures

# The shared fixtures (tests/recommendations/conftest.py may import them instead).
benefit_artifact_folder = benefit_fixtures.benefit_artifact_folder


# A typical GBSG2 patient (the cohort's medians).
PATIENT = BenefitInputs(
    age=53,
    postmenopausal=True,
    tumour_size_mm=25,
    grade=2,
    positive_nodes=3,
    progesterone_fmol_mg=32,
    estrogen_fmol_mg=36,
)


@pytest.fixture(scope="module")
def model(benefit_artifact_folder):
    return benefit_load(benefit_artifact_folder)


@pytest.mark.slow
def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes():
    first = benefit_train(seed=7, n_boot=20)
    second = benefit_train(seed=7, n_boot=20)
    other = benefit_train(seed=8, n_boot=20)
    assert first.payload == second.payload
    assert first.sha256 == second.sha256 and first.version == second.version
    assert other.sha256 != first.sha256
    assert first.manifest["metrics"] == second.manifest["metrics"]


def test_the_saved_artifact_matches_its_manifest(benefit_artifact_folder, model):
    import hashlib

    manifest = json.loads((benefit_artifact_folder / "manifest.json").read_text())
    data = (benefit_artifact_folder / MODEL_FILE).read_bytes()
    assert hashlib.sha256(data).hexdigest() == manifest["sha256"]
    assert model.version == manifest["version"] == benefit_artifact_folder.name
    assert model.boot_coef.shape == (manifest["n_bootstrap"], len(manifest["terms"]))


def test_hormonal_therapy_changes_the_estimate_and_the_intervals_hold_it(model):
    benefit = model.estimate(PATIENT)
    assert benefit.horizon_days == HORIZON_DAYS and benefit.horizon_years == 5
    assert benefit.rfs_with != pytest.approx(benefit.rfs_without, abs=1e-3)
    assert benefit.difference == pytest.approx(benefit.rfs_with - benefit.rfs_without)
    for point, (low, high) in [
        (benefit.rfs_with, benefit.ci_with),
        (benefit.rfs_without, benefit.ci_without),
        (benefit.difference, benefit.ci_difference),
    ]:
        assert low <= point <= high
        assert high - low > 0
    assert benefit.ci_with[0] > 0 and benefit.ci_with[1] < 1


def test_more_positive_nodes_mean_lower_recurrence_free_survival(model):
    estimates = [model.estimate(replace(PATIENT, positive_nodes=nodes)) for nodes in (1, 3, 10, 25)]
    for fewer, more in itertools.pairwise(estimates):
        assert more.rfs_with < fewer.rfs_with
        assert more.rfs_without < fewer.rfs_without


def test_an_estimate_is_deterministic_and_fast(model):
    assert model.estimate(PATIENT) == model.estimate(PATIENT)
    timings = []
    for _ in range(200):
        started = time.perf_counter()
        model.estimate(PATIENT)
        timings.append(time.perf_counter() - started)
    assert statistics.median(timings) < 0.005


@pytest.mark.parametrize(
    "change",
    [
        {"positive_nodes": 0},  # GBSG2 enrolled node-positive patients only
        {"age": 85},
        {"tumour_size_mm": 150},
        {"grade": 4},
        {"estrogen_fmol_mg": float("nan")},
    ],
)
def test_a_patient_outside_the_trial_cohort_gets_no_estimate(model, change):
    with pytest.raises(OutsideCohortError):
        model.estimate(replace(PATIENT, **change))


def test_the_manifest_holds_honest_validation_figures(model):
    manifest = model.manifest
    metrics = manifest["metrics"]
    assert metrics["n_patients"] == COHORT_SIZE == 686
    assert metrics["n_events"] == 299 and metrics["n_treated"] == 246
    assert "cross-validation" in metrics["validation"]
    # Measured out of fold: 0.691 (Harrell) and 0.677 (Uno) with the default seed.
    assert 0.6 < metrics["c_index_harrell"] < 0.8
    assert 0.6 < metrics["c_index_uno"] < 0.8
    assert metrics["c_index_harrell"] <= metrics["c_index_apparent"]
    assert set(metrics["time_dependent_auc"]) == {"1y", "3y", "5y"}
    assert all(0.6 < auc < 0.9 for auc in metrics["time_dependent_auc"].values())
    calibration = metrics["calibration_5y"]
    assert len(calibration["groups"]) == 5
    assert sum(g["n"] for g in calibration["groups"]) == 686
    predicted = [g["predicted_rfs"] for g in calibration["groups"]]
    assert predicted == sorted(predicted, reverse=True)  # quintiles of rising risk
    for group in calibration["groups"]:
        low, high = group["observed_ci"]
        assert 0 <= low <= group["observed_rfs"] <= high <= 1
    assert 0.6 < calibration["slope"] < 1.4
    assert calibration["mean_absolute_difference"] < 0.1
    assert abs(calibration["predicted_rfs_mean"] - calibration["observed_rfs_km"]) < 0.05
    assert metrics["effects"]["hormonal_therapy"]["hazard_ratio"] < 1


def test_the_card_names_the_trial_its_use_and_its_limits(model):
    manifest = model.manifest
    assert "J Clin Oncol 1994;12(10):2086-2093" in manifest["dataset"]["reference"]
    assert "load_gbsg2" in manifest["dataset"]["data_source"]
    assert manifest["dataset"]["patients"] == 686
    assert "patients like this one" in manifest["intended_use"].lower()
    limits = " ".join(manifest["limits"])
    for words in ("1984-1989", "tamoxifen", "Node-positive", "randomized", "HER2", "fmol/mg"):
        assert words in limits
    assert manifest["cohort_label"] == "GBSG2 trial, 686 patients"


def test_the_cohort_is_the_real_gbsg2():
    cohort = gbsg2_cohort()
    assert len(cohort) == 686
    assert cohort.positive_nodes.min() >= 1
    assert int(cohort.treated.sum()) == 246
    assert cohort.time.max() == 2659


def test_a_tampered_model_file_is_refused(benefit_artifact_folder, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(benefit_artifact_folder, folder)
    data = bytearray((folder / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match="failed its integrity check"):
        benefit_load(folder)


def test_a_model_file_naming_an_untrusted_type_is_refused(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(sio.dumps({"coef": np.zeros(3), "trap": Fraction(1, 3)}))
    with pytest.raises(ArtifactIntegrityError, match=r"fractions\.Fraction"):
        payload_load(path)
