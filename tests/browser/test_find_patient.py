"""A clinician signs in, finds a patient by MRN and by name, and opens the record, in chromium."""

import pytest
from django.utils import timezone

from patients.services import condition_add, observation_record
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(transactional_db):
    """Built before the page fixture, so no query runs while chromium holds the server."""
    team = factories.care_team_make(name="Cardiology ward")
    clinician = factories.ClinicianFactory(email="dr.grey@hospital.test", full_name="Dr Ada Grey")
    from patients.services import care_team_add_member

    care_team_add_member(team=team, user=clinician)
    patients = [factories.patient_make(team=team, by=clinician) for _ in range(3)]
    target = factories.patient_make(
        team=team, by=clinician, mrn="MRN-4242", given_name="Synthia", family_name="Testwell"
    )
    observation_record(
        by=clinician,
        patient=target,
        code="8480-6",
        value=152,
        unit="mm[Hg]",
        effective_at=timezone.now(),
    )
    condition_add(by=clinician, patient=target, code="I10", display="Essential hypertension")
    hidden = factories.patient_make(
        team=factories.care_team_make(), mrn="MRN-9999", given_name="Hidden", family_name="Person"
    )
    return {
        "clinician": clinician,
        "target": target,
        "others": patients,
        "hidden": hidden,
    }


def test_clinician_signs_in_finds_a_patient_and_opens_the_record(world, page, screenshot):
    page.goto("/")
    assert "/accounts/login" in page.url
    screenshot("01-login")
    page.fill("#id_username", "dr.grey@hospital.test")
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/patients/")
    assert page.locator("tbody tr").count() == 4  # only the care team's patients
    screenshot("02-my-patients")

    page.fill("input[name=q]", "mrn-4242")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_load_state()
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    assert "Testwell" in rows.first.inner_text()
    assert "4242" not in page.url  # search is POSTed: no PHI in URLs
    screenshot("03-search-by-mrn")

    page.fill("input[name=q]", "synthia TESTWELL")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("tbody tr").count() == 1

    page.fill("input[name=q]", "Hidden Person")  # another team's patient is never found
    page.click("form[role=search] button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("tbody tr").count() == 0

    page.fill("input[name=q]", "MRN-4242")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_load_state()
    page.locator("tbody tr a").first.click()
    page.wait_for_url(f"**/patients/{world['target'].public_id}/")
    body = page.inner_text("main")
    assert "Synthia Testwell" in body
    assert "Essential hypertension" in body
    assert "152" in body
    screenshot("04-patient-record")
    assert page.console_errors == []
