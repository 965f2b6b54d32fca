"""In chromium: a clinician finds a risk estimate wrong, files a ticket from the result page
("This result looks wrong"), and finds it under Help (the help center's "My tickets").
Screenshots 40- and 41-."""

from typing import Any

import pytest

from tests import factories
from tests.dashboards.test_home import assess, risk_version

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db) -> dict[str, Any]:
    """Built before the page fixture, so no query runs while chromium holds the server."""
    clinician: Any = factories.ClinicianFactory(email="dr.feedback@hospital.test")
    team = factories.care_team_make(members=[clinician])
    patient = factories.patient_make(team=team, by=clinician)
    return {"assessment": assess(risk_version("diabetes"), patient, 0.8)}


def _skip_tour(page: Any) -> None:
    """The help center's guided tour opens by itself on a first visit; Esc skips it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.locator(".tour-backdrop").wait_for(state="visible", timeout=3000)
    except PlaywrightTimeout:
        return
    page.keyboard.press("Escape")
    page.locator(".tour-backdrop").wait_for(state="hidden")


def test_a_clinician_files_a_ticket_from_a_result_and_sees_it_listed(world, page, screenshot):
    assessment = world["assessment"]
    page.goto("/accounts/login/")
    page.fill("#id_username", "dr.feedback@hospital.test")
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/patients/")
    page.goto(f"/risk/assessments/{assessment.public_id}/")
    _skip_tour(page)
    page.click("text=This result looks wrong")
    page.wait_for_url("**/support/tickets/new/**")
    page.fill("#id_description", "The HbA1c it used is a year old.")
    screenshot("40-support-result-looks-wrong")
    page.click("button:has-text('Send to support')")
    page.wait_for_url("**/support/tickets/*/")
    assert "is open" in page.inner_text(".messages")
    page.click("header a[href='/help/']")
    page.wait_for_url("**/help/")
    page.click("main >> text=My tickets")
    page.wait_for_url("**/support/")
    row = page.locator("table tbody tr").first
    assert "AI result looks wrong" in row.inner_text()
    assert "Open" in row.inner_text()
    screenshot("41-support-ticket-listed")
    assert page.console_errors == []
