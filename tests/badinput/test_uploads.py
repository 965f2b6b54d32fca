"""The upload corpus through every way in: the API, the web form answered as JSON (the page's
script) and the web form answered as HTML. Each hostile file is a 4xx naming what is wrong in a
sentence, with its intake code; nothing is stored under MEDIA_ROOT, no Study row is written and
no analysis is queued. Names claim an innocent format: the content decides."""

import html
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from imaging import storage
from imaging.models import Study
from tests.badinput.corpus import CORPUS, MB, BadUpload, _nested_sequences
from tests.imaging.conftest import png_bytes

pytestmark = pytest.mark.django_db

STUDIES = "/api/v1/imaging/studies/"
CHANNELS = ["api", "form-json", "form-page"]
# What a message for a person must not contain: internals, not a sentence.
INTERNALS = ("Traceback", "Exception", "Error:", "pydicom", "PIL", "errno", "0x")


def _file(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def send(channel: str, api: APIClient, web: Client, patient: Any, data: bytes, name: str):
    if channel == "api":
        body = {"patient": str(patient.public_id), "image": _file(data, name)}
        return api.post(STUDIES, body, format="multipart")
    url = reverse("imaging:upload", kwargs={"public_id": patient.public_id})
    headers = {"Accept": "application/json"} if channel == "form-json" else None
    return web.post(url, {"image": _file(data, name)}, headers=headers)


def refusal(channel: str, response: Any) -> tuple[str, str]:
    """(code, message) of a refusal, whichever way it came back."""
    if channel == "api":
        body = response.json()
        return body["code"], body["detail"]
    if channel == "form-json":
        body = response.json()
        return body["code"], body["error"]
    page = response.content.decode()
    errors = page.split("data-upload-error", 1)[1].split("</div>", 1)[0]
    if "Not accepted:" not in errors:  # the form's own field check (e.g. an empty file)
        return "invalid", html.unescape(errors.split("<p>", 1)[1].split("</p>", 1)[0])
    message = errors.split("Not accepted:</strong>", 1)[1].split("<span", 1)[0].strip()
    code = errors.split('<span class="muted small mono">(', 1)[1].split(")", 1)[0]
    return code, html.unescape(message)


def assert_understandable(message: str) -> None:
    assert 15 <= len(message) <= 400, message
    assert message[0].isupper() and message.rstrip().endswith((".", ")")), message
    assert not any(word in message for word in INTERNALS), message


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("item", CORPUS, ids=lambda item: item.name)
def test_each_hostile_file_is_refused_clearly_and_nothing_is_kept(
    item: BadUpload, channel, api, web, patient, nothing_kept
):
    response = send(channel, api, web, patient, item.data(), item.filename)

    assert response.status_code == 400, response.content[:300]
    code, message = refusal(channel, response)
    assert code in item.codes, (code, message)
    assert_understandable(message)
    if channel != "api" and code != "invalid":
        assert "Nothing was stored." in message


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_oversize_file_is_a_413_and_nothing_is_kept(
    channel, api, web, patient, settings, nothing_kept
):
    settings.IMAGING_MAX_UPLOAD_BYTES = MB
    response = send(channel, api, web, patient, png_bytes(size=2048), "scan.png")
    assert response.status_code == 413
    code, message = refusal(channel, response)
    assert code == "too_large"
    assert_understandable(message)


@pytest.mark.parametrize("channel", CHANNELS)
def test_sequences_nested_thousands_deep_are_refused_without_crashing(
    channel, api, web, patient, nothing_kept
):
    """pydicom reads a sequence by recursing once per level: 5,000 levels must end in a clean
    refusal, not a RecursionError escaping as a 500 or a crashed process."""
    response = send(channel, api, web, patient, _nested_sequences(5000), "scan.dcm")
    assert response.status_code == 400
    code, message = refusal(channel, response)
    assert code == "dicom_corrupt"
    assert_understandable(message)


def test_a_moderately_nested_sequence_is_an_ordinary_dicom(
    api, patient, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = send("api", api, None, patient, _nested_sequences(20), "scan.dcm")
    assert response.status_code == 202, response.content
    assert Study.objects.get().kind == Study.Kind.DICOM
    assert len(callbacks) == 1


# --- hostile names and fields around a valid image ---------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["scan\x00.png", "x" * MB + ".png", "../../../../etc/passwd", "C:\\Windows\\evil.png", ""],
    ids=["nul", "one-megabyte", "traversal", "windows-path", "blank"],
)
@pytest.mark.parametrize("channel", ["api", "form-json"])
def test_a_hostile_file_name_never_reaches_storage(
    name, channel, api, web, patient, settings, tmp_path, django_capture_on_commit_callbacks
):
    """The name is kept only as an encrypted label (<= 255 characters, no NUL); the stored file
    has a random name under MEDIA_ROOT/imaging. A refusal is a 4xx that keeps nothing."""
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=False):
        response = send(channel, api, web, patient, png_bytes(), name)
    assert response.status_code in (202, 400), response.content[:300]
    from tests.badinput.conftest import imaging_files

    files = imaging_files(settings.MEDIA_ROOT)
    if response.status_code == 400:
        assert not Study.objects.exists() and files == []
        return
    study = Study.objects.get()
    assert len(study.original_name) <= 255 and "\x00" not in study.original_name
    assert files == [storage.path_of(study.file_name)]
    assert "passwd" not in study.file_name and ".." not in study.file_name


@pytest.mark.parametrize(
    "patient_field",
    ["\x00", "A" * MB, "'; DROP TABLE imaging_study; --", "../" * 10, "{}"],
    ids=["nul", "one-megabyte", "sql", "traversal", "json"],
)
def test_a_hostile_patient_field_is_a_400(patient_field, api, nothing_kept):
    body = {"patient": patient_field, "image": _file(png_bytes(), "scan.png")}
    response = api.post(STUDIES, body, format="multipart")
    assert response.status_code == 400
    assert response.json() == {"patient": ["Must be a valid UUID."]}
