"""`seed_risk_demo`: the synthetic demo patients assessed by a real trained model, dated over the
past six months, with SIMULATED outcomes for a share of them; idempotent; real patients left
alone. Then the model-quality endpoints draw live figures from them (slow: real training)."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from patients.demo import demo_care_teams_ensure, demo_patients_ensure, demo_users_ensure
from prediction.ml.training import save_trained, train_disease
from prediction.models import ModelVersion, RiskAssessment
from prediction.selectors import MIN_OUTCOMES, input_drift_by_period, live_performance
from prediction.services import model_version_activate, model_version_register
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def diabetes_model(settings, tmp_path) -> ModelVersion:
    """A real diabetes model, trained, registered and active (the one disease every demo
    patient's record can feed)."""
    settings.RISK_MODEL_ROOT = tmp_path
    folder = save_trained(train_disease("diabetes"), tmp_path)
    return model_version_activate(by=None, version=model_version_register(folder=folder))


def seed() -> str:
    out = StringIO()
    call_command("seed_risk_demo", stdout=out)
    return out.getvalue()


def test_seed_risk_demo_assesses_the_demo_patients_and_simulates_outcomes(
    diabetes_model, team, client
):
    demo_users_ensure(password=factories.PASSWORD)
    demo_patients_ensure(count=40, seed=20240601, teams=demo_care_teams_ensure())
    real = factories.patient_make(team=team)

    said = seed()
    assert "SIMULATED" in said
    made = RiskAssessment.objects.filter(model_version=diabetes_model)
    assert made.count() >= 30
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

    again = seed()
    assert RiskAssessment.objects.filter(model_version=diabetes_model).count() == made.count()
    assert "0 created" in again

    live = live_performance(version=diabetes_model)
    assert live["n"] >= MIN_OUTCOMES and live["simulated_outcomes"] == live["n"]
    assert len(input_drift_by_period(version=diabetes_model)) >= 4

    client.force_login(factories.ResearcherFactory())
    roc = client.get(reverse("dashboards:data_model_roc", args=[diabetes_model.public_id]))
    labels = [d["label"] for d in roc.json()["data"]["datasets"]]
    assert any(label.startswith("Training") for label in labels)
    assert any(label.startswith("Live") for label in labels)
    assert any("SIMULATED" in note for note in roc.json()["notes"])
