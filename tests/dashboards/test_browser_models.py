"""The model-quality dashboard in chromium, on a real trained diabetes model that assessed the
synthetic demo patients (seed_risk_demo, SIMULATED outcomes): the list of versions, then one
version's five charts drawn with training and live side by side, each with its table and computed
line and no script or CSP error; a retired version trained before curves were recorded still
renders; a researcher gets the same page with small cells hidden. Screenshots land in
test-artifacts/screenshots/ (dashboards-models, -quality, -retired, -researcher)."""

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from patients.demo import demo_care_teams_ensure, demo_patients_ensure, demo_users_ensure
from prediction.ml.training import save_trained, train_disease
from prediction.models import ModelVersion, RiskAssessment
from prediction.services import model_version_activate, model_version_register
from tests import factories
from tests.dashboards.browser import assert_charts_drawn, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLINICIAN = "dr.quality@hospital.test"
RESEARCHER = "researcher.quality@hospital.test"


@pytest.fixture
def world(transactional_db, settings, tmp_path) -> dict[str, Any]:
    """Built before the page fixture, so no query runs while chromium holds the server."""
    settings.RISK_MODEL_ROOT = tmp_path
    folder = save_trained(train_disease("diabetes"), tmp_path)
    active = model_version_activate(by=None, version=model_version_register(folder=folder))
    demo_users_ensure(password=factories.PASSWORD)
    demo_patients_ensure(count=120, seed=20240601, teams=demo_care_teams_ensure())
    call_command("seed_risk_demo", stdout=StringIO())
    # A retired version from before curves were recorded, with a few outcomes of its own.
    manifest = {k: v for k, v in active.manifest.items() if k != "curves"}
    retired = ModelVersion.objects.create(
        disease="diabetes",
        version="lr-2025-old",
        algorithm=active.algorithm,
        artifact_dir=active.artifact_dir,
        sha256=active.sha256,
        manifest={**manifest, "version": "lr-2025-old"},
        registered_at=active.registered_at - dt.timedelta(days=400),
    )
    for i, source in enumerate(RiskAssessment.objects.filter(model_version=active)[:24]):
        RiskAssessment.objects.create(
            patient=source.patient,
            model_version=retired,
            inputs=source.inputs,
            probability=source.probability,
            risk_band=source.risk_band,
            contributions=source.contributions,
            outcome="confirmed" if i % 3 == 0 else "ruled_out",
            outcome_date=timezone.localdate(),
            created_at=source.created_at - dt.timedelta(days=200),
        )
    factories.ClinicianFactory(email=CLINICIAN, full_name="Dr Quality")
    factories.ResearcherFactory(email=RESEARCHER, full_name="Rae Quality")
    return {"active": active, "retired": retired}


def open_tables(page: Any) -> None:
    for summary in page.locator(".chart-table summary").all():
        summary.click()


def test_model_quality_draws_training_and_live_side_by_side(world, page, screenshot):
    active, retired = world["active"], world["retired"]
    sign_in(page, CLINICIAN, "/dashboards/models/")
    listing = page.locator("main").inner_text()
    assert "Diabetes" in listing or "diabetes" in listing
    assert active.version in listing and "lr-2025-old" in listing
    assert page.locator(".dash-tabs a[aria-current=page]").inner_text() == "Model quality"
    screenshot("dashboards-models")

    page.click(f"a[href='/dashboards/models/{active.public_id}/']")
    page.wait_for_load_state("networkidle")
    inked = assert_charts_drawn(page)
    assert set(inked) == {
        "chart-model-roc",
        "chart-model-calibration",
        "chart-model-confusion",
        "chart-model-subgroups",
        "chart-model-drift",
    }
    roc_legend = page.evaluate(
        "() => document.querySelector('#chart-model-roc')._chart.data.datasets.map(d => d.label)"
    )
    assert any(label.startswith("Training") for label in roc_legend)
    assert any(label.startswith("Live") for label in roc_legend)
    assert "SIMULATED" in page.locator("main").inner_text()
    screenshot("dashboards-models-quality")
    open_tables(page)
    assert page.locator("#chart-model-confusion table").inner_text().count("True") == 2

    page.goto(f"/dashboards/models/{retired.public_id}/")
    assert_charts_drawn(page)
    assert "retrain to see them" in page.locator("main").inner_text()
    screenshot("dashboards-models-retired")

    page.click("form[action='/accounts/logout/'] button")
    page.wait_for_load_state("networkidle")
    sign_in(page, RESEARCHER, f"/dashboards/models/{active.public_id}/")
    assert_charts_drawn(page)
    text = page.locator("main").inner_text()
    for patient_id in RiskAssessment.objects.values_list("patient__public_id", flat=True)[:50]:
        assert str(patient_id) not in text
    open_tables(page)
    screenshot("dashboards-models-researcher")
