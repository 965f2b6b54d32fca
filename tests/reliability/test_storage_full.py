"""A full (or failing) image store, found by the disk-full drill (proof/drills, `disk_full`): an
upload is a 503 with Retry-After and keeps nothing; a file or a result that cannot be written
leaves no half-written or orphan file behind."""

import errno
import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from django.db import transaction
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from imaging import services, storage
from imaging.models import Study
from imaging.pipeline import Timings
from tests.imaging.conftest import png_bytes, study_make

STUDIES = "/api/v1/imaging/studies/"


def _full(*_: object, **__: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _files(settings) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "imaging"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _post(user, patient):
    token, _ = Token.objects.get_or_create(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    image = io.BytesIO(png_bytes())
    image.name = "scan.png"
    return api.post(STUDIES, {"patient": str(patient.public_id), "image": image}, "multipart")


def _done_analysis() -> SimpleNamespace:
    """What study_run hands to _result_write for a finished analysis (no mask)."""
    return SimpleNamespace(
        frame_raw=np.zeros((4, 4), dtype=np.float32),
        preview_png=b"preview",
        heatmap_png=b"heatmap",
        mask_png=b"",
        timings=Timings(),
        probabilities={"normal": 0.9, "nodule": 0.1},
        predicted_class="normal",
        abnormal_probability=0.1,
        key_frame=0,
        lesion_area_px=None,
        lesion_area_mm2=None,
        frames_analysed=1,
    )


def _assert_done_with_its_files(study: Study) -> None:
    study.refresh_from_db()
    assert study.state == Study.State.DONE
    for name in (study.preview_name, study.heatmap_name, study.frame_name):
        assert name and storage.path_of(name).is_file(), name


@pytest.mark.parametrize("step", ["receive", "store"])
def test_an_upload_the_store_cannot_take_is_a_503_with_retry_after_and_keeps_nothing(
    step, clinician, patient, settings, monkeypatch
):
    before = _files(settings)
    monkeypatch.setattr(storage, step, _full)

    response = _post(clinician, patient)

    assert response.status_code == 503
    assert response["Retry-After"] == str(services.STORAGE_RETRY_AFTER_S)
    assert response.json()["code"] == "storage_unavailable"
    assert "try again" in response.json()["detail"]
    assert not Study.objects.exists()
    assert _files(settings) == before  # the received part file went too


def test_the_upload_form_says_so_too(clinician, patient, client, settings, monkeypatch):
    monkeypatch.setattr(storage, "receive", _full)
    client.force_login(clinician)
    image = io.BytesIO(png_bytes())
    image.name = "scan.png"

    response = client.post(f"/imaging/patients/{patient.public_id}/upload/", {"image": image})

    assert response.status_code == 503
    assert response["Retry-After"] == str(services.STORAGE_RETRY_AFTER_S)
    assert "try again in a few minutes" in response.content.decode()
    assert not Study.objects.exists()


def test_a_write_that_fails_leaves_no_part_file(settings, monkeypatch):
    before = _files(settings)
    monkeypatch.setattr(storage.os, "replace", _full)

    with pytest.raises(OSError):
        storage.write(b"x" * 100, ".png")

    assert _files(settings) == before


def test_a_result_that_cannot_be_written_leaves_none_of_its_files(
    clinician, patient, settings, monkeypatch
):
    study = study_make(patient=patient, by=clinician, state=Study.State.RUNNING)
    kept = set(_files(settings))
    real_write = storage.write
    calls = []

    def third_fails(data: bytes, extension: str) -> str:
        calls.append(extension)
        if len(calls) == 3:
            _full()
        return real_write(data, extension)

    monkeypatch.setattr(storage, "write", third_fails)
    analysis = SimpleNamespace(
        frame_raw=np.zeros((4, 4), dtype=np.float32),
        preview_png=b"preview",
        heatmap_png=b"heatmap",
        mask_png=b"mask",
        timings=Timings(),
    )

    with pytest.raises(OSError):
        services._result_write(study, study.claim_token, None, analysis)

    assert len(calls) == 3
    assert set(_files(settings)) == kept
    study.refresh_from_db()
    assert study.state == Study.State.RUNNING  # the lease and the sweeper take it back


@pytest.mark.django_db(transaction=True)
def test_an_error_after_the_result_committed_keeps_the_done_studys_files(
    clinician, patient, settings, monkeypatch
):
    """Found by the model-corruption drill in CI: an exception raised after the DONE row had
    committed (an on_commit callback) deleted the files the row points to."""
    study = study_make(patient=patient, by=clinician, state=Study.State.RUNNING)

    def after_commit_fails(*_: object, **__: object) -> None:
        transaction.on_commit(_full)

    monkeypatch.setattr(services, "_notify", after_commit_fails)
    analysis = _done_analysis()

    with pytest.raises(OSError):
        services._result_write(study, study.claim_token, None, analysis)

    _assert_done_with_its_files(study)


@pytest.mark.django_db(transaction=True)
def test_a_shutdown_landing_between_the_commit_and_its_callbacks_keeps_the_done_studys_files(
    clinician, patient, monkeypatch
):
    """Found by the model-corruption drill in CI: the worker's cold shutdown raises SystemExit in
    the child; when it lands as the DONE row's COMMIT returns, before Django runs the on_commit
    callbacks, the row is DONE and must keep the files it names."""
    from django.db import connection

    study = study_make(patient=patient, by=clinician, state=Study.State.RUNNING)

    def shutdown(*_: object, **__: object) -> None:
        raise SystemExit(0)

    monkeypatch.setattr(connection, "run_and_clear_commit_hooks", shutdown)
    analysis = _done_analysis()

    with pytest.raises(SystemExit):
        services._result_write(study, study.claim_token, None, analysis)
    monkeypatch.undo()

    _assert_done_with_its_files(study)


@pytest.mark.django_db(transaction=True)
def test_an_error_before_the_result_committed_leaves_none_of_its_files(
    clinician, patient, settings, monkeypatch
):
    """The other side of the two tests above: the row rolled back, so its files are orphans."""
    study = study_make(patient=patient, by=clinician, state=Study.State.RUNNING)
    kept = set(_files(settings))
    monkeypatch.setattr(services, "_notify", _full)

    with pytest.raises(OSError):
        services._result_write(study, study.claim_token, None, _done_analysis())

    assert set(_files(settings)) == kept
    study.refresh_from_db()
    assert study.state == Study.State.RUNNING
