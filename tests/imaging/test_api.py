"""/api/v1/imaging/: submit (202 + status URL, refusals that keep nothing), list, detail, the
files, the report's edit/sign/FHIR flow and the model cards. Every endpoint has an allowed and a
denied case; another care team gets 404 everywhere a study is named."""

import base64
import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.parsers import MultiPartParser
from rest_framework.test import APIClient

from accounts.models import AuditAction, AuditEvent, User
from imaging import storage
from imaging.models import ImagingModelVersion, Study, StudyReport
from tests import factories
from tests.imaging.conftest import png_bytes, study_make

pytestmark = pytest.mark.django_db

STUDIES = "/api/v1/imaging/studies/"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def client_for(db) -> Callable[[User], APIClient]:
    """An APIClient that sends `Authorization: Token <key>` for `user`."""

    def make(user: User) -> APIClient:
        token, _ = Token.objects.get_or_create(user=user)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api

    return make


@pytest.fixture
def api(client_for, clinician) -> APIClient:
    """The clinician on the patient's care team."""
    return client_for(clinician)


@pytest.fixture
def other_api(client_for, other_clinician) -> APIClient:
    return client_for(other_clinician)


@pytest.fixture
def rad_api(client_for, radiologist) -> APIClient:
    """The radiologist on the patient's care team."""
    return client_for(radiologist)


@pytest.fixture
def other_rad_api(client_for):
    """A radiologist on another care team."""
    user = factories.RadiologistFactory()
    factories.care_team_make(members=[user])
    return client_for(user)


@pytest.fixture
def nurse_api(client_for, team):
    from patients.services import care_team_add_member

    user = factories.NurseFactory()
    care_team_add_member(team=team, user=user)
    return client_for(user)


@pytest.fixture
def media(settings, tmp_path) -> Path:
    """A MEDIA_ROOT of this test's own, so that "nothing was stored" can be checked."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media"


@pytest.fixture
def version(db) -> ImagingModelVersion:
    return ImagingModelVersion.objects.create(
        name="chest-cnn",
        version="2024.1",
        artifact_dir="chest-cnn/2024.1",
        sha256="a" * 64,
        manifest={
            "classes": ["normal", "nodule", "opacity"],
            "normal_class": "normal",
            "card_warning": "Trained on synthetic images only.",
            "intended_use": "Triage support.",
        },
        is_synthetic=True,
        is_active=True,
    )


@pytest.fixture
def done(patient, clinician, version) -> Study:
    return study_make(patient=patient, by=clinician, version=version)


def stored_files(media: Path) -> list[Path]:
    folder = media / "imaging"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def upload(data: bytes, name: str = "scan.png") -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def submit(api: APIClient, patient_id: object, data: bytes, **extra: object):
    body = {"patient": str(patient_id), "image": upload(data), **extra}
    return api.post(STUDIES, body, format="multipart")


def url(study: Study, tail: str = "") -> str:
    return f"{STUDIES}{study.public_id}/{tail}"


# --- submit --------------------------------------------------------------------------------------


def test_a_png_is_accepted_with_202_a_status_url_and_a_location(
    api, patient, media, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = submit(api, patient.public_id, png_bytes())

    assert response.status_code == 202, response.content
    body = response.json()
    study = Study.objects.get()
    assert body["id"] == str(study.public_id)
    assert body["state"] == "queued"
    assert body["status_url"] == f"http://testserver{url(study)}"
    assert response["Location"] == body["status_url"]
    assert body["viewer_url"].startswith("http://testserver/imaging/studies/")
    assert len(callbacks) == 1  # the analysis is published once the row is committed
    assert storage.original_read_bytes(study.file_name) == png_bytes()
    assert study.patient == patient and study.original_name == "scan.png"
    # The status URL answers at once, with the study's place in the queue.
    polled = api.get(body["status_url"])
    assert polled.status_code == 200
    assert polled.json()["queue"]["position"] == 0


@pytest.mark.parametrize("factory", [factories.NurseFactory, factories.ResearcherFactory])
def test_roles_that_do_not_upload_get_403(client_for, team, patient, media, factory):
    from patients.services import care_team_add_member

    user = factory()
    care_team_add_member(team=team, user=user)
    response = submit(client_for(user), patient.public_id, png_bytes())
    assert response.status_code == 403
    assert not Study.objects.exists() and stored_files(media) == []


def test_another_care_teams_patient_is_a_404_and_audited(other_api, patient, media):
    response = submit(other_api, patient.public_id, png_bytes())
    assert response.status_code == 404
    assert not Study.objects.exists() and stored_files(media) == []
    assert AuditEvent.objects.filter(
        action=AuditAction.DENIED, object_id=str(patient.public_id)
    ).exists()


def test_an_unknown_patient_is_a_404(api, media):
    response = submit(api, "7c1e4a52-7d0b-4b7e-9f3c-1a2b3c4d5e6f", png_bytes())
    assert response.status_code == 404


def test_garbage_bytes_are_a_400_with_a_code_and_nothing_is_kept(api, patient, media):
    response = submit(api, patient.public_id, b"%PDF-1.4 definitely not an image" * 20)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unknown_format"
    assert body["detail"]
    assert not Study.objects.exists()
    assert stored_files(media) == []


def test_an_empty_file_is_a_400(api, patient, media):
    response = submit(api, patient.public_id, b"")
    assert response.status_code == 400
    assert response.json()["code"] == "empty_file"
    assert not Study.objects.exists() and stored_files(media) == []


def test_a_file_over_the_limit_is_a_413_and_nothing_is_kept(api, patient, media, settings):
    settings.IMAGING_MAX_UPLOAD_BYTES = 1000  # the PNG is ~16 kB: refused while streaming
    response = submit(api, patient.public_id, png_bytes())
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Study.objects.exists() and stored_files(media) == []


def test_a_body_announced_past_the_limit_is_a_413_before_it_is_parsed(
    api, patient, media, settings, monkeypatch
):
    settings.IMAGING_MAX_UPLOAD_BYTES = 1000

    def parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the body was parsed")

    monkeypatch.setattr(MultiPartParser, "parse", parse)
    response = submit(api, patient.public_id, b"\x00" * 200_000)
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "too_large" and "1000 bytes" in body["detail"]
    assert not Study.objects.exists() and stored_files(media) == []


def test_a_json_body_is_a_415(api, patient, media):
    response = api.post(STUDIES, {"patient": str(patient.public_id)}, format="json")
    assert response.status_code == 415
    response = api.generic(
        "POST", STUDIES, f"patient={patient.public_id}", "application/x-www-form-urlencoded"
    )
    assert response.status_code == 415


def test_missing_fields_are_a_400_naming_them(api, media):
    response = api.post(STUDIES, {}, format="multipart")
    assert response.status_code == 400
    assert set(response.json()) == {"patient", "image"}


def test_text_in_the_patient_field_is_a_400(api, media):
    response = submit(api, "'; DROP TABLE patients; --", png_bytes())
    assert response.status_code == 400
    assert response.json() == {"patient": ["Must be a valid UUID."]}


def test_an_image_sent_as_text_and_an_unknown_field_are_400s(api, patient, media):
    response = api.post(
        STUDIES, {"patient": str(patient.public_id), "image": "not a file"}, format="multipart"
    )
    assert response.status_code == 400
    assert "image" in response.json()
    response = submit(api, patient.public_id, png_bytes(), modality="CT")
    assert response.status_code == 400
    assert response.json() == {"modality": ["Unknown or read-only field."]}
    assert not Study.objects.exists()


def test_anonymous_gets_401(patient, media):
    assert submit(APIClient(), patient.public_id, png_bytes()).status_code == 401
    assert APIClient().get(STUDIES).status_code == 401


# --- list ----------------------------------------------------------------------------------------


def test_the_list_shows_visible_studies_newest_first_without_phi(api, patient, clinician, version):
    older = study_make(patient=patient, by=clinician, version=version)
    newer = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    study_make(patient=factories.patient_make(), by=clinician)  # another team's patient

    response = api.get(STUDIES)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [r["id"] for r in body["results"]] == [str(newer.public_id), str(older.public_id)]
    row = body["results"][1]
    assert row["patient"] == str(patient.public_id)
    assert row["report"]["status"] == "draft"
    assert row["url"] == f"http://testserver{url(older)}"
    for secret in ("original_name", "dicom_phi", "file_name", "study_date", "claim_token"):
        assert secret not in row
    assert b"scan.png" not in response.content


def test_another_care_team_sees_an_empty_list(other_api, done):
    response = other_api.get(STUDIES)
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_the_list_filters_by_patient_state_and_modality(api, team, patient, clinician, version):
    second = factories.patient_make(team=team, by=clinician)
    ct = study_make(patient=patient, by=clinician, version=version)
    mr = study_make(patient=second, by=clinician, modality="MR", state=Study.State.QUEUED)

    def ids(**params: str) -> list[str]:
        response = api.get(STUDIES, params)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids(patient=str(second.public_id)) == [str(mr.public_id)]
    assert ids(state="done") == [str(ct.public_id)]
    assert ids(modality="ct") == [str(ct.public_id)]
    assert ids(modality="MR", state="done") == []


def test_urgency_ordering_puts_the_most_likely_abnormal_first(api, patient, clinician, version):
    low = study_make(patient=patient, by=clinician, version=version, abnormal=0.2)
    high = study_make(patient=patient, by=clinician, version=version, abnormal=0.9)
    pending = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    response = api.get(STUDIES, {"ordering": "urgency"})
    ids = [row["id"] for row in response.json()["results"]]
    assert ids == [str(high.public_id), str(low.public_id), str(pending.public_id)]


@pytest.mark.parametrize(
    "params",
    [{"state": "exploded"}, {"patient": "not-a-uuid"}, {"ordering": "name"}, {"modality": "A\x00"}],
)
def test_bad_list_filters_are_400s(api, params):
    response = api.get(STUDIES, params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)


# --- detail --------------------------------------------------------------------------------------


def test_a_queued_study_shows_its_place_in_the_queue(api, patient, clinician):
    first = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    second = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    body = api.get(url(second)).json()
    assert body["state"] == "queued"
    assert body["queue"]["position"] == 1
    assert body["queue"]["eta_seconds"] > 0
    assert body["result"] is None and body["failure"] is None and body["report"] is None
    assert body["links"]["image"] is None and body["links"]["report"] is None
    assert api.get(url(first)).json()["queue"]["position"] == 0


def test_a_done_study_shows_its_result_model_links_and_report(api, done, patient, version):
    response = api.get(url(done))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(done.public_id)
    assert body["patient"] == str(patient.public_id)
    assert (body["modality"], body["body_part"], body["rows"], body["columns"]) == (
        "CT",
        "CHEST",
        128,
        128,
    )
    assert body["frames"] == 1 and body["pixel_spacing_mm"] == [0.7, 0.7]
    assert body["queue"] is None and body["failure"] is None
    assert body["timings"]["classify"] == 10.0
    result = body["result"]
    assert result["predicted_class"] == "nodule"
    assert result["abnormal_probability"] == pytest.approx(0.8)
    assert set(result["probabilities"]) == {"normal", "nodule", "opacity"}
    assert (result["key_frame"], result["lesion_area_px"]) == (0, 40)
    assert result["lesion_area_mm2"] == pytest.approx(19.6)
    assert result["model"] == {
        "name": "chest-cnn",
        "version": "2024.1",
        "is_synthetic": True,
        "warning": "Trained on synthetic images only.",
    }
    base = f"http://testserver{url(done)}"
    assert body["links"]["image"] == base + "image.png"
    assert body["links"]["heatmap"] == base + "heatmap.png"
    assert body["links"]["mask"] == base + "mask.png"
    assert body["links"]["report"] == base + "report/"
    assert body["links"]["viewer"] == f"http://testserver/imaging/studies/{done.public_id}/"
    assert body["report"] == {"status": "draft", "signed_at": None}
    assert "original_name" not in body and "dicom_phi" not in body
    read = AuditEvent.objects.filter(action=AuditAction.READ, object_id=str(patient.public_id))
    assert read.get().detail["study"] == str(done.public_id)


def test_a_failed_study_says_why(api, patient, clinician):
    study = study_make(patient=patient, by=clinician, state=Study.State.FAILED)
    body = api.get(url(study)).json()
    assert body["failure"] == {"code": "undecodable_pixels", "reason": "The pixels are broken."}
    assert body["result"] is None and body["queue"] is None


def test_the_detail_shows_the_study_date_to_its_care_team(api, patient, clinician):
    study = study_make(
        patient=patient,
        by=clinician,
        state=Study.State.QUEUED,
        dicom_phi={"study_date": "2024-03-01", "patient_name": "DOE^JANE"},
    )
    body = api.get(url(study)).json()
    assert body["study_date"] == "2024-03-01"
    assert "DOE" not in json.dumps(body)


def test_another_care_team_gets_404_on_the_detail_audited(other_api, done):
    response = other_api.get(url(done))
    assert response.status_code == 404
    denied = AuditEvent.objects.filter(action=AuditAction.DENIED, object_type="imaging.study")
    assert denied.get().object_id == str(done.public_id)


# --- files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["image", "heatmap", "mask"])
def test_the_care_team_downloads_each_file_as_a_png_attachment(api, done, which):
    response = api.get(url(done, f"{which}.png"), HTTP_ACCEPT="image/png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == (
        f'attachment; filename="study-{done.public_id}-{which}.png"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content).startswith(PNG_MAGIC)


@pytest.mark.parametrize("which", ["image", "heatmap", "mask"])
def test_another_care_team_gets_404_on_each_file(other_api, done, which):
    response = other_api.get(url(done, f"{which}.png"), HTTP_ACCEPT="image/png")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_the_image_can_be_rewindowed(api, done):
    response = api.get(url(done, "image.png"), {"wc": "40", "ww": "400"})
    assert response.status_code == 200
    assert response.content.startswith(PNG_MAGIC)


@pytest.mark.parametrize(
    "params",
    [{"wc": "40"}, {"wc": "40", "ww": "0"}, {"wc": "nan", "ww": "400"}, {"window": "disco"}],
)
def test_a_bad_window_is_a_400(api, done, params):
    response = api.get(url(done, "image.png"), params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_no_file_yet_or_no_such_file_is_a_404(api, patient, clinician, done):
    queued = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    assert api.get(url(queued, "heatmap.png")).status_code == 404
    assert api.get(url(done, "original.png")).status_code == 404


# --- reports -------------------------------------------------------------------------------------


def test_the_care_team_reads_the_draft_report(api, done):
    response = api.get(url(done, "report/"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "draft"
    assert body["text"] == body["draft_text"] and "AI DRAFT" in body["text"]
    assert body["signed_by"] is None and body["signed_at"] is None and body["signed_sha256"] == ""
    assert body["study"] == str(done.public_id)


def test_a_study_without_a_report_is_a_404(api, patient, clinician):
    queued = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    assert api.get(url(queued, "report/")).status_code == 404


@pytest.mark.parametrize("tail", ["report/", "report/fhir/"])
def test_another_care_team_gets_404_on_the_report_and_its_export(other_rad_api, done, tail):
    assert other_rad_api.get(url(done, tail)).status_code == 404


def test_another_care_teams_radiologist_cannot_edit_or_sign(other_rad_api, done):
    assert other_rad_api.put(url(done, "report/"), {"text": "x"}, format="json").status_code == 404
    assert other_rad_api.post(url(done, "report/sign/"), {}, format="json").status_code == 404
    assert StudyReport.objects.get(study=done).status == StudyReport.Status.DRAFT


@pytest.mark.parametrize("who", ["api", "nurse_api"])
def test_only_radiologists_edit_and_sign(request, done, who):
    client = request.getfixturevalue(who)
    assert client.put(url(done, "report/"), {"text": "Mine."}, format="json").status_code == 403
    assert client.patch(url(done, "report/"), {"text": "Mine."}, format="json").status_code == 403
    assert client.post(url(done, "report/sign/"), {}, format="json").status_code == 403
    report = StudyReport.objects.get(study=done)
    assert report.status == StudyReport.Status.DRAFT and "AI DRAFT" in report.text


def test_a_radiologist_edits_signs_and_exports_the_report(rad_api, radiologist, done, patient):
    report_url = url(done, "report/")
    assert rad_api.get(url(done, "report/fhir/")).status_code == 409  # not signed yet

    edited = rad_api.put(report_url, {"text": "  Nodule, 5 mm. Follow up.  "}, format="json")
    assert edited.status_code == 200, edited.content
    assert edited.json()["text"] == "Nodule, 5 mm. Follow up."
    assert edited.json()["status"] == "draft"
    patched = rad_api.patch(report_url, {"text": "Nodule, 6 mm."}, format="json")
    assert patched.json()["text"] == "Nodule, 6 mm."
    assert patched.json()["draft_text"].startswith("AI DRAFT")

    signed = rad_api.post(
        url(done, "report/sign/"), {"text": "Nodule, 6 mm. CT in 3 months."}, format="json"
    )
    assert signed.status_code == 200, signed.content
    body = signed.json()
    final = "Nodule, 6 mm. CT in 3 months."
    assert body["status"] == "signed" and body["text"] == final
    assert body["signed_by"] == str(radiologist.public_id) and body["signed_at"]
    assert body["signed_sha256"] == hashlib.sha256(final.encode()).hexdigest()
    assert rad_api.get(url(done)).json()["report"]["status"] == "signed"

    fhir = rad_api.get(url(done, "report/fhir/"))
    assert fhir.status_code == 200
    assert fhir["Content-Type"].startswith("application/fhir+json")
    resource = fhir.json()
    assert resource["resourceType"] == "DiagnosticReport"
    assert resource["status"] == "final"
    assert resource["subject"] == {"reference": f"Patient/{patient.public_id}"}
    assert resource["conclusion"] == final
    assert base64.b64decode(resource["presentedForm"][0]["data"]).decode() == final
    observations = resource["contained"]
    assert {o["resourceType"] for o in observations} == {"Observation"}
    assert len(observations) == 4  # three class probabilities and the lesion area
    for obs in observations:
        assert [tag["code"] for tag in obs["meta"]["security"]] == ["AIAST"]
    assert [r["reference"] for r in resource["result"]] == [f"#{o['id']}" for o in observations]
    export = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert export.object_id == str(patient.public_id)
    assert export.detail["study"] == str(done.public_id)


def test_a_signed_report_is_final(rad_api, done):
    assert rad_api.post(url(done, "report/sign/"), format="json").status_code == 200
    for method in (rad_api.put, rad_api.patch):
        response = method(url(done, "report/"), {"text": "Changed."}, format="json")
        assert response.status_code == 409
        assert "signed and final" in response.json()["detail"]
    again = rad_api.post(url(done, "report/sign/"), {"text": "Changed."}, format="json")
    assert again.status_code == 409
    report = StudyReport.objects.get(study=done)
    assert report.text != "Changed." and report.signed_sha256 == (
        hashlib.sha256(str(report.text).encode()).hexdigest()
    )


@pytest.mark.parametrize(
    "body",
    [{"text": ""}, {"text": "   "}, {}, {"text": "x" * 20_001}, {"text": "ok", "status": "signed"}],
)
def test_a_bad_report_edit_is_a_400(rad_api, done, body):
    response = rad_api.put(url(done, "report/"), body, format="json")
    assert response.status_code == 400
    assert StudyReport.objects.get(study=done).edited_at is None


def test_the_clinician_exports_a_signed_report_and_anonymous_cannot(rad_api, api, done):
    rad_api.post(url(done, "report/sign/"), format="json")
    assert api.get(url(done, "report/fhir/"), HTTP_ACCEPT="application/json").status_code == 200
    assert APIClient().get(url(done, "report/fhir/")).status_code == 401


# --- models --------------------------------------------------------------------------------------


def test_the_model_cards_list_every_version(api, version):
    ImagingModelVersion.objects.create(
        name="chest-cnn",
        version="2023.9",
        artifact_dir="chest-cnn/2023.9",
        sha256="b" * 64,
        manifest={"classes": ["normal", "nodule"]},
    )
    response = api.get(reverse("api-imaging-models"))
    assert response.status_code == 200
    cards = response.json()
    assert [(c["version"], c["active"]) for c in cards] == [("2023.9", False), ("2024.1", True)]
    active = cards[1]
    assert active["id"] == str(version.public_id)
    assert active["is_synthetic"] is True
    assert active["warning"] == "Trained on synthetic images only."
    assert active["classes"] == ["normal", "nodule", "opacity"]


def test_the_model_cards_need_a_signed_in_user(version):
    assert APIClient().get(reverse("api-imaging-models")).status_code == 401
