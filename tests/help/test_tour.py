"""The guided tour in chromium: it opens by itself at a user's first sign-in, steps forwards and
backwards by mouse and keyboard, keeps the focus in its dialog, and once skipped (or finished) it
stays closed across reloads until "Take the tour" opens it again. Screenshots land in
test-artifacts/screenshots/ (help-tour-*)."""

from typing import Any

import pytest

from accounts.models import User
from patients.services import care_team_add_member
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DIALOG = "#tour-dialog[role=dialog][aria-modal=true]"


@pytest.fixture
def world(transactional_db, settings):
    """Built before the page fixture, so no query runs while chromium holds the server."""
    settings.HELP_TOUR_AUTOSTART = True
    team = factories.care_team_make(name="Diabetes clinic")
    clinician = factories.ClinicianFactory(email="dr.new@hospital.test", full_name="Dr New Start")
    radiologist = factories.RadiologistFactory(
        email="dr.film@hospital.test", full_name="Dr Fresh Film"
    )
    for user in (clinician, radiologist):
        care_team_add_member(team=team, user=user)
    factories.patient_make(team=team, by=clinician, is_synthetic=True)
    return {"clinician": clinician, "radiologist": radiologist}


def sign_in(page: Any, email: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/patients/")


def focus_in_dialog(page: Any) -> bool:
    return page.evaluate("document.activeElement.closest('#tour-dialog') !== null")


def ring_surrounds(page: Any, selector: str) -> bool:
    ring = page.locator(".tour-ring").bounding_box()
    target = page.locator(selector).bounding_box()
    return (
        ring["x"] <= target["x"]
        and ring["y"] <= target["y"]
        and ring["x"] + ring["width"] >= target["x"] + target["width"]
        and ring["y"] + ring["height"] >= target["y"] + target["height"]
    )


def test_the_tour_opens_at_first_sign_in_steps_and_once_skipped_stays_closed(
    world, page, screenshot
):
    sign_in(page, "dr.new@hospital.test")
    dialog = page.locator(DIALOG)
    dialog.wait_for()
    assert "Welcome to Health Analysis Mentor" in dialog.inner_text()
    assert "Step 1 of" in dialog.inner_text()
    assert focus_in_dialog(page)
    assert page.locator(".tour-back").is_hidden()  # nothing to go back to
    screenshot("help-tour-welcome")

    page.click(".tour-next")
    assert "Your patients" in page.inner_text("#tour-title")
    assert ring_surrounds(page, "nav.mainnav a[href='/patients/']")
    screenshot("help-tour-step")
    page.click(".tour-back")
    assert "Welcome" in page.inner_text("#tour-title")

    # By keyboard: Enter on the focused Next, Tab stays in the dialog.
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    assert "Recommendations" in page.inner_text("#tour-title")
    for _ in range(5):
        page.keyboard.press("Tab")
        assert focus_in_dialog(page)
    page.keyboard.press("Shift+Tab")
    assert focus_in_dialog(page)

    # The page behind is not reachable while the tour is open.
    assert page.locator(".tour-backdrop").is_visible()

    with page.expect_response(lambda r: r.url.endswith("/help/tour/")) as posted:
        page.click(".tour-skip")
    assert posted.value.status == 200
    assert page.locator(DIALOG).count() == 0
    user = User.objects.get(email="dr.new@hospital.test")
    assert user.tours_seen == ["clinician"]

    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.locator(DIALOG).count() == 0
    page.goto("/dashboards/")
    page.wait_for_load_state("networkidle")
    assert page.locator(DIALOG).count() == 0

    # "Tour" opens it again; Esc closes it and gives the focus back to the button.
    opener = page.locator(".usermenu [data-tour-open]")
    opener.click()
    dialog.wait_for()
    assert "Step 1 of" in dialog.inner_text()
    assert focus_in_dialog(page)
    page.keyboard.press("Escape")
    assert page.locator(DIALOG).count() == 0
    assert page.evaluate("document.activeElement.hasAttribute('data-tour-open')")
    assert page.console_errors == []


def test_a_radiologist_gets_the_radiologists_tour_and_finishing_it_is_remembered(world, page):
    sign_in(page, "dr.film@hospital.test")
    page.locator(DIALOG).wait_for()
    titles = []
    while True:
        titles.append(page.inner_text("#tour-title"))
        if page.inner_text(".tour-next") == "Done":
            break
        page.click(".tour-next")
    assert "The worklist" in titles
    assert "Help on every page" in titles
    assert "Recommendations" not in titles
    help_step = titles.index("Help on every page")
    assert help_step > 0
    with page.expect_response(lambda r: r.url.endswith("/help/tour/")):
        page.click(".tour-next")  # Done
    assert page.locator(DIALOG).count() == 0
    page.goto("/imaging/")
    page.wait_for_load_state("networkidle")
    assert page.locator(DIALOG).count() == 0
    assert User.objects.get(email="dr.film@hospital.test").tours_seen == ["radiologist"]
    assert page.console_errors == []


def test_the_question_mark_opens_the_guide_of_the_page(world, page, screenshot):
    User.objects.filter(email="dr.new@hospital.test").update(tours_seen=["clinician"])
    sign_in(page, "dr.new@hospital.test")
    page.goto("/imaging/")
    page.get_by_role("link", name="Help for this page").click()
    page.wait_for_url("**/help/worklist-and-reports/")
    assert "Review the worklist and sign a report" in page.inner_text("h1")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.help-figure img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    screenshot("help-guide")
    page.fill("#help-q", "calibration")
    page.click("form.help-search button[type=submit]")
    page.wait_for_url("**/help/search?q=calibration")
    assert "Run a risk assessment and read its result" in page.inner_text("main")
    screenshot("help-search")
    page.click("a:has-text('Help center')")
    page.wait_for_url("**/help/")
    assert page.locator("#role-clinician .badge:has-text('your role')").count() == 1
    screenshot("help-index")
    assert page.console_errors == []
