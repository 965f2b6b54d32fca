"""A clinician opens a patient, assesses diabetes risk (the form pre-filled from the record, a
refused value corrected), reads the result and the model card, in chromium. Screenshots land in
test-artifacts/screenshots/ (05- to 09-)."""

import datetime as dt

import pytest
from django.utils import timezone

from patients.services import care_team_add_member, condition_add, observation_record
from prediction.ml.diseases import DISEASES
from prediction.models import RiskAssessment
from tests import factories

# The risk models trained once per run (their folder is shared, so importing the fixtures here
# reuses the artifacts tests/prediction trained rather than training twice).
from tests.prediction.conftest import (  # noqa: F401
    active_risk_models,
    risk_model_root,
    trained_risk_models,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db, active_risk_models):  # noqa: F811 (the imported fixture)
    """Built before the page fixture, so no query runs while chromium holds the server."""
    team = factories.care_team_make(name="Diabetes clinic")
    clinician = factories.ClinicianFactory(
        email="dr.okafor@hospital.test", full_name="Dr Ngozi Okafor"
    )
    care_team_add_member(team=team, user=clinician)
    patient = factories.patient_make(
        team=team,
        by=clinician,
        mrn="MRN-7310",
        given_name="Synthia",
        family_name="Riskwell",
        sex="female",
        date_of_birth=dt.date(1979, 4, 2),
    )
    # A glucose tolerance test from the record; no BMI (the form asks for it), and a weight from
    # long ago that no model reads.
    observation_record(
        by=clinician,
        patient=patient,
        code="2345-7",
        value=162,
        unit="mg/dL",
        effective_at=timezone.now() - dt.timedelta(days=12),
    )
    condition_add(by=clinician, patient=patient, code="I10", display="Essential hypertension")
    return {"clinician": clinician, "patient": patient, "versions": active_risk_models}


def _missing(page) -> list[str]:
    return page.eval_on_selector_all(
        ".feature-row.status-missing input, .feature-row.status-stale input",
        "inputs => [...new Set(inputs.map(i => i.name))]",
    )


def test_clinician_assesses_diabetes_risk_and_reads_the_result_and_card(world, page, screenshot):
    patient = world["patient"]
    specs = {spec.name: spec for spec in DISEASES["diabetes"].features}
    page.goto("/")
    page.fill("#id_username", "dr.okafor@hospital.test")
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/patients/")
    page.goto(f"/patients/{patient.public_id}/")
    risk = page.locator("#risk")
    assert "Disease risk" in risk.inner_text()
    risk.scroll_into_view_if_needed()
    screenshot("05-risk-panel")

    page.click(f"#risk a[href='/risk/patients/{patient.public_id}/diabetes/']")
    page.wait_for_url(f"**/risk/patients/{patient.public_id}/diabetes/")
    body = page.inner_text("main")
    assert "From the record" in body
    assert "Please enter" in body
    missing = _missing(page)
    assert missing, "diabetes has values the record cannot give"
    screenshot("06-assess-form")

    # A refused value: the page says why, keeps the other values, and writes nothing.
    first = specs[missing[0]]
    for name in missing:
        spec = specs[name]
        if spec.kind == "binary":
            page.check(f"input[name={name}][value='0']")
        else:
            value = spec.low + (spec.high - spec.low) * 0.3
            page.fill(f"#id_{name}", str(round(value)) if spec.kind == "integer" else f"{value:g}")
    if first.kind != "binary":
        page.fill(f"#id_{first.name}", f"{first.high * 10 + 10:g}")
        page.click("form.assess-form button[type=submit]")
        page.wait_for_load_state()
        assert "Nothing was saved" in page.inner_text("main")
        assert page.locator(".feature-row.field-error").count() == 1
        screenshot("07-assess-form-error")
        # The refused form came back as a 400, which chromium logs as a failed resource load.
        assert page.console_errors == [
            "Failed to load resource: the server responded with a status of 400 (Bad Request)"
        ]
        page.console_errors.clear()
        page.fill(f"#id_{first.name}", f"{first.low + (first.high - first.low) * 0.3:g}")
    assert RiskAssessment.objects.count() == 0
    page.click("form.assess-form button[type=submit]")
    page.wait_for_url("**/risk/assessments/**")

    assessment = RiskAssessment.objects.get()
    body = page.inner_text("main")
    assert "%" in page.inner_text(".risk-percent")
    assert "risk" in page.inner_text(".risk-figure .badge")
    assert "of 100 patients flagged at this level, about" in body
    assert "Pushing the risk up" in body and "Pushing the risk down" in body
    assert page.locator(".factor-list .bar").count() >= 1
    # Bars get their widths from CSS classes (no inline styles under the CSP).
    widths = page.eval_on_selector_all(".factor-list .bar", "bars => bars.map(b => b.offsetWidth)")
    assert all(w > 0 for w in widths)
    assert assessment.model_version.version in body
    screenshot("08-risk-result")

    page.check("input[name=outcome][value=ruled_out]")
    page.fill("#id_outcome_date", timezone.localdate().isoformat())
    page.click("#outcome button[type=submit]")
    page.wait_for_load_state()
    assert "Outcome recorded." in page.inner_text("body")
    assessment.refresh_from_db()
    assert assessment.outcome == "ruled_out"

    page.click("a.btn:has-text('Model card')")
    page.wait_for_url(f"**/risk/models/{assessment.model_version.public_id}/")
    body = page.inner_text("main")
    dataset = assessment.model_version.manifest["dataset"]
    assert dataset["name"] in body and dataset["licence"] in body
    assert "Algorithms compared" in body
    screenshot("09-model-card")

    page.click("nav.mainnav a:has-text('Models')")
    page.wait_for_url("**/risk/models/")
    assert page.locator(".model-summary").count() == len(world["versions"])
    screenshot("10-model-list")
    assert page.console_errors == []
