"""A clinician accepts one recommendation and declines another on the patient record, in
chromium: the cards swap in place (htmx) without a reload, a decline without a reason is refused
next to the field, and after a reload both decisions are on the page and in the database. Then the
list of what awaits a decision, the rule catalogue with its acceptance rates and the benefit model
card. Screenshots land in test-artifacts/screenshots/ (recommendations-*)."""

from typing import Any

import pytest

from patients.services import care_team_add_member
from recommendations.models import Feedback, Recommendation
from recommendations.services import recommendations_refresh
from tests import factories
from tests.playwright_fixtures import SCREENSHOTS
from tests.recommendations.test_pages import record_that_triggers_rules

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EMAIL = "dr.okafor@hospital.test"


@pytest.fixture
def world(transactional_db, benefit_model):
    """Built before the page fixture, so no query runs while chromium holds the server."""
    team = factories.care_team_make(name="Diabetes clinic")
    clinician = factories.ClinicianFactory(email=EMAIL, full_name="Dr Ngozi Okafor")
    care_team_add_member(team=team, user=clinician)
    patient = factories.patient_make(
        team=team, by=clinician, mrn="MRN-7301", given_name="Glenda", family_name="Sugarman"
    )
    record_that_triggers_rules(patient, clinician)
    recs = recommendations_refresh(patient=patient)
    assert len(recs) >= 2
    return {"clinician": clinician, "patient": patient, "recs": recs}


# Playwright's element screenshots leave empty style="" attributes on form controls; htmx's settle
# copies them onto the swapped-in card, which the CSP (style-src 'self') reports. No person's
# browser does this: the test clears them after each screenshot it takes mid-flow.
CLEAR_EMPTY_STYLES = (
    "document.querySelectorAll('[style=\"\"]').forEach(e => e.removeAttribute('style'))"
)


def shot(page: Any, locator: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    page.evaluate(CLEAR_EMPTY_STYLES)


def sign_in(page: Any) -> None:
    page.goto("/")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/patients/")


def test_clinician_accepts_one_recommendation_and_declines_another(world, page, screenshot):
    patient, recs = world["patient"], world["recs"]
    first, second = recs[0], recs[1]
    sign_in(page)
    page.goto(f"/patients/{patient.public_id}/")
    panel = page.locator("#recommendations")
    text = panel.inner_text()
    assert "Evaluated at" in text
    assert first.title in text and second.title in text
    assert "HbA1c 8.5 %" in text
    assert panel.locator(".rec-card").count() == len(recs)
    shot(page, panel, "recommendations-panel")
    screenshot("recommendations-record")
    page.evaluate(CLEAR_EMPTY_STYLES)

    page.evaluate("window.__marker = 1")
    card = page.locator(f"#rec-{first.public_id}")
    card.locator("button.btn-accept").click()
    page.wait_for_selector(f"#rec-{first.public_id}[data-status=accepted]")
    assert "Accepted by Dr Ngozi Okafor on" in page.locator(f"#rec-{first.public_id}").inner_text()

    card = page.locator(f"#rec-{second.public_id}")
    card.locator("summary").click()
    card.locator(".rec-decline-form button[type=submit]").click()
    page.wait_for_selector(f"#rec-{second.public_id} .errorlist")
    card = page.locator(f"#rec-{second.public_id}")
    assert "Choose a reason for declining." in card.inner_text()
    shot(page, card, "recommendations-decline-error")
    card.get_by_label("Patient declined").check()
    card.locator("textarea").fill("Prefers to try diet changes first.")
    card.locator(".rec-decline-form button[type=submit]").click()
    page.wait_for_selector(f"#rec-{second.public_id}[data-status=declined]")
    declined = page.locator(f"#rec-{second.public_id}").inner_text()
    assert "Declined by Dr Ngozi Okafor on" in declined and ": Patient declined" in declined
    assert "Prefers to try diet changes first." in declined
    assert page.evaluate("window.__marker") == 1, "the page reloaded"
    shot(page, page.locator(f"#rec-{second.public_id}"), "recommendations-declined-card")

    page.reload()
    text = page.locator("#recommendations").inner_text()
    assert "Accepted by Dr Ngozi Okafor" in text and "Declined by Dr Ngozi Okafor" in text
    assert "Decline instead…" in text and "Accept instead" in text
    screenshot("recommendations-decided")
    # The timeline of the record shows both decisions too.
    timeline = page.inner_text("body")
    assert f"Recommendation accepted: {first.title}" in timeline
    assert f"Recommendation declined: {second.title}" in timeline

    accepted = Feedback.objects.get(recommendation=first)
    assert accepted.outcome == Feedback.Outcome.ACCEPTED
    assert accepted.user == world["clinician"]
    declined_row = Feedback.objects.get(recommendation=second)
    assert declined_row.outcome == Feedback.Outcome.DECLINED
    assert declined_row.reason_code == "patient_declined"
    assert declined_row.reason_text == "Prefers to try diet changes first."
    statuses = {r.pk: r.status for r in Recommendation.objects.filter(patient=patient)}
    assert statuses[first.pk] == "accepted" and statuses[second.pk] == "declined"

    page.goto("/recommendations/")
    awaiting = page.inner_text("main")
    assert "Awaiting your decision" in awaiting and "Glenda Sugarman" in awaiting
    assert first.title not in awaiting and second.title not in awaiting
    screenshot("recommendations-awaiting")

    page.goto("/recommendations/rules/")
    rules = page.inner_text("main")
    assert first.title in page.inner_text(f"#rule-{first.rule_id}") or first.rule_id in rules
    assert "100 %" in page.inner_text(f"#rule-{first.rule_id}")
    assert "Patient declined (1)" in page.inner_text(f"#rule-{second.rule_id}")
    screenshot("recommendations-rules")

    page.goto("/recommendations/benefit-model/")
    card_text = page.inner_text("main")
    assert "GBSG2" in card_text and "C-index" in card_text and "Calibration at 5 years" in card_text
    screenshot("recommendations-benefit-model")
    assert page.console_errors == []
