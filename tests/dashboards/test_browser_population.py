"""The population and recommendation acceptance dashboards in chromium: every chart draws, each
has its table and computed line, no script or CSP error; a clinician sees their care team's
patients only, a researcher the de-identified counts with small cells hidden. Screenshots land in
test-artifacts/screenshots/ (dashboards-population, -heart, -acceptance, -researcher)."""

from typing import Any

import pytest

from tests import factories
from tests.dashboards.browser import assert_charts_drawn, sign_in
from tests.dashboards.test_acceptance import decide
from tests.dashboards.test_population import assess, version_make

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLINICIAN = "dr.population@hospital.test"
RESEARCHER = "researcher.population@hospital.test"
PATIENTS = 90
# (rule id, title, accepted, declined, decline reasons cycled)
RULES = (
    ("statin-diabetes", "Diabetes aged 40-75 without a statin", 22, 8, ("already_done", "other")),
    ("tobacco-cessation", "Tobacco smoking cessation", 14, 6, ("patient_declined",)),
    ("t2d-metformin-first-line", "Type 2 diabetes: metformin first line", 9, 2, ("deferred",)),
    ("bp-stage2-start-treatment", "Stage 2 hypertension, untreated", 6, 7, ("data_wrong",)),
    ("physical-activity-150-min", "Physical activity below recommendations", 3, 12, ("other",)),
)


@pytest.fixture
def world(transactional_db) -> dict[str, Any]:
    """Built before the page fixture, so no query runs while chromium holds the server."""
    clinician: Any = factories.ClinicianFactory(email=CLINICIAN, full_name="Dr Population")
    factories.ResearcherFactory(email=RESEARCHER, full_name="Rae Searcher")
    team = factories.care_team_make(name="Population clinic", members=[clinician])
    other = factories.care_team_make(name="Another clinic")
    diabetes = version_make("diabetes", version="2026.1")
    old = version_make("heart_disease", version="2025.4", active=False)
    heart = version_make("heart_disease", version="2026.1")
    patients = []
    for n in range(PATIENTS):
        patient = factories.patient_make(team=team, given_name=f"Popgiven{n}")
        patients.append(patient)
        age = 28 + (n * 7) % 60
        sex = "female" if n % 5 < 3 else "male"
        # Risk rises with age, with a spread: most low, a good share moderate and high.
        p = min(0.99, max(0.01, (age - 25) / 80 + ((n * 37) % 23 - 11) / 60))
        band = "high" if p >= 0.5 else "moderate" if p >= 0.25 else "low"
        assess(diabetes, patient, p, band, subject_age=age, subject_sex=sex)
        if n % 6:
            q = min(0.99, p * 0.8 + (n % 3) / 20)
            hband = "high" if q >= 0.4 else "moderate" if q >= 0.2 else "low"
            version = old if n % 9 == 0 else heart
            assess(version, patient, q, hband, subject_age=age, subject_sex=sex)
    for n in range(8):  # another team's patients, all at high risk
        stranger = factories.patient_make(team=other, given_name=f"Stranger{n}")
        assess(diabetes, stranger, 0.97, "high", subject_age=50, subject_sex="male")
    k = 0
    for rule_id, title, accepted, declined, reasons in RULES:
        for i in range(accepted):
            decide(patients[k % PATIENTS], (rule_id, title), "accepted", days_ago=1 + i % 80)
            k += 1
        for i in range(declined):
            reason = reasons[i % len(reasons)]
            decide(patients[k % PATIENTS], (rule_id, title), "declined", reason=reason)
            k += 1
    return {"clinician": clinician}


def sign_out(page: Any) -> None:
    page.click("form[action='/accounts/logout/'] button")
    page.wait_for_load_state("networkidle")


def open_table(page: Any) -> None:
    for summary in page.locator(".chart-table summary").all():
        summary.click()


def test_population_and_acceptance_draw_for_a_clinician_and_a_researcher(world, page, screenshot):
    sign_in(page, CLINICIAN, "/dashboards/population/")
    assert_charts_drawn(page)
    text = page.inner_text("main")
    assert "Population risk: Diabetes" in text
    assert "each patient of your care teams" in text
    histogram = page.locator("#population-histogram")
    # Ninety of the clinician's patients; the other team's eight are not counted.
    assert "0 of the 90 patients in view have no assessment" in histogram.inner_text()
    open_table(page)
    assert "90" in histogram.locator("tbody tr").last.inner_text()
    screenshot("dashboards-population")

    page.click("nav[aria-label=Disease] >> text=Heart")
    page.wait_for_url("**disease=heart_disease")
    assert_charts_drawn(page)
    assert "2025.4" in page.locator("#population-histogram").inner_text()  # an older version
    screenshot("dashboards-population-heart")

    page.goto("/dashboards/recommendations/?days=365")
    assert_charts_drawn(page)
    open_table(page)
    table = page.inner_text("#acceptance-per-rule table")
    assert "Diabetes aged 40-75 without a statin" in table and "All rules" in table
    screenshot("dashboards-population-acceptance")

    sign_out(page)
    sign_in(page, RESEARCHER, "/dashboards/population/")
    assert_charts_drawn(page)
    open_table(page)
    body = page.inner_text("body")
    assert "de-identified" in body and "Fewer than 5 patients: not shown" in body
    assert "Popgiven" not in page.content() and "Stranger" not in page.content()
    screenshot("dashboards-population-researcher")
