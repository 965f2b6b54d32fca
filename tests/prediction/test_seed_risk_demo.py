"""`seed_risk_demo`: the synthetic demo patients assessed by real trained models, each disease only
for the patients it fits, with the inputs a record cannot give taken from a real row of the
disease's training data; dated over the past six months, with SIMULATED outcomes for a share of
them; idempotent and deterministic; real patients left alone. Then the model-quality endpoints
draw live figures from them (slow: real training)."""

import datetime as dt
import re
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from patients.demo import (
    BREAST,
    CARDIOLOGY,
    demo_care_teams_ensure,
    demo_patients_ensure,
    demo_users_ensure,
)
from patients.models import Patient
from patients.services import condition_add
from prediction import demo_inputs
from prediction.demo_inputs import DEMO_FITS, NEAREST_ROWS, DemoRowPool, DemoSubject
from prediction.management.commands import seed_risk_demo
from prediction.ml.datasets import dataset_load
from prediction.ml.diseases import DISEASES
from prediction.ml.training import save_trained, train_disease
from prediction.models import ModelVersion, RiskAssessment
from prediction.selectors import MIN_OUTCOMES, input_drift_by_period, live_performance
from prediction.services import model_version_activate, model_version_register
from tests import factories
from tests.accounts.helpers import login_verified

slow_db = [pytest.mark.django_db, pytest.mark.slow]
ROW = re.compile(r"^SIMULATED entry \(demo\): row (\d+) of ")


@pytest.fixture
def diabetes_model(settings, tmp_path) -> ModelVersion:
    """A real diabetes model, trained, registered and active (the one disease every demo
    woman's record can feed on its own)."""
    settings.RISK_MODEL_ROOT = tmp_path
    folder = save_trained(train_disease("diabetes"), tmp_path)
    return model_version_activate(by=None, version=model_version_register(folder=folder))


def seed() -> str:
    out = StringIO()
    call_command("seed_risk_demo", stdout=out)
    return out.getvalue()


def subject(**fields: object) -> DemoSubject:
    base: dict[str, object] = {
        "sex": "female",
        "age": 60,
        "teams": frozenset(),
        "conditions": (),
    }
    return DemoSubject(**{**base, **fields})  # type: ignore[arg-type]


# --- choosing patients and rows (no database) -------------------------------------------------


def test_each_disease_fits_the_patients_of_its_intended_use():
    fits = {key: fit.fits for key, fit in DEMO_FITS.items()}
    assert set(fits) == set(DISEASES)
    assert fits["diabetes"](subject(sex="female", age=40))
    assert not fits["diabetes"](subject(sex="male", age=40))
    assert not fits["diabetes"](subject(sex="female", age=19))
    assert fits["heart_disease"](subject(sex="male", teams=frozenset({CARDIOLOGY})))
    assert not fits["heart_disease"](subject(teams=frozenset({BREAST})))
    assert fits["breast_cancer"](subject(teams=frozenset({BREAST}), conditions=("N63.0",)))
    assert not fits["breast_cancer"](subject(teams=frozenset({BREAST})))
    assert fits["mi_mortality"](subject(conditions=("I21.9",)))
    assert not fits["mi_mortality"](subject(conditions=("I25.10",)))
    assert fits["ischemic_stroke"](subject(conditions=("I65.21",)))
    assert not fits["ischemic_stroke"](subject(age=None, conditions=("I65.21",)))


def test_a_demo_row_is_a_real_row_of_the_same_sex_and_a_near_age():
    data = dataset_load("heart_disease")
    pool = DemoRowPool("heart_disease")
    wanted = ["max_heart_rate_exercise", "major_vessels_fluoroscopy"]
    for seed_value in range(20):
        for sex, age in (("female", 58), ("male", 44)):
            row = pool.pick(
                subject=subject(sex=sex, age=age),
                wanted=wanted,
                known={},
                rng=np.random.default_rng(seed_value),
            )
            assert data.sex is not None and data.age is not None
            assert data.sex[row.index] == sex
            assert abs(data.age[row.index] - age) <= 1
            assert row.values == {name: data.X.at[row.index, name] for name in wanted}
    again = pool.pick(subject=subject(), wanted=wanted, known={}, rng=np.random.default_rng(3))
    once = pool.pick(subject=subject(), wanted=wanted, known={}, rng=np.random.default_rng(3))
    assert again == once


def test_an_aspirate_row_has_the_diagnosis_the_record_holds():
    data = dataset_load("breast_cancer")
    pool = DemoRowPool("breast_cancer")
    names = DISEASES["breast_cancer"].feature_names
    for seed_value in range(10):
        rng = np.random.default_rng(seed_value)
        malignant = pool.pick(
            subject=subject(conditions=("C50.919",)), wanted=names, known={}, rng=rng
        )
        benign = pool.pick(subject=subject(conditions=("N63.0",)), wanted=names, known={}, rng=rng)
        assert data.y[malignant.index] == 1 and data.y[benign.index] == 0


def test_a_row_with_a_value_outside_the_schema_is_never_picked():
    data = dataset_load("mi_mortality")
    low = DISEASES["mi_mortality"].features[4]
    assert low.name == "diastolic_bp"
    outside = np.flatnonzero(data.X[low.name].to_numpy() < low.low)
    assert len(outside), "WHAS500 no longer has a diastolic pressure below the schema's range"
    pool = DemoRowPool("mi_mortality")
    assert data.sex is not None and data.age is not None
    for index in outside:
        for seed_value in range(NEAREST_ROWS * 4):
            row = pool.pick(
                subject=subject(sex=str(data.sex[index]), age=int(data.age[index])),
                wanted=[low.name],
                known={"heart_rate": float(data.X.at[index, "heart_rate"])},
                rng=np.random.default_rng(seed_value),
            )
            assert row.index != index
            assert row.values[low.name] >= low.low


# --- the command ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.slow
def test_seed_risk_demo_assesses_the_demo_patients_and_simulates_outcomes(
    diabetes_model, team, client
):
    demo_users_ensure(password=factories.PASSWORD)
    demo_patients_ensure(count=40, seed=20240601, teams=demo_care_teams_ensure())
    real = factories.patient_make(team=team, sex="female")

    said = seed()
    assert "SIMULATED" in said
    made = RiskAssessment.objects.filter(model_version=diabetes_model)
    women = [p for p in Patient.objects.filter(is_synthetic=True) if p.sex == "female"]
    assert made.count() == len(women) >= 25
    assert set(made.values_list("subject_sex", flat=True)) == {"female"}  # a model of women
    assert not made.filter(patient=real).exists()
    assert not made.exclude(patient__is_synthetic=True).exists()
    oldest = min(made.values_list("created_at", flat=True))
    assert timezone.now() - oldest > dt.timedelta(days=90)
    assert timezone.now() - oldest <= dt.timedelta(days=183)
    assert all(a is not None for a in made.values_list("subject_age", flat=True))
    with_outcome = made.exclude(outcome="")
    assert 0.2 * made.count() <= with_outcome.count() <= 0.8 * made.count()
    for assessment in with_outcome:
        assert assessment.outcome_date >= timezone.localdate(assessment.created_at)
        assert assessment.outcome_date <= timezone.localdate()
    for assessment in made:  # the record gives every input
        assert not any(ROW.match(i["source"]) for i in assessment.inputs.values())

    again = seed()
    assert RiskAssessment.objects.filter(model_version=diabetes_model).count() == made.count()
    assert "0 created" in again

    live = live_performance(version=diabetes_model)
    assert live["n"] >= MIN_OUTCOMES and live["simulated_outcomes"] == live["n"]
    assert len(input_drift_by_period(version=diabetes_model)) >= 4

    # An admin sees live cells of any size (de-identified viewers may see them suppressed).
    login_verified(client, factories.AdminFactory())
    roc = client.get(reverse("dashboards:data_model_roc", args=[diabetes_model.public_id]))
    labels = [d["label"] for d in roc.json()["data"]["datasets"]]
    assert any(label.startswith("Training") for label in labels)
    assert any(label.startswith("Live") for label in labels)
    assert any("SIMULATED" in note for note in roc.json()["notes"])


def _demo_world_with_mi_and_carotid_disease() -> dict[str, set[int]]:
    """24 demo patients (12 of the cardiology ward, 2 of the breast clinic); two cardiology
    patients given an acute MI and two carotid stenosis (the demo records hold neither).
    Returns {disease: pks of the patients it fits}."""
    demo_users_ensure(password=factories.PASSWORD)
    demo_patients_ensure(count=24, seed=20240601, teams=demo_care_teams_ensure())
    today = timezone.localdate()
    patients = list(Patient.objects.filter(is_synthetic=True).order_by("pk"))
    teams = {p.pk: set(p.care_teams.values_list("name", flat=True)) for p in patients}
    cardio = [p for p in patients if CARDIOLOGY in teams[p.pk] and p.age_on(today) >= 45]
    for patient in cardio[:2]:
        condition_add(
            by=None,
            patient=patient,
            code="I21.9",
            display="Acute myocardial infarction",
            onset_date=today - dt.timedelta(days=3),
        )
    for patient in cardio[2:4]:
        condition_add(
            by=None,
            patient=patient,
            code="I65.21",
            display="Occlusion and stenosis of right carotid artery",
            onset_date=today - dt.timedelta(days=90),
        )
    return {
        "diabetes": {p.pk for p in patients if p.sex == "female"},
        "heart_disease": {p.pk for p in patients if CARDIOLOGY in teams[p.pk]},
        "breast_cancer": {p.pk for p in patients if BREAST in teams[p.pk]},
        "mi_mortality": {p.pk for p in cardio[:2]},
        "ischemic_stroke": {p.pk for p in cardio[2:4]},
    }


def _snapshot() -> dict[tuple[int, str], tuple[object, ...]]:
    return {
        (a.patient_id, a.disease): (a.inputs, a.probability, a.outcome, a.created_at)
        for a in RiskAssessment.objects.all()
    }


@pytest.mark.django_db
@pytest.mark.slow
def test_each_disease_assesses_the_patients_it_fits_with_real_rows(active_risk_models, monkeypatch):
    fitting = _demo_world_with_mi_and_carotid_disease()
    said = seed()
    assert "SIMULATED" in said
    today = timezone.localdate()

    for disease, pks in fitting.items():
        made = RiskAssessment.objects.filter(model_version=active_risk_models[disease])
        assert pks and set(made.values_list("patient_id", flat=True)) == pks, disease
        data = dataset_load(disease)
        for assessment in made.select_related("patient"):
            patient = assessment.patient
            rows = {
                name: int(match.group(1)) - 1
                for name, given in assessment.inputs.items()
                if (match := ROW.match(given["source"]))
            }
            typed = {f.name for f in DISEASES[disease].features if f.source["type"] == "entered"}
            assert typed <= set(rows), disease  # what is typed in is a simulated entry
            if not rows:
                continue
            # One real row of the disease's own data gives every simulated entry.
            (index,) = set(rows.values())
            for name in rows:
                assert assessment.inputs[name]["value"] == data.X.at[index, name]
                assert assessment.inputs[name]["entered"] is True
            if data.sex is not None:
                assert data.sex[index] == patient.sex
            if data.age is not None:
                assert abs(data.age[index] - patient.age_on(today)) <= 5
            if disease == "breast_cancer":
                malignant = patient.conditions.filter(code__startswith="C50").exists()
                assert data.y[index] == int(malignant)

    # The admission vitals of an MI patient: the record's are months old, the row's are used.
    mi = RiskAssessment.objects.filter(disease="mi_mortality").first()
    assert mi is not None
    for name in ("heart_rate", "systolic_bp", "diastolic_bp", "bmi"):
        assert ROW.match(mi.inputs[name]["source"]) and not mi.inputs[name]["stale"]
    heart = RiskAssessment.objects.filter(disease="heart_disease").first()
    assert heart is not None
    assert heart.inputs["systolic_bp"]["source"].startswith("Observation 8480-6")

    # Idempotent, and nothing is tried again: no assessment, no training data loaded.
    first = _snapshot()
    tried: list[str] = []
    loaded: list[str] = []
    real_assess, real_load = seed_risk_demo.risk_assess, demo_inputs.dataset_load
    monkeypatch.setattr(
        seed_risk_demo, "risk_assess", lambda **kw: tried.append(kw["disease"]) or real_assess(**kw)
    )
    monkeypatch.setattr(
        demo_inputs, "dataset_load", lambda key: loaded.append(key) or real_load(key)
    )
    assert "0 created" in seed()
    assert _snapshot() == first
    assert tried == [] and loaded == []

    # Deterministic: the same world seeded again gives the same assessments and outcomes.
    RiskAssessment.objects.all().delete()
    seed()
    second = _snapshot()
    assert second.keys() == first.keys()
    for key, (inputs, probability, outcome, created_at) in first.items():
        assert second[key][:3] == (inputs, probability, outcome), key
        assert abs(second[key][3] - created_at) < dt.timedelta(minutes=10)
