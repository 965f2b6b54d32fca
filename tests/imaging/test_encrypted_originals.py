"""Imaging originals are encrypted at rest (imaging.filecrypt, imaging.storage): AES-256-GCM in
chunks under a key derived from PHI_ENCRYPTION_KEYS. A file that was altered, cut short, reordered
or sealed under a key no longer configured is refused, never read as data; plaintext files from
before keep working; no DICOM header byte is left in clear under MEDIA_ROOT after an upload."""

import base64
import errno
import hashlib
import io
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from imaging import filecrypt, storage
from imaging.filecrypt import (
    HEADER,
    TAG_BYTES,
    StoredFileCorrupt,
    decrypt_chunks,
    encrypt_stream,
    file_key_derive,
)
from imaging.models import Study
from imaging.services import study_analyze, study_submit
from tests.accounts.helpers import login_verified
from tests.imaging.conftest import png_bytes, study_make
from tests.imaging.intake.builders import ct_slice, dicom_bytes

KEY_A = file_key_derive(b"a" * 32)
KEY_B = file_key_derive(b"b" * 32)
SMALL = 64  # chunk size for multi-chunk tests: the format is the same at 1 MiB
CANARY_NAME = "Quaxencrypt^Zebcanary"
CANARY_ID = "QXENCID4711"
CANARY_BIRTH = "19310203"


def _seal(data: bytes, key: filecrypt.FileKey = KEY_A, chunk: int = SMALL) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, key, chunk_bytes=chunk)
    return out.getvalue()


def _open(sealed: bytes, keys: tuple[filecrypt.FileKey, ...] = (KEY_A,)) -> bytes:
    return b"".join(decrypt_chunks(io.BytesIO(sealed), keys))


def _fernet_key(seed: bytes) -> str:
    return base64.urlsafe_b64encode(seed * (32 // len(seed))).decode()


def _media_files(settings: Any) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _received(data: bytes) -> Path:
    return storage.receive([data], max_bytes=len(data) + 1).path


def _hostile_dicom() -> bytes:
    ds = ct_slice(rows=64, columns=64)
    ds.PatientName = CANARY_NAME
    ds.PatientID = CANARY_ID
    ds.PatientBirthDate = CANARY_BIRTH
    return dicom_bytes(ds)


# --- the format ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, SMALL - 1, SMALL, SMALL * 3, SMALL * 3 + 5])
def test_round_trip_small_and_multi_chunk(size):
    data = os.urandom(size)
    sealed = _seal(data)
    assert sealed.startswith(filecrypt.MAGIC)
    assert data == _open(sealed)
    if size >= 16:
        assert data not in sealed


def test_a_large_file_is_sealed_in_1_mib_chunks():
    data = os.urandom(filecrypt.CHUNK_BYTES * 2 + 10)
    sealed = _seal(data, chunk=filecrypt.CHUNK_BYTES)
    chunks = list(decrypt_chunks(io.BytesIO(sealed), (KEY_A,)))
    assert [len(c) for c in chunks] == [filecrypt.CHUNK_BYTES, filecrypt.CHUNK_BYTES, 10]
    assert b"".join(chunks) == data


def _flip(sealed: bytes, at: int) -> bytes:
    return sealed[:at] + bytes([sealed[at] ^ 0x01]) + sealed[at + 1 :]


def _reorder(sealed: bytes, order: list[int]) -> bytes:
    """The sealed chunks (of SMALL bytes) put back in `order`, behind the same header."""
    body, step = sealed[HEADER.size :], SMALL + TAG_BYTES
    chunks = [body[i : i + step] for i in range(0, len(body), step)]
    assert len(chunks) == 4
    return sealed[: HEADER.size] + b"".join(chunks[i] for i in order)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda s: _flip(s, HEADER.size + 3), id="flip-a-ciphertext-byte"),
        pytest.param(lambda s: _flip(s, len(s) - 1), id="flip-a-tag-byte"),
        pytest.param(lambda s: _flip(s, len(filecrypt.MAGIC) + 9), id="flip-the-nonce-prefix"),
        pytest.param(lambda s: _flip(s, HEADER.size - 1), id="flip-the-chunk-size"),
        pytest.param(lambda s: s[:-5], id="truncate-mid-chunk"),
        pytest.param(lambda s: s[: HEADER.size + 2 * (SMALL + TAG_BYTES)], id="truncate-at-chunk"),
        pytest.param(lambda s: s[: HEADER.size], id="header-only"),
        pytest.param(lambda s: s + s[HEADER.size : HEADER.size + SMALL + TAG_BYTES], id="append"),
        pytest.param(lambda s: _reorder(s, [1, 0, 2, 3]), id="swap-chunks"),
        pytest.param(lambda s: _reorder(s, [0, 2, 3]), id="drop-a-chunk"),
    ],
)
def test_tampering_is_refused(tamper):
    sealed = _seal(os.urandom(SMALL * 3 + 7))
    with pytest.raises(StoredFileCorrupt):
        _open(tamper(sealed))


def test_the_wrong_key_is_refused_and_rotation_keeps_the_old_key_working():
    sealed = _seal(b"x" * 500)
    with pytest.raises(StoredFileCorrupt, match="key"):
        _open(sealed, (KEY_B,))
    assert _open(sealed, (KEY_B, KEY_A)) == b"x" * 500


def test_the_key_is_derived_for_files_only():
    assert KEY_A.key != b"a" * 32 and len(KEY_A.key) == 32
    assert file_key_derive(b"a" * 32, info=b"other").key != KEY_A.key
    assert KEY_A.key_id != KEY_B.key_id and len(KEY_A.key_id) == 8


# --- storage -------------------------------------------------------------------------------------


def test_store_encrypts_removes_the_part_and_reads_back(settings):
    data = _hostile_dicom()
    received = _received(data)
    name = storage.store(received, ".dcm")
    assert name.endswith(".dcm") and not received.exists()
    on_disk = storage.path_of(name).read_bytes()
    assert on_disk.startswith(filecrypt.MAGIC) and CANARY_NAME.encode() not in on_disk
    assert storage.original_read_bytes(name) == data
    assert storage.original_verify(name) == len(data)
    with storage.original_plaintext(name) as plain:
        assert plain.read_bytes() == data
        assert stat.S_IMODE(plain.parent.stat().st_mode) == 0o700
        assert plain.parent != storage.path_of(name).parent
    assert not plain.parent.exists()


def test_rotation_through_the_settings(settings):
    settings.PHI_ENCRYPTION_KEYS = [_fernet_key(b"old-key!")]
    name = storage.store(_received(b"old data" * 100), ".png")
    settings.PHI_ENCRYPTION_KEYS = [_fernet_key(b"new-key!"), _fernet_key(b"old-key!")]
    assert storage.original_read_bytes(name) == b"old data" * 100
    settings.PHI_ENCRYPTION_KEYS = [_fernet_key(b"new-key!")]
    with pytest.raises(StoredFileCorrupt):
        storage.original_read_bytes(name)


def test_legacy_plaintext_is_read_as_it_is():
    data = png_bytes()
    name = storage.write(data, ".png")  # as stored before encryption
    assert storage.original_read_bytes(name) == data
    assert storage.original_verify(name) == len(data)
    with storage.original_plaintext(name) as plain:
        assert plain == storage.path_of(name)  # no copy needed
    assert storage.path_of(name).read_bytes() == data


def test_a_corrupt_file_leaves_no_plaintext_folder_behind(settings):
    name = storage.store(_received(os.urandom(5000)), ".png")
    path = storage.path_of(name)
    path.write_bytes(_flip(path.read_bytes(), 100))
    incoming = Path(settings.MEDIA_ROOT) / "imaging" / "incoming"
    before = set(incoming.iterdir())
    with pytest.raises(StoredFileCorrupt), storage.original_plaintext(name):
        pass
    assert set(incoming.iterdir()) == before


def test_the_plaintext_folder_goes_even_when_the_reader_fails():
    name = storage.store(_received(b"abc" * 1000), ".png")
    with pytest.raises(RuntimeError), storage.original_plaintext(name) as plain:
        folder = plain.parent
        raise RuntimeError("decoder broke")
    assert not folder.exists()


def test_a_full_disk_while_sealing_leaves_nothing_behind(settings, monkeypatch):
    kept = storage.store(_received(b"already here" * 10), ".png")
    received = _received(png_bytes())
    before = _media_files(settings)

    def half_then_full(source: Any, target: Any, key: Any, **_: Any) -> int:
        target.write(b"HMENC1 half written")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage, "encrypt_stream", half_then_full)
    with pytest.raises(OSError):
        storage.store(received, ".png")
    assert _media_files(settings) == before  # no .part, no final name; received left to the caller
    assert storage.original_read_bytes(kept) == b"already here" * 10


def test_an_upload_on_a_full_disk_is_a_503_and_keeps_nothing(
    clinician, patient, settings, monkeypatch
):
    before = _media_files(settings)

    def full(*_: Any, **__: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage, "encrypt_stream", full)
    token, _ = Token.objects.get_or_create(user=clinician)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    image = SimpleUploadedFile("scan.dcm", _hostile_dicom(), "application/dicom")
    response = api.post(
        "/api/v1/imaging/studies/", {"patient": str(patient.public_id), "image": image}
    )
    assert response.status_code == 503
    assert not Study.objects.exists()
    assert _media_files(settings) == before


# --- uploads leave no header in clear ------------------------------------------------------------


def _no_canary_under_media(settings: Any) -> None:
    for path in _media_files(settings):
        data = path.read_bytes()
        for canary in (CANARY_NAME.split("^")[0], CANARY_ID):
            assert canary.encode() not in data, path


def test_an_api_upload_leaves_no_dicom_header_in_clear(clinician, patient, settings):
    token, _ = Token.objects.get_or_create(user=clinician)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    data = _hostile_dicom()
    image = SimpleUploadedFile("scan.dcm", data, "application/dicom")
    response = api.post(
        "/api/v1/imaging/studies/", {"patient": str(patient.public_id), "image": image}
    )
    assert response.status_code == 202
    _no_canary_under_media(settings)
    study = Study.objects.get()
    assert storage.original_read_bytes(study.file_name) == data
    assert study.sha256 == hashlib.sha256(data).hexdigest()  # of the plaintext, as before


def test_a_web_upload_leaves_no_dicom_header_in_clear_and_downloads_as_uploaded(
    client, clinician, patient, settings
):
    login_verified(client, clinician)
    data = _hostile_dicom()
    image = SimpleUploadedFile("scan.dcm", data, "application/dicom")
    url = reverse("imaging:upload", kwargs={"public_id": patient.public_id})
    assert client.post(url, {"image": image}).status_code == 302
    _no_canary_under_media(settings)
    study = Study.objects.get()
    response = client.get(reverse("imaging:study_original", kwargs={"public_id": study.public_id}))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom"
    assert response["Content-Length"] == str(len(data))
    assert b"".join(response.streaming_content) == data


def test_a_corrupt_original_is_a_409_and_a_missing_one_a_404(client, clinician, patient):
    login_verified(client, clinician)
    name = storage.store(_received(png_bytes()), ".png")
    study = study_make(patient=patient, by=clinician, file_name=name)
    url = reverse("imaging:study_original", kwargs={"public_id": study.public_id})
    assert b"".join(client.get(url).streaming_content) == png_bytes()
    path = storage.path_of(name)
    path.write_bytes(path.read_bytes()[:-3])
    response = client.get(url)
    assert response.status_code == 409
    assert "integrity check" in response.content.decode()
    path.unlink()
    assert client.get(url).status_code == 404


# --- the worker ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_worker_fails_a_corrupt_original_with_a_reason(clinician, patient, imaging_model):
    study = study_submit(
        by=clinician, patient=patient, chunks=[imaging_model.phantom_png("nodule")]
    )
    path = storage.path_of(study.file_name)
    path.write_bytes(_flip(path.read_bytes(), HEADER.size + 10))
    assert study_analyze(study_id=study.pk).outcome == "failed"
    study.refresh_from_db()
    assert study.state == Study.State.FAILED and study.failure_code == "file_corrupt"
    assert "integrity check" in study.failure_reason


@pytest.mark.slow
def test_the_worker_analyses_an_encrypted_original(clinician, patient, imaging_model):
    study = study_submit(
        by=clinician, patient=patient, chunks=[imaging_model.phantom_png("nodule")]
    )
    assert storage.original_is_encrypted(study.file_name)
    assert study_analyze(study_id=study.pk).outcome == "done"


# --- the command for files from before -----------------------------------------------------------


def test_the_command_encrypts_legacy_originals_once(clinician, patient, settings):
    data = _hostile_dicom()
    legacy = study_make(
        patient=patient,
        by=clinician,
        kind=Study.Kind.DICOM,
        file_name=storage.write(data, ".dcm"),
        state=Study.State.QUEUED,
    )
    sealed = study_make(
        patient=patient, by=clinician, file_name=storage.store(_received(b"z"), ".png")
    )
    gone = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    storage.path_of(gone.file_name).unlink()
    sealed_bytes = storage.path_of(sealed.file_name).read_bytes()

    with pytest.raises(SystemExit):
        call_command("imaging_encrypt_originals", "--check", stdout=io.StringIO())
    out = io.StringIO()
    call_command("imaging_encrypt_originals", stdout=out)
    assert out.getvalue().split() == ["encrypted=1", "kept=1", "missing=1"]
    assert storage.original_is_encrypted(legacy.file_name)
    assert CANARY_ID.encode() not in storage.path_of(legacy.file_name).read_bytes()
    assert storage.original_read_bytes(legacy.file_name) == data
    assert storage.path_of(sealed.file_name).read_bytes() == sealed_bytes  # untouched

    again = io.StringIO()
    call_command("imaging_encrypt_originals", stdout=again)
    assert again.getvalue().split() == ["kept=2", "missing=1"]
    call_command("imaging_encrypt_originals", "--check", stdout=io.StringIO())  # exits 0
    leftovers = [p for p in storage.path_of(legacy.file_name).parent.iterdir() if ".part" in p.name]
    assert not leftovers


def test_the_command_rekeys_after_a_rotation(clinician, patient, settings):
    settings.PHI_ENCRYPTION_KEYS = [_fernet_key(b"old-key!")]
    study = study_make(
        patient=patient, by=clinician, file_name=storage.store(_received(b"q"), ".png")
    )
    settings.PHI_ENCRYPTION_KEYS = [_fernet_key(b"new-key!"), _fernet_key(b"old-key!")]
    out = io.StringIO()
    call_command("imaging_encrypt_originals", "--rekey", stdout=out)
    assert "rekeyed=1" in out.getvalue()
    settings.PHI_ENCRYPTION_KEYS = [_fernet_key(b"new-key!")]  # the old key dropped
    assert storage.original_read_bytes(study.file_name) == b"q"


def test_plaintext_left_by_a_killed_reader_is_swept_later(settings):
    incoming = Path(settings.MEDIA_ROOT) / "imaging" / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    stale, fresh = incoming / "plain-stale", incoming / "plain-fresh"
    for folder in (stale, fresh):
        folder.mkdir(mode=0o700)
        (folder / "original.dcm").write_bytes(b"left by kill -9")
    old = os.stat(stale).st_mtime - 3 * settings.IMAGING_TASK_TIME_LIMIT_S
    os.utime(stale, (old, old))
    with storage.original_plaintext(storage.store(_received(b"x"), ".png")):
        pass
    assert not stale.exists() and fresh.exists()
    shutil.rmtree(fresh)
