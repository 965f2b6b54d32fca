"""Live monitoring of a model version: discrimination and calibration over recorded outcomes,
overall and per subgroup, and input drift (population stability index) against training."""

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone
from sklearn.metrics import brier_score_loss, roc_auc_score

from prediction.ml.metrics import age_band, reference_distribution
from prediction.models import ModelVersion, RiskAssessment
from prediction.selectors import MIN_OUTCOMES, PSI_EPSILON, input_drift, live_performance
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(db):
    """A registered version as the monitoring sees it (no artifact is read)."""
    rng = np.random.default_rng(7)
    return ModelVersion.objects.create(
        disease="diabetes",
        version="monitoring-test",
        algorithm="logistic_regression",
        artifact_dir="diabetes/monitoring-test",
        sha256="0" * 64,
        manifest={
            "reference": {
                "glucose": reference_distribution(rng.normal(120, 30, 2000)),
                "bmi": reference_distribution(rng.normal(32, 6, 2000)),
            }
        },
    )


def assess(version, patient, probability, outcome="", **inputs):
    return RiskAssessment.objects.create(
        patient=patient,
        model_version=version,
        inputs={name: {"value": value} for name, value in inputs.items()},
        probability=probability,
        risk_band="low",
        contributions={},
        outcome=outcome,
        outcome_date=timezone.localdate() if outcome else None,
    )


def years_ago(years: int) -> dt.date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - dt.timedelta(days=1)


@pytest.fixture
def people(team, clinician):
    return {
        ("female", "<50"): factories.patient_make(
            team=team, sex="female", date_of_birth=years_ago(35)
        ),
        ("female", "65+"): factories.patient_make(
            team=team, sex="female", date_of_birth=years_ago(70)
        ),
        ("male", "50-64"): factories.patient_make(
            team=team, sex="male", date_of_birth=years_ago(55)
        ),
        ("male", "65+"): factories.patient_make(team=team, sex="male", date_of_birth=years_ago(80)),
    }


def test_live_performance_matches_sklearn_overall_and_per_subgroup(version, people):
    rng = np.random.default_rng(11)
    keys = list(people)
    rows = []
    for i in range(120):
        key = keys[i % len(keys)]
        p = float(rng.uniform(0.02, 0.98))
        y = int(rng.random() < p)
        rows.append((key, p, y))
        assess(version, people[key], p, "confirmed" if y else "ruled_out")
    for _ in range(5):  # no outcome yet: not counted
        assess(version, people[keys[0]], 0.5)

    result = live_performance(version=version)
    probs = np.array([p for _, p, _ in rows])
    labels = np.array([y for _, _, y in rows])
    assert result["assessments"] == 125
    assert result["n"] == 120 and result["positives"] == int(labels.sum())
    assert result["auroc"] == pytest.approx(roc_auc_score(labels, probs), abs=1e-12)
    assert result["brier"] == pytest.approx(brier_score_loss(labels, probs), abs=1e-12)
    assert result["observed_rate"] == pytest.approx(labels.mean())
    assert result["mean_predicted"] == pytest.approx(probs.mean())

    bins = result["calibration"]
    assert sum(b["n"] for b in bins) == 120
    for b in bins:
        inside = (probs >= b["lower"]) & (probs < b["upper"])
        assert b["n"] == int(inside.sum())
        assert b["observed"] == pytest.approx(labels[inside].mean())
        assert b["mean_predicted"] == pytest.approx(probs[inside].mean())

    groups = {(g["group"], g["value"]): g for g in result["subgroups"]}
    assert set(groups) == {
        ("sex", "female"),
        ("sex", "male"),
        ("age_band", "<50"),
        ("age_band", "50-64"),
        ("age_band", "65+"),
    }
    for sex in ("female", "male"):
        mask = np.array([key[0] == sex for key, _, _ in rows])
        assert groups[("sex", sex)]["n"] == int(mask.sum())
        assert groups[("sex", sex)]["auroc"] == pytest.approx(
            roc_auc_score(labels[mask], probs[mask]), abs=1e-12
        )
    old = np.array([key[1] == "65+" for key, _, _ in rows])
    assert groups[("age_band", "65+")]["auroc"] == pytest.approx(
        roc_auc_score(labels[old], probs[old]), abs=1e-12
    )


def test_age_band_is_the_age_at_the_assessment(version, team):
    patient = factories.patient_make(team=team, date_of_birth=years_ago(49))
    made = assess(version, patient, 0.3, "ruled_out")
    # Assessed two years ago, at 47: "<50", although the patient is 49 now.
    RiskAssessment.objects.filter(pk=made.pk).update(
        created_at=timezone.now() - dt.timedelta(days=730)
    )
    groups = {(g["group"], g["value"]) for g in live_performance(version=version)["subgroups"]}
    assert ("age_band", "<50") in groups
    assert age_band(49) == "<50" and age_band(50) == "50-64" and age_band(65) == "65+"


def test_too_few_outcomes_or_one_class_give_none(version, people):
    person = people[("female", "<50")]
    for _ in range(MIN_OUTCOMES - 1):
        assess(version, person, 0.4, "confirmed")
    assess(version, person, 0.4, "ruled_out")
    few = live_performance(version=version)
    assert few["n"] == MIN_OUTCOMES
    assert few["auroc"] is not None

    other = people[("male", "65+")]
    for _ in range(3):
        assess(version, other, 0.2, "ruled_out")
    result = live_performance(version=version)
    male = next(g for g in result["subgroups"] if g["value"] == "male")
    assert male["n"] == 3
    assert male["auroc"] is None and male["brier"] is None and male["calibration"] == []
    female = next(g for g in result["subgroups"] if g["value"] == "female")
    assert female["n"] == MIN_OUTCOMES


def test_a_single_class_has_a_brier_score_but_no_auroc(version, people):
    for _ in range(MIN_OUTCOMES + 2):
        assess(version, people[("male", "50-64")], 0.1, "ruled_out")
    result = live_performance(version=version)
    assert result["auroc"] is None
    assert result["brier"] == pytest.approx(0.01)


def test_no_outcomes_at_all(version, people):
    assess(version, people[("male", "50-64")], 0.1)
    result = live_performance(version=version)
    assert (result["n"], result["positives"], result["auroc"], result["brier"]) == (
        0,
        0,
        None,
        None,
    )
    assert result["calibration"] == [] and result["subgroups"] == []


def test_input_drift_floors_empty_bins_so_it_stays_finite(version, patient):
    for _ in range(20):
        assess(version, patient, 0.2, glucose=500.0)  # every value in the top bin
    reference = version.manifest["reference"]["glucose"]
    drift = input_drift(version=version)["glucose"]
    expected = [max(p, PSI_EPSILON) for p in reference["proportions"]]
    actual = [PSI_EPSILON] * (len(expected) - 1) + [1.0]
    assert drift == pytest.approx(
        sum((a - e) * np.log(a / e) for a, e in zip(actual, expected, strict=True))
    )
    assert np.isfinite(drift) and drift > 1


def test_input_drift_is_near_zero_for_the_training_distribution_and_large_when_shifted(db, patient):
    rng = np.random.default_rng(3)
    training = rng.normal(120, 30, 400)
    same = ModelVersion.objects.create(
        disease="diabetes",
        version="same",
        algorithm="lr",
        artifact_dir="x",
        sha256="0" * 64,
        manifest={"reference": {"glucose": reference_distribution(training)}},
    )
    for value in training:
        assess(same, patient, 0.2, glucose=float(value))
    assert input_drift(version=same)["glucose"] == pytest.approx(0.0, abs=1e-9)

    shifted = ModelVersion.objects.create(
        disease="diabetes",
        version="shifted",
        algorithm="lr",
        artifact_dir="x",
        sha256="0" * 64,
        manifest={"reference": {"glucose": reference_distribution(training)}},
    )
    for value in training[:100]:
        assess(shifted, patient, 0.2, glucose=float(value) + 60)
    assert input_drift(version=shifted)["glucose"] > 0.5


def test_input_drift_is_empty_without_assessments(version):
    assert input_drift(version=version) == {}


def test_input_drift_skips_features_without_values(version, patient):
    assess(version, patient, 0.2, glucose=130.0)
    drift = input_drift(version=version)
    assert set(drift) == {"glucose"}
