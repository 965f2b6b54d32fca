"""Live monitoring of a model version: discrimination and calibration over recorded outcomes,
overall and per subgroup, and input drift (population stability index) against training."""

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone
from sklearn.metrics import auc, brier_score_loss, roc_auc_score, roc_curve

from prediction import selectors
from prediction.ml.metrics import age_band, population_stability_index, reference_distribution
from prediction.models import ModelVersion, RiskAssessment
from prediction.selectors import (
    MIN_OUTCOMES,
    PSI_EPSILON,
    input_drift,
    input_drift_by_period,
    live_auroc_by_version,
    live_performance,
    model_versions_monitored,
)
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


def assess(version, patient, probability, outcome="", created_at=None, **inputs):
    return RiskAssessment.objects.create(
        created_at=created_at or timezone.now(),
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
    patient = factories.patient_make(team=team, date_of_birth=years_ago(51))
    # Assessed two years ago, at 49: "<50", although the patient is 51 now.
    RiskAssessment.objects.create(
        patient=patient,
        model_version=version,
        inputs={},
        probability=0.3,
        risk_band="low",
        contributions={},
        outcome="ruled_out",
        outcome_date=timezone.localdate(),
        created_at=timezone.now() - dt.timedelta(days=730),
    )
    groups = {(g["group"], g["value"]) for g in live_performance(version=version)["subgroups"]}
    assert ("age_band", "<50") in groups and ("age_band", "50-64") not in groups
    assert age_band(49) == "<50" and age_band(50) == "50-64" and age_band(65) == "65+"


def test_subgroups_come_from_the_snapshots_without_reading_patients(
    version, people, django_assert_num_queries
):
    for person in people.values():
        for i in range(3):
            assess(version, person, 0.2 + 0.1 * i, "confirmed" if i else "ruled_out")
    # The snapshot is what counts: a record corrected later does not move past assessments.
    RiskAssessment.objects.filter(patient=people[("male", "65+")]).update(subject_sex="female")
    with django_assert_num_queries(2):  # the outcomes, and the counts: no patient row
        result = live_performance(version=version)
    groups = {(g["group"], g["value"]): g["n"] for g in result["subgroups"]}
    assert groups[("sex", "female")] == 9 and groups[("sex", "male")] == 3


def test_live_roc_and_confusion_at_the_versions_threshold(version, people):
    version.manifest = {**version.manifest, "metrics": {"threshold": 0.5}}
    version.save()
    rng = np.random.default_rng(5)
    probs, labels = [], []
    for _ in range(80):
        p = float(rng.uniform(0.01, 0.99))
        y = int(rng.random() < p)
        probs.append(p)
        labels.append(y)
        assess(version, people[("female", "<50")], p, "confirmed" if y else "ruled_out")
    result = live_performance(version=version)
    p, y = np.array(probs), np.array(labels, dtype=bool)
    assert result["threshold"] == 0.5
    assert result["confusion"] == {
        "threshold": 0.5,
        "tp": int(np.sum((p >= 0.5) & y)),
        "fp": int(np.sum((p >= 0.5) & ~y)),
        "fn": int(np.sum((p < 0.5) & y)),
        "tn": int(np.sum((p < 0.5) & ~y)),
    }
    roc = result["roc"]
    assert roc[0]["fpr"] == 0 and roc[-1] == {"fpr": 1.0, "tpr": 1.0, "threshold": min(probs)}
    assert len(roc) <= 60
    fpr, tpr = roc_curve(y, p)[:2]
    assert auc([q["fpr"] for q in roc], [q["tpr"] for q in roc]) == pytest.approx(
        auc(fpr, tpr), abs=0.02
    )


def test_no_confusion_without_a_threshold_or_enough_outcomes(version, people):
    for _ in range(MIN_OUTCOMES):
        assess(version, people[("male", "50-64")], 0.3, "confirmed")
    assert live_performance(version=version)["confusion"] is None  # no threshold recorded
    assert live_performance(version=version)["roc"] == []  # one class


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


def months_ago(months: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=31 * months)


def test_input_drift_by_month_matches_the_drift_of_each_months_assessments(
    version, patient, django_assert_max_num_queries
):
    rng = np.random.default_rng(8)
    by_month: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for months, shift in ((2, 0.0), (1, 20.0), (0, 60.0)):
        for value in rng.normal(120 + shift, 30, 40):
            by_month[months].append(float(value))
            assess(version, patient, 0.2, created_at=months_ago(months), glucose=float(value))
    with django_assert_max_num_queries(2):
        periods = input_drift_by_period(version=version)
    assert [p["period"] for p in periods] == sorted(
        timezone.localtime(months_ago(m)).strftime("%Y-%m") for m in (2, 1, 0)
    )
    assert [p["n"] for p in periods] == [40, 40, 40] and {p["every"] for p in periods} == {1}
    reference = version.manifest["reference"]["glucose"]
    for period, months in zip(periods, (2, 1, 0), strict=True):
        assert set(period["psi"]) == {"glucose"}  # bmi has no values
        expected = population_stability_index(
            reference, np.array(by_month[months]), floor=PSI_EPSILON
        )
        assert period["psi"]["glucose"] == pytest.approx(expected)
    assert periods[0]["psi"]["glucose"] < periods[-1]["psi"]["glucose"]


def test_input_drift_reads_a_bounded_sample_of_a_large_version(version, patient, monkeypatch):
    monkeypatch.setattr(selectors, "DRIFT_SAMPLE", 10)
    for value in np.linspace(60, 200, 35):
        assess(version, patient, 0.2, glucose=float(value))
    periods = input_drift_by_period(version=version)
    assert periods[0]["every"] == 4 and 8 <= periods[0]["n"] <= 9
    assert set(input_drift(version=version)) == {"glucose"}


def test_input_drift_by_period_refuses_an_unknown_period_and_is_empty_without_data(version):
    with pytest.raises(ValueError):
        input_drift_by_period(version=version, period="fortnight")
    assert input_drift_by_period(version=version) == []
    assert input_drift_by_period(version=version, period="week") == []


def test_versions_monitored_are_the_active_then_those_that_assessed(version, patient):
    active = ModelVersion.objects.create(
        disease="diabetes",
        version="active",
        algorithm="lr",
        artifact_dir="x",
        sha256="0" * 64,
        manifest={},
        is_active=True,
    )
    ModelVersion.objects.create(
        disease="heart_disease",
        version="idle",
        algorithm="lr",
        artifact_dir="x",
        sha256="0" * 64,
        manifest={},
    )
    rng = np.random.default_rng(1)
    for i in range(MIN_OUTCOMES + 2):
        assess(version, patient, float(rng.random()), "confirmed" if i % 2 else "ruled_out")
    monitored = model_versions_monitored()
    assert [v.version for v in monitored] == ["active", "monitoring-test"]
    assert monitored[1].assessment_count == MIN_OUTCOMES + 2
    assert monitored[1].outcome_count == MIN_OUTCOMES + 2
    aurocs = live_auroc_by_version(versions=monitored)
    assert aurocs[active.pk] is None
    probs, labels = zip(
        *RiskAssessment.objects.filter(model_version=version).values_list("probability", "outcome"),
        strict=True,
    )
    assert aurocs[version.pk] == pytest.approx(
        roc_auc_score([o == "confirmed" for o in labels], probs)
    )
