"""End to end with every real part: chromium uploads a CT phantom as DICOM, a real Celery worker
analyses it with the real trained bundle (ONNX Runtime), and the result appears on the open page
without a reload; the uploader's bell shows the notification. Screenshots: imaging-live-*."""

import datetime as dt

import pytest

from imaging.demo import demo_uploads
from imaging.models import Study
from patients.services import care_team_add_member
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def world(live_worker, imaging_model, tmp_path):
    team = factories.care_team_make(name="Thoracic imaging")
    clinician = factories.ClinicianFactory(email="dr.live@hospital.test", full_name="Dr Ana Live")
    care_team_add_member(team=team, user=clinician)
    patient = factories.patient_make(
        team=team, by=clinician, given_name="Ct", family_name="Phantom"
    )
    (name, data, label), *_ = demo_uploads(
        [("Phantom^Ct", "MRN-77"), ("B^B", "2"), ("C^C", "3")], today=dt.date(2026, 11, 2)
    )
    path = tmp_path / name
    path.write_bytes(data)
    return {"patient": patient, "file": path, "label": label}


def test_an_uploaded_ct_is_analysed_by_the_worker_and_shown_live(world, page, screenshot):
    page.goto("/")
    page.fill("#id_username", "dr.live@hospital.test")
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/patients/")

    page.goto(f"/imaging/patients/{world['patient'].public_id}/upload/")
    page.set_input_files("#id_image", str(world["file"]))
    page.click("[data-upload-button]")
    page.wait_for_url("**/imaging/studies/**")
    page.evaluate("window.__marker = 1")

    page.wait_for_selector("#study-status[data-state=done]", timeout=60_000)

    assert page.evaluate("window.__marker") == 1, "the page reloaded"
    study = Study.objects.get(patient=world["patient"])
    assert study.state == Study.State.DONE and study.modality == "CT"
    assert study.lesion_area_mm2 is not None or study.predicted_class == "normal"
    page.wait_for_function(
        "() => [...document.querySelectorAll('.viewer-stack img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    text = page.inner_text("#study-status")
    assert "Demo model trained on synthetic images, not for clinical use." in text
    assert "probability abnormal" in text
    screenshot("imaging-live-result")

    page.select_option("select[name=window]", "lung")
    page.wait_for_function(
        "() => document.querySelector('.viewer-base').src.includes('window=lung')"
    )
    page.reload()
    assert "1" in page.inner_text("#bell")  # the notification that the result is in
    screenshot("imaging-live-ct-lung-window")
