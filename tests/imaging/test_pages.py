"""The imaging pages: the record's imaging panel, the upload (real PNG in, garbage and oversize
refused with nothing stored), the viewer and its live status fragment, the report (edited and
signed by radiologists only, exported as FHIR once signed), the worklist and the model cards.
Every page has an allowed and a denied case; another care team gets a 404 everywhere."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from imaging import storage
from imaging.models import ImagingModelVersion, Study, StudyReport
from imaging.services import report_sign
from imaging.views import worklist_pages
from tests import factories
from tests.accounts.helpers import login_verified
from tests.imaging.conftest import png_bytes, study_make

WARNING = "Demo model trained on synthetic images, not for clinical use."


def imaging_version(**overrides: Any) -> ImagingModelVersion:
    """A registered model row (its files are not needed by the pages)."""
    manifest = {
        "name": "phantom-cnn",
        "version": "2026.1",
        "classes": ["normal", "nodule", "opacity"],
        "normal_class": "normal",
        "card_warning": WARNING,
        "intended_use": "Demonstration of the imaging workflow.",
        "limitations": ["Trained on synthetic phantoms only."],
        "training_data": {"generator": "phantoms", "images": 3000},
        "modalities": ["CT", "DX"],
        "metrics": {
            "accuracy": 0.91,
            "auroc": {"normal": 0.97, "nodule": 0.95, "opacity": 0.93},
            "confusion_matrix": [[90, 5, 5], [4, 92, 4], [6, 3, 91]],
            "segmentation": {"dice": 0.81, "iou": 0.69},
            "pointing_game": 0.88,
        },
    }
    fields: dict[str, Any] = {
        "name": "phantom-cnn",
        "version": "2026.1",
        "artifact_dir": "phantom-cnn/2026.1",
        "sha256": "a" * 64,
        "files": {"classifier.onnx": "a" * 64, "segmenter.onnx": "b" * 64},
        "manifest": manifest,
        "is_synthetic": True,
        "is_active": True,
    }
    fields.update(overrides)
    return ImagingModelVersion.objects.create(**fields)


def url(name: str, study: Study | None = None, **kwargs: Any) -> str:
    if study is not None:
        kwargs["public_id"] = study.public_id
    return reverse(f"imaging:{name}", kwargs=kwargs or None)


def signed_in(user: Any) -> Client:
    client = Client()
    login_verified(client, user)
    return client


def audit_count(action: str, **detail: Any) -> int:
    events = AuditEvent.objects.filter(action=action)
    return sum(1 for e in events if all(e.detail.get(k) == v for k, v in detail.items()))


def imaging_files() -> set[Path]:
    root = storage.media_root() / storage.FOLDER
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture
def private_media(settings, tmp_path):
    """A media folder of this test's own (the run's is shared by parallel workers)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def version(db):
    return imaging_version()


@pytest.fixture
def done(patient, clinician, version):
    return study_make(patient=patient, by=clinician, version=version)


@pytest.fixture
def nurse(team):
    from patients.services import care_team_add_member

    user = factories.NurseFactory()
    care_team_add_member(team=team, user=user)
    return user


# --- the record page's panel ---------------------------------------------------------------------


@pytest.mark.django_db
def test_record_panel_lists_studies_and_offers_upload_to_clinicians(patient, clinician, done):
    queued = study_make(patient=patient, by=clinician, state=Study.State.QUEUED, modality="DX")
    page = signed_in(clinician).get(reverse("patients:detail", args=[patient.public_id]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="imaging"' in html
    assert url("upload", public_id=patient.public_id) in html
    assert url("study", done) in html and url("study", queued) in html
    assert "CT, chest" in html and "X-ray, chest" in html
    assert "Nodule" in html and "80 %" in html
    assert "AI draft, not signed" in html
    assert WARNING in html


@pytest.mark.django_db
def test_record_panel_has_no_upload_button_for_a_nurse(patient, nurse, done):
    html = signed_in(nurse).get(reverse("patients:detail", args=[patient.public_id])).content
    assert url("study", done).encode() in html
    assert url("upload", public_id=patient.public_id).encode() not in html


# --- upload --------------------------------------------------------------------------------------


def upload(client: Client, patient: Any, data: bytes, name: str = "scan.png", **extra: Any):
    return client.post(
        url("upload", public_id=patient.public_id),
        {"image": SimpleUploadedFile(name, data, content_type="image/png")},
        **extra,
    )


@pytest.mark.django_db
def test_upload_form_shows_accepted_formats_and_limits(patient, clinician):
    page = signed_in(clinician).get(url("upload", public_id=patient.public_id))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'accept=".png,.jpg,.jpeg,.dcm,.zip' in html
    assert "200 MB" in html and "DICOM" in html
    assert "js/imaging-upload.js" in html
    assert "<progress" in html
    assert audit_count(AuditAction.READ, page="imaging_upload") == 1


@pytest.mark.django_db
def test_nurse_may_not_upload(patient, nurse):
    client = signed_in(nurse)
    assert client.get(url("upload", public_id=patient.public_id)).status_code == 403
    assert upload(client, patient, png_bytes()).status_code == 403
    assert not Study.objects.exists()


@pytest.mark.django_db
def test_another_care_team_cannot_upload(patient, other_clinician):
    client = signed_in(other_clinician)
    assert client.get(url("upload", public_id=patient.public_id)).status_code == 404
    assert upload(client, patient, png_bytes()).status_code == 404
    assert not Study.objects.exists()


@pytest.mark.django_db
def test_upload_of_a_real_png_queues_a_study_and_redirects(
    patient, clinician, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(signed_in(clinician), patient, png_bytes())
    study = Study.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("study", study)
    assert study.state == Study.State.QUEUED
    assert study.patient == patient and study.uploaded_by == clinician
    assert study.original_name == "scan.png"
    assert len(callbacks) == 1  # the analysis task, published after the commit


@pytest.mark.django_db
def test_upload_answers_json_to_the_script(patient, clinician, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = upload(
            signed_in(clinician), patient, png_bytes(), HTTP_ACCEPT="application/json"
        )
    study = Study.objects.get()
    assert response.status_code == 202
    assert response.json()["redirect"] == url("study", study)


@pytest.mark.django_db
def test_garbage_named_png_is_refused_and_nothing_is_stored(patient, clinician, private_media):
    client = signed_in(clinician)
    response = upload(
        client, patient, b"this is not an image at all" * 40, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] and "Nothing was stored" in body["error"]
    assert body["code"]
    page = upload(client, patient, b"\x89PNG but not really" * 40)
    assert page.status_code == 400
    assert "Not accepted" in page.content.decode()
    assert not Study.objects.exists()
    assert imaging_files() == set()


@pytest.mark.django_db
def test_upload_without_a_file_says_so(patient, clinician):
    client = signed_in(clinician)
    response = client.post(
        url("upload", public_id=patient.public_id), {}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "Choose a file to upload."


@pytest.mark.django_db
def test_oversize_body_is_refused_from_its_declared_length(patient, clinician):
    client = signed_in(clinician)
    huge = str(300 * 1024 * 1024)
    response = upload(
        client, patient, png_bytes(), HTTP_ACCEPT="application/json", CONTENT_LENGTH=huge
    )
    assert response.status_code == 413
    assert "200 MB limit" in response.json()["error"]
    assert response.json()["code"] == "too_large"
    page = upload(client, patient, png_bytes(), CONTENT_LENGTH=huge)
    assert page.status_code == 413
    assert "200 MB limit" in page.content.decode()
    assert not Study.objects.exists()


@pytest.mark.django_db
@override_settings(IMAGING_MAX_UPLOAD_BYTES=1000)
def test_a_file_over_the_limit_is_refused_while_received(patient, clinician, private_media):
    response = upload(signed_in(clinician), patient, png_bytes(), HTTP_ACCEPT="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Study.objects.exists()
    assert imaging_files() == set()


@pytest.mark.django_db
def test_upload_still_checks_the_csrf_token(patient, clinician):
    client = Client(enforce_csrf_checks=True)
    login_verified(client, clinician)
    assert upload(client, patient, png_bytes()).status_code == 403
    assert not Study.objects.exists()


# --- the viewer and its status fragment -----------------------------------------------------------


@pytest.mark.django_db
def test_viewer_of_a_queued_study_polls_its_status(patient, clinician):
    earlier = timezone.now() - dt.timedelta(minutes=5)
    for _ in range(2):
        study_make(patient=patient, by=clinician, state=Study.State.QUEUED, enqueued_at=earlier)
    study = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    page = signed_in(clinician).get(url("study", study))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'hx-get="{url("study_status", study)}"' in html
    assert 'hx-trigger="every 2s"' in html and 'hx-swap="outerHTML"' in html
    assert "2 studies ahead in the queue" in html
    assert "Result expected in about" in html
    assert patient.family_name in html
    assert audit_count(AuditAction.READ, page="study") == 1


@pytest.mark.django_db
def test_status_fragment_shows_queue_position_then_the_results(patient, clinician, version):
    study = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    client = signed_in(clinician)
    queued = client.get(url("study_status", study), HTTP_HX_REQUEST="true")
    assert queued.status_code == 200
    html = queued.content.decode()
    assert "Next in line" in html and 'hx-trigger="every 2s"' in html
    assert "<html" not in html  # a fragment, not a page
    assert audit_count(AuditAction.READ, page="study_status") == 0  # polls are not audited

    finished = study_make(patient=patient, by=clinician, version=version)
    Study.objects.filter(pk=study.pk).update(
        **{
            f: getattr(finished, f)
            for f in (
                "state",
                "model_version",
                "probabilities",
                "predicted_class",
                "abnormal_probability",
                "key_frame",
                "lesion_area_px",
                "lesion_area_mm2",
                "preview_name",
                "heatmap_name",
                "mask_name",
                "frame_name",
                "finished_at",
                "claimed_at",
                "timings",
            )
        }
    )
    StudyReport.objects.create(study=study, draft_text="Draft", text="Draft")
    html = client.get(url("study_status", study), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-get" not in html and "every 2s" not in html  # polling stops
    assert url("study_image", study) in html and url("study_heatmap", study) in html
    assert url("study_mask", study) in html
    assert "Nodule" in html and WARNING in html
    assert 'id="report"' in html
    assert audit_count(AuditAction.READ, page="study_status") == 1


@pytest.mark.django_db
def test_viewer_of_a_done_study_shows_results_and_controls(patient, clinician, done):
    html = signed_in(clinician).get(url("study", done)).content.decode()
    # The banner once (the AI draft below repeats the warning in its own text).
    assert html.count('class="synthetic-banner"') == 1
    assert f"<strong>{WARNING}</strong>" in html
    assert 'data-toggle="heatmap"' in html and 'data-toggle="mask"' in html
    assert 'type="range"' in html and "data-opacity" in html
    for preset in ("lung", "mediastinum", "bone", "brain", "abdomen"):
        assert f'value="{preset}"' in html
    assert 'name="wc"' in html and 'name="ww"' in html
    assert "19.6 mm²" in html and "40 px" in html
    assert "Classification (CNN)" in html  # the stage timings
    assert url("model_detail", public_id=done.model_version.public_id) in html
    assert url("study_original", done) in html
    assert "AI draft" in html
    assert "js/imaging-viewer.js" in html
    assert 'style="' not in html  # the CSP forbids inline styles


@pytest.mark.django_db
def test_viewer_of_an_xray_has_no_window_controls(patient, clinician, version):
    study = study_make(patient=patient, by=clinician, version=version, modality="DX")
    html = signed_in(clinician).get(url("study", study)).content.decode()
    assert 'name="wc"' not in html and "data-toggle" in html


@pytest.mark.django_db
def test_viewer_of_a_failed_study_says_why_and_offers_a_new_upload(patient, clinician):
    study = study_make(patient=patient, by=clinician, state=Study.State.FAILED)
    html = signed_in(clinician).get(url("study", study)).content.decode()
    assert "The analysis failed" in html and "The pixels are broken." in html
    assert url("upload", public_id=patient.public_id) in html
    assert "hx-get" not in html.split('id="study-status"')[1].split(">")[0]


@pytest.mark.django_db
def test_another_care_team_gets_404_for_the_study_and_everything_of_it(done, other_clinician):
    client = signed_in(other_clinician)
    for name in (
        "study",
        "study_status",
        "study_image",
        "study_heatmap",
        "study_mask",
        "study_original",
        "report_fhir",
    ):
        assert client.get(url(name, done)).status_code == 404, name
    for name in ("report", "report_sign"):
        assert client.post(url(name, done), {"text": "x", "confirm": "on"}).status_code == 404, name
    assert AuditEvent.objects.filter(action=AuditAction.DENIED).count() >= 9
    assert StudyReport.objects.get().status == StudyReport.Status.DRAFT


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_sign_in(done):
    response = Client().get(url("study", done))
    assert response.status_code == 302 and "/accounts/login" in response["Location"]
    assert Client().get(url("study_status", done)).status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["study_status", "worklist_rows"])
def test_a_poll_after_the_session_ended_reloads_the_page(done, name):
    target = url(name, done) if name == "study_status" else url(name)
    response = Client().get(target, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Refresh"] == "true"


# --- the report ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_radiologist_edits_the_draft(done, radiologist):
    client = signed_in(radiologist)
    page = client.get(url("study", done)).content.decode()
    assert 'name="text"' in page and url("report_sign", done) in page
    response = client.post(url("report", done), {"text": "Small nodule, right upper lobe."})
    assert response.status_code == 302
    assert response["Location"].endswith("#report")
    report = StudyReport.objects.get()
    assert report.text == "Small nodule, right upper lobe."
    assert report.status == StudyReport.Status.DRAFT and report.edited_by == radiologist


@pytest.mark.django_db
def test_an_empty_report_is_refused(done, radiologist):
    response = signed_in(radiologist).post(url("report", done), {"text": "   "})
    assert response.status_code == 400
    assert "The report cannot be empty." in response.content.decode()


@pytest.mark.django_db
def test_clinician_reads_the_report_but_cannot_edit_or_sign(done, clinician):
    client = signed_in(clinician)
    html = client.get(url("study", done)).content.decode()
    assert 'name="text"' not in html and "AI draft" in html
    assert "Radiologists edit and sign reports" in html
    assert client.post(url("report", done), {"text": "Mine"}).status_code == 403
    assert (
        client.post(url("report_sign", done), {"text": "Mine", "confirm": "on"}).status_code == 403
    )
    assert StudyReport.objects.get().status == StudyReport.Status.DRAFT


@pytest.mark.django_db
def test_signing_needs_the_confirmation(done, radiologist):
    response = signed_in(radiologist).post(url("report_sign", done), {"text": "Fine."})
    assert response.status_code == 400
    assert "Tick the box" in response.content.decode()
    assert StudyReport.objects.get().status == StudyReport.Status.DRAFT


@pytest.mark.django_db
def test_radiologist_signs_with_the_text_of_the_form(done, radiologist):
    client = signed_in(radiologist)
    response = client.post(url("report_sign", done), {"text": "Final words.", "confirm": "on"})
    assert response.status_code == 302
    report = StudyReport.objects.get()
    assert report.status == StudyReport.Status.SIGNED
    assert report.text == "Final words." and report.signed_by == radiologist
    html = client.get(url("study", done)).content.decode()
    assert f"Signed by <strong>{radiologist.full_name}</strong>" in html
    assert 'name="text"' not in html  # read-only once signed
    assert url("report_fhir", done) in html


@pytest.mark.django_db
def test_a_signed_report_cannot_be_edited(done, radiologist):
    report = StudyReport.objects.get()
    report_sign(report=report, by=radiologist, text="Signed text.")
    client = signed_in(radiologist)
    response = client.post(url("report", done), {"text": "Changed afterwards."})
    assert response.status_code == 400
    assert "signed and final" in response.content.decode()
    again = client.post(url("report_sign", done), {"text": "Changed.", "confirm": "on"})
    assert again.status_code == 400
    assert StudyReport.objects.get().text == "Signed text."


@pytest.mark.django_db
def test_fhir_export_only_once_signed(done, radiologist, clinician):
    client = signed_in(clinician)
    early = client.get(url("report_fhir", done))
    assert early.status_code == 409
    assert "not signed" in early.json()["error"]
    report_sign(report=StudyReport.objects.get(), by=radiologist, text="Final.")
    response = client.get(url("report_fhir", done))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    resource = json.loads(response.content)
    assert resource["resourceType"] == "DiagnosticReport"
    assert resource["status"] == "final"
    assert resource["conclusion"] == "Final."
    assert resource["identifier"][0]["system"].startswith("http://testserver/")
    assert audit_count(AuditAction.EXPORT, format="fhir") == 1


@pytest.mark.django_db
def test_a_study_without_report_has_no_fhir(patient, clinician):
    study = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    assert signed_in(clinician).get(url("report_fhir", study)).status_code == 404


# --- the worklist --------------------------------------------------------------------------------


@pytest.fixture
def worklist_studies(patient, clinician, version):
    now = timezone.now()
    return {
        "low": study_make(
            patient=patient,
            by=clinician,
            version=version,
            abnormal=0.1,
            uploaded_at=now - dt.timedelta(hours=5),
        ),
        "high": study_make(
            patient=patient,
            by=clinician,
            version=version,
            abnormal=0.9,
            uploaded_at=now - dt.timedelta(minutes=3),
        ),
        "mid": study_make(
            patient=patient,
            by=clinician,
            version=version,
            abnormal=0.4,
            modality="DX",
            uploaded_at=now - dt.timedelta(hours=1),
        ),
        "queued": study_make(
            patient=patient,
            by=clinician,
            state=Study.State.QUEUED,
            uploaded_at=now - dt.timedelta(days=3),
        ),
    }


def row_order(html: str, studies: dict[str, Study]) -> list[str]:
    positions = {key: html.find(f'data-study="{s.public_id}"') for key, s in studies.items()}
    return [key for key, at in sorted(positions.items(), key=lambda kv: kv[1]) if at >= 0]


@pytest.mark.django_db
def test_worklist_puts_the_most_urgent_first(worklist_studies, clinician, patient):
    page = signed_in(clinician).get(url("worklist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert row_order(html, worklist_studies) == ["high", "mid", "low", "queued"]
    assert "90 %" in html and "urgency-high" in html and "urgency-low" in html
    assert patient.mrn in html and patient.family_name in html
    assert "3 days" in html and "5 h" in html  # waiting since the upload
    assert 'hx-get="/imaging/worklist/rows/"' in html and 'hx-trigger="every 5s"' in html
    assert 'hx-include="#worklist-filter"' in html
    assert WARNING in html
    assert audit_count(AuditAction.READ, page="worklist") == 1


@pytest.mark.django_db
def test_worklist_filters(worklist_studies, clinician, radiologist):
    client = signed_in(clinician)
    html = client.get(url("worklist"), {"modality": "DX"}).content.decode()
    assert row_order(html, worklist_studies) == ["mid"]
    html = client.get(url("worklist"), {"state": "queued"}).content.decode()
    assert row_order(html, worklist_studies) == ["queued"]
    report_sign(report=worklist_studies["low"].report, by=radiologist, text="Normal.")
    html = client.get(url("worklist"), {"reported": "signed"}).content.decode()
    assert row_order(html, worklist_studies) == ["low"]
    html = client.get(url("worklist"), {"reported": "unsigned"}).content.decode()
    assert row_order(html, worklist_studies) == ["high", "mid", "queued"]
    # A value that is not offered is ignored rather than an error.
    html = client.get(url("worklist"), {"state": "bogus", "modality": "CT"}).content.decode()
    assert row_order(html, worklist_studies) == ["high", "low", "queued"]


@pytest.mark.django_db
def test_worklist_rows_fragment_for_the_poll(worklist_studies, clinician):
    client = signed_in(clinician)
    before = AuditEvent.objects.count()
    response = client.get(url("worklist_rows"), {"modality": "CT"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<tbody" in html and "<html" not in html
    assert row_order(html, worklist_studies) == ["high", "low", "queued"]
    assert AuditEvent.objects.count() == before  # the poll writes no audit event
    client.get(url("worklist_rows"))
    assert audit_count(AuditAction.READ, page="worklist_rows") == 1


@pytest.mark.django_db
def test_worklist_shows_only_the_users_care_teams(worklist_studies, other_clinician):
    html = signed_in(other_clinician).get(url("worklist")).content.decode()
    assert row_order(html, worklist_studies) == []
    assert "No imaging study of your patients yet" in html


@pytest.mark.django_db
def test_worklist_is_capped_with_a_note(worklist_studies, clinician, monkeypatch):
    monkeypatch.setattr(worklist_pages, "WORKLIST_LIMIT", 2)
    html = signed_in(clinician).get(url("worklist")).content.decode()
    assert row_order(html, worklist_studies) == ["high", "mid"]
    assert "The 2 most urgent of 4 studies are shown" in html


# --- model cards ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_model_card_pages_for_any_staff(version):
    imaging_version(
        version="2025.9",
        is_active=False,
        is_synthetic=False,
        manifest={"classes": ["normal", "nodule"]},
    )
    client = signed_in(factories.ResearcherFactory())
    listing = client.get(url("model_list")).content.decode()
    assert "phantom-cnn" in listing and "2025.9" in listing and "in use" in listing
    page = client.get(url("model_detail", public_id=version.public_id))
    assert page.status_code == 200
    html = page.content.decode()
    assert WARNING in html
    assert "Demonstration of the imaging workflow." in html
    assert "Trained on synthetic phantoms only." in html
    assert "Confusion matrix" in html and "confusion-table" in html
    assert "0.950" in html  # nodule AUROC
    assert "Dice" in html and "IoU" in html and "Pointing game" in html
    assert version.sha256 in html


@pytest.mark.django_db
def test_model_card_of_an_unknown_version_is_404_and_needs_sign_in(version, clinician):
    import uuid

    assert signed_in(clinician).get(url("model_detail", public_id=uuid.uuid4())).status_code == 404
    assert Client().get(url("model_list")).status_code == 302


# --- admin ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_lists_studies_without_phi_and_activates_a_model(done, admin_user, version):
    client = signed_in(admin_user)
    listing = client.get(reverse("admin:imaging_study_changelist"))
    assert listing.status_code == 200
    html = listing.content.decode()
    assert str(done.public_id) in html
    assert "scan.png" not in html and done.patient.family_name not in html
    detail = client.get(reverse("admin:imaging_study_change", args=[done.pk])).content.decode()
    assert "scan.png" not in detail and done.patient.family_name not in detail
    assert client.get(reverse("admin:imaging_studyreport_changelist")).status_code == 200

    other = imaging_version(version="2026.2", is_active=False)
    response = client.post(
        reverse("admin:imaging_imagingmodelversion_changelist"),
        {"action": "activate", "_selected_action": [other.pk]},
    )
    assert response.status_code == 302
    other.refresh_from_db()
    version.refresh_from_db()
    assert other.is_active and not version.is_active


@pytest.mark.django_db
def test_admin_of_imaging_is_for_administrators_only(done, clinician):
    clinician.is_staff = True
    clinician.save()
    client = signed_in(clinician)
    assert client.get(reverse("admin:imaging_study_changelist")).status_code == 403
