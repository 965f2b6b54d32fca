"""A clinician uploads an image from the patient record and watches the result arrive, in
chromium: the upload's progress bar, the viewer while QUEUED, the results swapped in by the status
poll without a reload, the overlay controls, window/level of a CT frame, the worklist and the model
card. The worker is played by the test itself: it writes the result through the same claim and
result write as imaging.services.study_analyze, with images made here rather than by a model.
Screenshots land in test-artifacts/screenshots/ (imaging-*)."""

import datetime as dt
import io
import types
from typing import Any

import numpy as np
import pytest
from django.utils import timezone
from PIL import Image

from imaging import services
from imaging.models import ImagingModelVersion, Study
from patients.services import care_team_add_member
from tests import factories
from tests.imaging.conftest import png_bytes, study_make

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WARNING = "Demo model trained on synthetic images, not for clinical use."


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def _overlays(rows: int, columns: int) -> tuple[bytes, bytes, int]:
    """A Grad-CAM-like heatmap (transparent to red) and a lesion mask (cyan outline) as RGBA
    PNGs at the frame's size, and the lesion's area in pixels."""
    yy, xx = np.mgrid[:rows, :columns]
    radius = rows * 0.07
    d2 = ((yy - rows * 0.42) ** 2 + (xx - columns * 0.62) ** 2) / radius**2
    heat = np.exp(-d2 / 6)
    heat_rgba = np.zeros((rows, columns, 4), dtype=np.uint8)
    heat_rgba[..., 0] = 255
    heat_rgba[..., 1] = (255 * np.clip(1.6 - 1.6 * heat, 0, 1)).astype(np.uint8)
    heat_rgba[..., 3] = np.where(heat > 0.15, 190 * heat, 0).astype(np.uint8)
    inside = d2 < 1
    edge = inside & ~(
        np.roll(inside, 1, 0)
        & np.roll(inside, -1, 0)
        & np.roll(inside, 1, 1)
        & np.roll(inside, -1, 1)
    )
    mask_rgba = np.zeros((rows, columns, 4), dtype=np.uint8)
    mask_rgba[inside] = (0, 220, 255, 90)
    mask_rgba[edge] = (0, 240, 255, 255)
    return _png(heat_rgba), _png(mask_rgba), int(inside.sum())


def complete_like_the_worker(study: Study, version: ImagingModelVersion) -> None:
    """Claim the study and write a result the way study_analyze does (claim token, one
    transaction, AI draft report, notification), from an analysis made up here."""
    token = services._claim(study.pk)
    assert token is not None, "the study was not claimable"
    study = Study.objects.select_related("uploaded_by").get(pk=study.pk)
    original = io.BytesIO(services.storage.original_read_bytes(study.file_name))
    preview = np.asarray(Image.open(original).convert("L"))
    heatmap, mask, area = _overlays(study.rows, study.columns)
    analysis = types.SimpleNamespace(
        probabilities={"normal": 0.09, "nodule": 0.83, "opacity": 0.08},
        predicted_class="nodule",
        abnormal_probability=0.91,
        key_frame=0,
        frames_analysed=1,
        lesion_area_px=area,
        lesion_area_mm2=None,
        preview_png=_png(preview),
        heatmap_png=heatmap,
        mask_png=mask,
        frame_raw=preview.astype(np.float32),
        timings=types.SimpleNamespace(
            ms={
                "queue": 812.0,
                "decode": 3.1,
                "preprocess": 1.4,
                "classify": 38.2,
                "heatmap": 21.7,
                "segment": 17.9,
            }
        ),
    )
    outcome = services._result_write(study, token, version, analysis)
    assert outcome.outcome == "done"


def ct_frame(size: int = 256) -> np.ndarray:
    """A chest-CT-like slice in Hounsfield units: air, a body, two lungs and a nodule."""
    yy, xx = np.mgrid[:size, :size] / size
    frame = np.full((size, size), -1000.0, dtype=np.float32)
    body = ((yy - 0.5) / 0.42) ** 2 + ((xx - 0.5) / 0.46) ** 2 < 1
    frame[body] = 40
    for cx in (0.32, 0.68):
        frame[((yy - 0.48) / 0.3) ** 2 + ((xx - cx) / 0.14) ** 2 < 1] = -850
    frame[(yy - 0.4) ** 2 + (xx - 0.62) ** 2 < 0.03**2] = 30
    spine = (yy - 0.8) ** 2 + (xx - 0.5) ** 2 < 0.05**2
    frame[spine] = 700
    return frame + np.random.default_rng(1).normal(0, 15, frame.shape).astype(np.float32)


@pytest.fixture
def world(transactional_db, imaging_model, tmp_path, monkeypatch):
    """Built before the page fixture, so no query runs while chromium holds the server."""
    # The test plays the worker: nothing is published to a broker a live worker might read.
    monkeypatch.setattr(services, "_enqueue", lambda study_id: None)
    team = factories.care_team_make(name="Chest imaging")
    clinician = factories.ClinicianFactory(email="dr.osei@hospital.test", full_name="Dr Kwame Osei")
    care_team_add_member(team=team, user=clinician)
    radiologist = factories.RadiologistFactory(
        email="dr.lind@hospital.test", full_name="Dr Maja Lind"
    )
    care_team_add_member(team=team, user=radiologist)
    patient = factories.patient_make(
        team=team, by=clinician, mrn="MRN-5120", given_name="Synthia", family_name="Scanwell"
    )
    other = factories.patient_make(
        team=team, by=clinician, mrn="MRN-5121", given_name="Demo", family_name="Lungfield"
    )
    # The run's real trained bundle: its card shows measured figures, not made-up ones.
    version = imaging_model.version
    # A CT study already read by the model, for the worklist and the window/level controls.
    frame = ct_frame()
    lung = np.clip((frame + 1350) / 1500 * 255, 0, 255).astype(np.uint8)
    npy = io.BytesIO()
    np.save(npy, frame)
    heatmap, mask, area = _overlays(256, 256)
    ct = study_make(
        patient=other,
        by=clinician,
        version=version,
        abnormal=0.74,
        predicted="opacity",
        probabilities={"normal": 0.26, "nodule": 0.13, "opacity": 0.61},
        rows=256,
        columns=256,
        uploaded_at=timezone.now() - dt.timedelta(hours=2, minutes=10),
        preview_name=services.storage.write(_png(lung), ".png"),
        heatmap_name=services.storage.write(heatmap, ".png"),
        mask_name=services.storage.write(mask, ".png"),
        frame_name=services.storage.write(npy.getvalue(), ".npy"),
        lesion_area_px=area,
        lesion_area_mm2=area * 0.7 * 0.7,
    )
    study_make(
        patient=other,
        by=clinician,
        version=version,
        abnormal=0.36,
        predicted="normal",
        probabilities={"normal": 0.64, "nodule": 0.21, "opacity": 0.15},
        modality="DX",
        uploaded_at=timezone.now() - dt.timedelta(minutes=35),
    )
    image = tmp_path / "chest.png"
    image.write_bytes(png_bytes(size=384, seed=3))
    return {
        "clinician": clinician,
        "patient": patient,
        "version": version,
        "ct": ct,
        "image": image,
    }


def sign_in(page: Any, email: str = "dr.osei@hospital.test") -> None:
    page.goto("/")
    page.fill("#id_username", email)
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/patients/")


def test_clinician_uploads_an_image_and_the_result_arrives_live(world, page, screenshot):
    patient = world["patient"]
    sign_in(page)
    page.goto(f"/patients/{patient.public_id}/")
    panel = page.locator("#imaging")
    assert "No imaging study yet" in panel.inner_text()
    page.click("#imaging a:has-text('Upload image')")
    page.wait_for_url(f"**/imaging/patients/{patient.public_id}/upload/")
    assert "200 MB" in page.inner_text("main")
    screenshot("imaging-upload")

    # Record every value the progress bar takes (in sessionStorage, which outlives the page), and
    # slow the upload down (DevTools network emulation) so that the bar can be seen moving.
    page.evaluate(
        """() => {
          const bar = document.querySelector("progress");
          sessionStorage.setItem("progress", "");
          new MutationObserver(() => {
            const seen = sessionStorage.getItem("progress");
            sessionStorage.setItem("progress", `${seen} ${bar.value}`);
          }).observe(bar, {attributes: true});
        }"""
    )
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 40_000},
    )
    page.set_input_files("#id_image", str(world["image"]))
    assert "chest.png" in page.inner_text("[data-upload-chosen]")
    with page.expect_request(lambda r: r.method == "POST" and "/upload/" in r.url) as posted:
        page.click("[data-upload-button]")
    assert posted.value.headers["accept"] == "application/json"
    assert posted.value.headers.get("x-csrftoken")
    page.wait_for_function(
        "() => { const v = document.querySelector('progress').value; return v >= 25 && v < 90; }"
    )
    assert page.locator("[data-upload-button]").is_disabled()
    screenshot("imaging-upload-progress")
    page.wait_for_url("**/imaging/studies/**")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    seen = [float(v) for v in page.evaluate("sessionStorage.getItem('progress')").split()]
    assert seen[-1] == 100 and any(0 < v < 100 for v in seen), seen

    study = Study.objects.get(patient=patient)
    assert study.state == Study.State.QUEUED
    status = page.locator("#study-status")
    assert "Queued for analysis" in status.inner_text()
    assert "Next in line" in status.inner_text()
    assert "Image received; the analysis is queued." in page.inner_text("body")
    screenshot("imaging-viewer-queued")

    page.evaluate("window.__marker = 1")
    complete_like_the_worker(study, world["version"])
    page.wait_for_selector("#study-status[data-state=done]", timeout=15_000)
    assert page.evaluate("window.__marker") == 1, "the page reloaded"
    page.wait_for_function(
        "() => [...document.querySelectorAll('.viewer-stack img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    results = page.inner_text("#study-status")
    assert WARNING in results
    assert "Nodule" in results and "91 %" in results
    assert "AI draft" in results
    assert "Radiologists edit and sign reports" in results
    screenshot("imaging-viewer")

    heatmap = page.locator(".overlay-heatmap")
    assert heatmap.is_visible()
    page.uncheck("[data-toggle=heatmap]")
    assert heatmap.is_hidden()
    page.check("[data-toggle=heatmap]")
    assert heatmap.is_visible()
    opacity = "() => getComputedStyle(document.querySelector('.overlay-heatmap')).opacity"
    assert page.evaluate(opacity) == "0.7"
    page.fill("[data-opacity]", "30")
    assert page.evaluate(opacity) == "0.3"
    assert page.inner_text("[data-opacity-value]") == "30 %"
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.overlay-mask')).opacity") == "0.3"
    )

    page.click("nav.mainnav a:has-text('Imaging')")
    page.wait_for_url("**/imaging/")
    rows = page.locator("#worklist-rows tr.wl-row")
    assert rows.count() == 3
    assert rows.first.get_attribute("data-study") == str(study.public_id)  # the most urgent
    assert "Scanwell" in rows.first.inner_text() and "91 %" in rows.first.inner_text()
    screenshot("imaging-worklist")

    page.click("#worklist-rows a:has-text('Scanwell')")
    page.wait_for_url(f"**/patients/{patient.public_id}/")
    panel = page.locator("#imaging")
    assert "PNG image" in panel.inner_text() and "Nodule" in panel.inner_text()
    panel.scroll_into_view_if_needed()
    screenshot("imaging-panel")
    page.go_back()
    page.wait_for_url("**/imaging/")

    # Window/level of the CT study: a preset re-renders the frame without leaving the page.
    page.click(f"a[href='/imaging/studies/{world['ct'].public_id}/']:has-text('Open')")
    page.wait_for_selector("[data-window-preset]")
    base = page.locator(".viewer-base")
    page.select_option("[data-window-preset]", "lung")
    page.wait_for_function(
        "() => document.querySelector('.viewer-base').getAttribute('src').endsWith('?window=lung')"
    )
    assert page.input_value("[data-window-center]") == "-600"
    assert page.input_value("[data-window-width]") == "1500"
    page.fill("[data-window-center]", "40")
    page.fill("[data-window-width]", "400")
    page.press("[data-window-width]", "Enter")
    page.wait_for_function(
        "() => document.querySelector('.viewer-base').getAttribute('src').endsWith('?wc=40&ww=400')"
    )
    assert page.input_value("[data-window-preset]") == ""
    assert base.evaluate("i => i.naturalWidth") == 256
    screenshot("imaging-viewer-ct")

    page.click("a.btn:has-text('Model card')")
    page.wait_for_url(f"**/imaging/models/{world['version'].public_id}/")
    card = page.inner_text("main")
    assert WARNING in card and "Confusion matrix" in card and "Pointing game" in card
    screenshot("imaging-model-card")
    assert page.console_errors == []


def test_radiologist_edits_and_signs_the_report(world, page, screenshot):
    study = world["ct"]
    sign_in(page, "dr.lind@hospital.test")
    page.goto(f"/imaging/studies/{study.public_id}/")
    report = page.locator("#report")
    assert "AI draft" in report.inner_text()
    text = page.input_value("#id_text")
    assert text.startswith("AI DRAFT")
    impression = (
        "IMPRESSION:\nGround-glass opacity, right upper lobe, about 25 mm. Suggest CT follow-up."
    )
    # The reader rewrites the impression and drops the draft's "not reviewed" line.
    findings = text.split("IMPRESSION:")[0].splitlines()
    final = (
        "\n".join(line for line in findings if not line.startswith("AI DRAFT")) + "\n" + impression
    )
    page.fill("#id_text", final)
    report.scroll_into_view_if_needed()
    screenshot("imaging-report-draft")

    # Signing without the confirmation is refused, the edit kept.
    page.click("#report button:has-text('Sign report')")
    page.wait_for_load_state()
    assert "Tick the box" in page.inner_text("#report")
    assert page.input_value("#id_text") == final
    assert page.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
    page.console_errors.clear()

    page.check("#id_confirm")
    page.click("#report button:has-text('Sign report')")
    page.wait_for_url(f"**/imaging/studies/{study.public_id}/#report")
    body = page.inner_text("#report")
    assert "Signed by Dr Maja Lind" in body and "Signed (final)" in body
    assert "Ground-glass opacity, right upper lobe" in body
    assert page.locator("#id_text").count() == 0
    assert page.locator("#report a:has-text('Export (FHIR DiagnosticReport)')").count() == 1
    screenshot("imaging-report-signed")
    assert page.console_errors == []
