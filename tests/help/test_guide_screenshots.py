"""The help guides' screenshots, taken in chromium from the real pages, each as the role whose task
it shows, over a seeded world of synthetic patients (no real person's data).

`manage.py help_screenshots` runs this module with HELP_SCREENSHOTS_OUT=static/help/screenshots,
so the guides' pictures are regenerated from the pages as they are. Run as part of the suite, it
writes to test-artifacts/screenshots/help-guides/ instead and leaves the committed files alone.

Every name the registry (support/guides.py) lists is taken here, and nothing else: the test fails
if a guide names a screenshot this module does not take.

The imaging study is written the way the worker writes one (the factory of the imaging tests,
with a heatmap and a lesion mask drawn here) and names the small real bundle the imaging tests
train once per run as its model; the risk and benefit models are the real ones too.
"""

import datetime as dt
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.utils import timezone
from django_otp.oath import totp
from PIL import Image

from accounts.models import Role
from patients.services import care_team_add_member, observation_record
from prediction.services import risk_assess
from recommendations.services import recommendations_refresh
from support.guides import GUIDES
from tests import factories
from tests.imaging.conftest import (  # noqa: F401  (the session's trained bundle)
    imaging_bundle_folder,
    imaging_model,
    study_make,
)
from tests.imaging.test_browser_pages import _overlays, _png, ct_frame
from tests.playwright_fixtures import SCREENSHOTS

# The risk and benefit models, trained once per run (shared with the other tests' fixtures).
from tests.prediction.conftest import (  # noqa: F401
    active_risk_models,
    risk_model_root,
    trained_risk_models,
    typical_values,
)
from tests.recommendations.benefit_fixtures import (  # noqa: F401
    benefit_artifact_folder,
    benefit_model,
)
from tests.recommendations.test_pages import record_that_triggers_rules

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OUT = Path(os.environ.get("HELP_SCREENSHOTS_OUT") or SCREENSHOTS / "help-guides")
MAX_HEIGHT = 1000  # px: a guide shows the part of the page it talks about, not the whole page
VIEWPORT = {"width": 1280, "height": 1000}


@pytest.fixture
def world(transactional_db, active_risk_models, benefit_model, imaging_model, settings):  # noqa: F811
    """Built before the browser opens, so no query runs while chromium holds the server."""
    from imaging import services as imaging_services

    team = factories.care_team_make(name="General medicine")
    everyone = [Role.CLINICIAN, Role.NURSE, Role.RADIOLOGIST, Role.RESEARCHER, Role.ADMIN]
    seen = {"tours_seen": everyone}  # the guided tour would hide the pages being shown
    clinician = factories.ClinicianFactory(
        email="dr.demo@hospital.test", full_name="Dr Alex Demo", **seen
    )
    radiologist = factories.RadiologistFactory(
        email="dr.reader@hospital.test", full_name="Dr Sam Reader", **seen
    )
    nurse = factories.NurseFactory(email="nurse.demo@hospital.test", full_name="Kim Demo", **seen)
    researcher = factories.ResearcherFactory(
        email="research.demo@hospital.test", full_name="Ro Searcher", **seen
    )
    admin = factories.AdminFactory(email="admin.demo@hospital.test", full_name="Ada Admin", **seen)
    device = factories.TOTPDeviceFactory(user=admin)
    for user in (clinician, radiologist, nurse):
        care_team_add_member(team=team, user=user)

    def patient(mrn: str, given: str, family: str, sex: str, born: dt.date) -> Any:
        return factories.patient_make(
            team=team,
            by=clinician,
            mrn=mrn,
            given_name=given,
            family_name=family,
            sex=sex,
            date_of_birth=born,
            is_synthetic=True,
        )

    focus = patient("MRN-9001", "Synthia", "Example", "female", dt.date(1968, 3, 14))
    others = [
        patient("MRN-9002", "Demo", "Lungfield", "male", dt.date(1952, 11, 2)),
        patient("MRN-9003", "Testa", "Placeholder", "female", dt.date(1985, 6, 21)),
        patient("MRN-9004", "Sample", "Rowe", "male", dt.date(1974, 1, 9)),
    ]
    now = timezone.now()
    for code, value, unit, days in (
        ("8480-6", 138, "mm[Hg]", 3),
        ("8462-4", 86, "mm[Hg]", 3),
        ("8867-4", 74, "/min", 3),
        ("29463-7", 82.5, "kg", 3),
        ("2345-7", 162, "mg/dL", 12),
    ):
        observation_record(
            by=clinician,
            patient=focus,
            code=code,
            value=value,
            unit=unit,
            effective_at=now - dt.timedelta(days=days),
        )
    factories.record_entry_make(
        "allergies", patient=focus, by=clinician, substance="Penicillin", severity="moderate"
    )
    factories.record_entry_make(
        "medications", patient=focus, by=clinician, name="Metformin", dose="500", dose_unit="mg"
    )
    record_that_triggers_rules(focus, clinician)

    # Risk assessments near the models' typical values, so that the figures are not pinned at 0.
    versions = active_risk_models
    assessment = None
    for person in (focus, *others):
        for disease, version in versions.items():
            if disease not in ("diabetes", "heart_disease"):
                continue
            made = risk_assess(
                by=clinician,
                patient=person,
                disease=disease,
                overrides=typical_values(version.manifest),
            )
            if person == focus and disease == "diabetes":
                assessment = made
    recommendations_refresh(patient=focus)

    # Imaging: a finished CT study with a heatmap and a lesion mask, and two more in the worklist.
    frame = ct_frame()
    lung = (frame.clip(-1350, 150) + 1350) / 1500 * 255
    npy = io.BytesIO()
    np.save(npy, frame)
    heatmap, mask, area = _overlays(256, 256)
    storage = imaging_services.storage
    study = study_make(
        patient=focus,
        by=clinician,
        abnormal=0.74,
        predicted="opacity",
        probabilities={"normal": 0.26, "nodule": 0.13, "opacity": 0.61},
        rows=256,
        columns=256,
        version=imaging_model.version,
        uploaded_at=now - dt.timedelta(hours=2, minutes=10),
        claimed_at=now - dt.timedelta(hours=2, minutes=9, seconds=56),
        finished_at=now - dt.timedelta(hours=2, minutes=9, seconds=52),
        preview_name=storage.write(_png(lung.astype(np.uint8)), ".png"),
        heatmap_name=storage.write(heatmap, ".png"),
        mask_name=storage.write(mask, ".png"),
        frame_name=storage.write(npy.getvalue(), ".npy"),
        lesion_area_px=area,
        lesion_area_mm2=area * 0.7 * 0.7,
    )
    study_make(
        patient=others[0],
        by=clinician,
        abnormal=0.36,
        predicted="normal",
        probabilities={"normal": 0.64, "nodule": 0.21, "opacity": 0.15},
        modality="DX",
        version=imaging_model.version,
        uploaded_at=now - dt.timedelta(minutes=35),
        claimed_at=now - dt.timedelta(minutes=34, seconds=57),
        finished_at=now - dt.timedelta(minutes=34, seconds=53),
    )
    study_make(patient=others[1], by=clinician, state="queued", modality="DX")

    factories.PendingUserFactory(
        email="new.colleague@hospital.test", full_name="Jo Newcomer", role=Role.NURSE
    )
    return {
        "clinician": clinician,
        "radiologist": radiologist,
        "nurse": nurse,
        "researcher": researcher,
        "admin": admin,
        "otp_key": device.bin_key,
        "focus": focus,
        "assessment": assessment,
        "study": study,
        "risk_version": versions["diabetes"],
    }


def capture(page: Any, selector: str, name: str, taken: set[str]) -> None:
    """A PNG of the element `selector` (its first MAX_HEIGHT px), reduced to 256 colours."""
    target = page.locator(selector).first
    target.wait_for()
    target.evaluate("e => window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - 12)")
    box = target.bounding_box()
    assert box is not None, selector
    # Down to the bottom of what it holds: <main> stretches to the footer on a short page.
    bottom = target.evaluate(
        "e => Math.max(...[...e.children].map(c => c.getBoundingClientRect().bottom),"
        " e.getBoundingClientRect().top + 40)"
    )
    height = min(box["height"], bottom - box["y"] + 12)
    clip = {
        "x": max(box["x"] - 12, 0),
        "y": max(box["y"] - 12, 0),
        "width": min(box["width"] + 24, VIEWPORT["width"]),
        "height": min(height + 24, MAX_HEIGHT),
    }
    raw = page.screenshot(clip=clip)
    OUT.mkdir(parents=True, exist_ok=True)
    image = Image.open(io.BytesIO(raw)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
        OUT / f"{name}.png", optimize=True
    )
    taken.add(name)


def sign_in(page: Any, email: str, otp_key: bytes | None = None) -> None:
    page.context.clear_cookies()
    page.goto("/accounts/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    if otp_key is not None:
        page.wait_for_url("**/accounts/login/code/**")
        page.fill("#id_code", f"{totp(otp_key):06d}")
        page.click("button[type=submit]:has-text('Verify')")
    page.wait_for_load_state()
    assert "/accounts/login" not in page.url, page.url


def charts_drawn(page: Any) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart-computed')]"
        ".every(e => !e.textContent.includes('Loading'))"
    )


def test_the_guides_screenshots_are_taken_from_the_real_pages(world, browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    taken: set[str] = set()
    focus, study = world["focus"], world["study"]
    try:
        # --- clinician -----------------------------------------------------------------------
        sign_in(page, world["clinician"].email)
        page.goto("/patients/")
        capture(page, "main", "patient-list", taken)
        page.goto(f"/patients/{focus.public_id}/")
        capture(page, "main", "patient-record", taken)
        capture(page, "#risk", "risk-panel", taken)
        page.wait_for_selector("#recommendations .rec-card")
        capture(page, "#recommendations .rec-card", "recommendations-card", taken)

        page.goto(f"/patients/{focus.public_id}/observations/new/")
        page.select_option("#id_code", "8480-6")
        page.fill("#id_value", "132")
        capture(page, ".form-card", "observation-form", taken)

        page.goto(f"/risk/patients/{focus.public_id}/diabetes/")
        capture(page, ".assess-card", "risk-assess-form", taken)
        page.goto(f"/risk/assessments/{world['assessment'].public_id}/")
        assert "%" in page.inner_text(".risk-percent")
        capture(page, "main", "risk-result", taken)
        page.goto(f"/risk/models/{world['risk_version'].public_id}/")
        capture(page, "main", "risk-model-card", taken)

        page.goto(f"/imaging/patients/{focus.public_id}/upload/")
        capture(page, "main", "imaging-upload", taken)
        page.goto(f"/imaging/studies/{study.public_id}/")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.viewer-stack img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        capture(page, ".results-grid", "imaging-result", taken)

        page.goto("/recommendations/")
        capture(page, "main", "recommendations-awaiting", taken)
        page.goto("/dashboards/home/")
        charts_drawn(page)
        capture(page, "main", "dashboards-home", taken)
        page.goto("/dashboards/models/")
        capture(page, "main", "dashboards-models", taken)

        # --- radiologist ---------------------------------------------------------------------
        sign_in(page, world["radiologist"].email)
        page.goto("/imaging/")
        page.wait_for_selector("#worklist-rows tr.wl-row")
        capture(page, "main", "imaging-worklist", taken)
        page.goto(f"/imaging/studies/{study.public_id}/")
        page.wait_for_selector("#report textarea")
        capture(page, "#report", "imaging-report", taken)

        # --- nurse, researcher, administrator ------------------------------------------------
        sign_in(page, world["nurse"].email)
        page.goto("/accounts/profile/")
        capture(page, "main", "account-profile", taken)

        sign_in(page, world["researcher"].email)
        page.goto("/patients/export/")
        capture(page, "main", "research-export", taken)

        sign_in(page, world["admin"].email, otp_key=world["otp_key"])
        page.goto("/accounts/invite/")
        capture(page, "main", "admin-invite", taken)
        page.goto("/accounts/pending/")
        capture(page, "main", "admin-pending", taken)
    finally:
        context.close()

    named = {name for guide in GUIDES for name in guide.screenshots}
    assert named == taken, (
        f"named by the guides, not taken: {named - taken}; extra: {taken - named}"
    )
    assert errors == []
    for name in taken:
        path = OUT / f"{name}.png"
        assert path.stat().st_size < 400_000, f"{path} is too big for a guide"
