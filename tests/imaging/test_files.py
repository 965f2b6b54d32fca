"""The study's files behind the viewer: the key frame (re-windowed on request), the heatmap, the
mask and the original upload. Each is an attachment named by the study id, never cached, never
sniffed; another care team gets a 404 (audited), and a window that makes no sense a 400."""

import io
from typing import Any

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts.models import AuditAction, AuditEvent
from imaging.models import Study
from tests.accounts.helpers import login_verified
from tests.imaging.conftest import study_make

FILES = ("study_image", "study_heatmap", "study_mask", "study_original")


def url(name: str, study: Study) -> str:
    return reverse(f"imaging:{name}", kwargs={"public_id": study.public_id})


def signed_in(user: Any) -> Client:
    client = Client()
    login_verified(client, user)
    return client


def pixels(response: Any) -> np.ndarray:
    return np.asarray(
        Image.open(
            io.BytesIO(
                b"".join(response.streaming_content) if response.streaming else response.content
            )
        )
    )


@pytest.fixture
def done(patient, clinician):
    return study_make(patient=patient, by=clinician)


@pytest.mark.django_db
@pytest.mark.parametrize("name", FILES)
def test_files_are_private_attachments_named_by_the_study(done, clinician, name):
    response = signed_in(clinician).get(url(name, done))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert str(done.public_id) in disposition and "scan.png" not in disposition
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert pixels(response).shape[:2] == (128, 128)


@pytest.mark.django_db
@pytest.mark.parametrize("name", FILES)
def test_another_care_team_gets_404_for_every_file(done, other_clinician, name):
    response = signed_in(other_clinician).get(url(name, done))
    assert response.status_code == 404
    denied = AuditEvent.objects.filter(action=AuditAction.DENIED, object_id=str(done.public_id))
    assert denied.count() == 1


@pytest.mark.django_db
def test_file_reads_are_audited(done, clinician):
    client = signed_in(clinician)
    client.get(url("study_heatmap", done))
    client.get(url("study_original", done))
    reads = AuditEvent.objects.filter(action=AuditAction.READ, object_id=str(done.public_id))
    assert [e.detail["file"] for e in reads] == ["heatmap"]
    export = AuditEvent.objects.get(action=AuditAction.EXPORT, object_id=str(done.public_id))
    assert export.detail["file"] == "original"


@pytest.mark.django_db
def test_a_pending_study_has_no_images_yet(patient, clinician):
    study = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    client = signed_in(clinician)
    for name in ("study_image", "study_heatmap", "study_mask"):
        assert client.get(url(name, study)).status_code == 404, name
    assert client.get(url("study_original", study)).status_code == 200


@pytest.mark.django_db
def test_window_presets_and_numbers_re_render_the_key_frame(done, clinician):
    client = signed_in(clinician)
    stored = client.get(url("study_image", done))
    lung = client.get(url("study_image", done), {"window": "lung"})
    bone = client.get(url("study_image", done), {"window": "bone"})
    numbers = client.get(url("study_image", done), {"wc": "-600", "ww": "1500"})
    for response in (lung, bone, numbers):
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"].startswith("attachment;")
        assert "no-store" in response["Cache-Control"]
    # The frame runs from -1000 to 400 HU: the lung window shows it, bone clips most of it dark.
    assert pixels(lung).mean() > pixels(bone).mean()
    assert np.array_equal(pixels(lung), pixels(numbers))
    assert not np.array_equal(pixels(stored), pixels(lung))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"window": "spleen"},
        {"wc": "forty", "ww": "400"},
        {"wc": "40"},
        {"ww": "400"},
        {"wc": "40", "ww": "0"},
        {"wc": "nan", "ww": "400"},
        {"wc": "1e9", "ww": "400"},
    ],
)
def test_nonsense_windows_are_refused(done, clinician, query):
    response = signed_in(clinician).get(url("study_image", done), query)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "window" in response.content.decode().lower()


@pytest.mark.django_db
def test_files_need_a_signed_in_user(done):
    for name in FILES:
        response = Client().get(url(name, done))
        assert response.status_code == 302, name
