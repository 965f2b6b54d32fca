"""The asynchronous analysis, end to end, with a real Celery worker process and a real trained
bundle: upload -> DONE; a worker child killed mid-task; the same task delivered twice; a stuck
study swept back; pixels that cannot be decoded. In CI the broker is Redis.

Rows must be committed for the worker to see them (`live_worker` brings transactional_db).
"""

import os
import signal
import struct
import time
import zlib
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Notification
from healthmentor.celery import app
from imaging import storage
from imaging.models import Study, StudyReport
from imaging.services import studies_sweep, study_submit
from imaging.tasks import study_analyze_task
from tests import factories
from tests import worker as workers
from tests.imaging.conftest import png_bytes

pytestmark = [pytest.mark.worker, pytest.mark.slow]

DONE_TIMEOUT_S = 90


def _wait_for(study: Study, states: tuple[str, ...], timeout: float = DONE_TIMEOUT_S) -> Study:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        study.refresh_from_db()
        if study.state in states:
            return study
        time.sleep(0.05)
    raise AssertionError(f"study still {study.state} after {timeout} s")


def _submit(by, patient, data: bytes) -> Study:
    return study_submit(by=by, patient=patient, chunks=[data], original_name="x.png")


def _world():
    clinician = factories.ClinicianFactory()
    team = factories.care_team_make(members=[clinician])
    patient = factories.patient_make(team=team, by=clinician)
    return clinician, patient


def test_an_upload_is_analysed_by_the_worker_and_lands_done(live_worker, imaging_model, client):
    clinician, patient = _world()
    study = _submit(clinician, patient, imaging_model.phantom_png("nodule"))
    assert study.state == Study.State.QUEUED  # the request returned before any inference

    study = _wait_for(study, (Study.State.DONE, Study.State.FAILED))

    assert study.state == Study.State.DONE, study.failure_reason
    assert set(study.probabilities) == {"normal", "nodule", "opacity"}
    assert abs(sum(study.probabilities.values()) - 1) < 1e-4
    assert study.model_version == imaging_model.version
    assert study.attempts == 1
    for stage in ("queue", "decode", "preprocess", "classify", "heatmap", "segment", "write"):
        assert stage in study.timings
    for name in (study.preview_name, study.heatmap_name, study.mask_name, study.frame_name):
        assert storage.path_of(name).is_file()
    assert StudyReport.objects.get(study=study).status == StudyReport.Status.DRAFT
    note = Notification.objects.get(user=clinician)
    assert note.url.endswith(f"/imaging/studies/{study.public_id}/")
    assert "Imaging result in" in note.message

    # The files of the result are the care team's: another team gets 404 on every one of them.
    client.force_login(factories.ClinicianFactory())
    factories.care_team_make(members=[])
    base = f"/imaging/studies/{study.public_id}/"
    for path in ("", "image.png", "heatmap.png", "mask.png", "original/"):
        assert client.get(base + path).status_code == 404, path
    client.force_login(clinician)
    assert client.get(base + "heatmap.png").status_code == 200


def test_the_same_task_delivered_twice_gives_one_result(live_worker, imaging_model):
    clinician, patient = _world()
    seen = live_worker.output().count("'not_claimed'")
    study = _submit(clinician, patient, imaging_model.phantom_png("opacity"))
    # Two more deliveries of the same message, as a redelivery after a lost ack would make.
    for _ in range(2):
        study_analyze_task.delay(study.pk)

    study = _wait_for(study, (Study.State.DONE,))
    # The extra deliveries run right after (one child, in order); give them time to do nothing.
    time.sleep(3)
    study.refresh_from_db()

    assert study.attempts == 1 and study.state == Study.State.DONE
    assert live_worker.output().count("'not_claimed'") == seen + 2  # both ran, and did nothing
    assert StudyReport.objects.filter(study=study).count() == 1
    assert Notification.objects.filter(user=clinician).count() == 1


def test_a_stuck_study_is_put_back_by_the_sweeper(live_worker, imaging_model, settings):
    clinician, patient = _world()
    past = timezone.now() - timezone.timedelta(seconds=settings.IMAGING_QUEUE_DEADLINE_S + 60)
    # A lost message: the row is QUEUED but nothing was ever published for it.
    name = storage.write(imaging_model.phantom_png("normal"), ".png")
    lost = Study.objects.create(
        patient=patient,
        uploaded_by=clinician,
        kind="png",
        file_name=name,
        size_bytes=1,
        sha256="0" * 64,
        modality="OT",
        rows=128,
        columns=128,
        enqueued_at=past,
    )
    # A dead worker: RUNNING, its lease long expired.
    name = storage.write(imaging_model.phantom_png("nodule"), ".png")
    dead = Study.objects.create(
        patient=patient,
        uploaded_by=clinician,
        kind="png",
        file_name=name,
        size_bytes=1,
        sha256="0" * 64,
        modality="OT",
        rows=128,
        columns=128,
        state=Study.State.RUNNING,
        attempts=1,
        claimed_at=past,
        lease_expires_at=past,
    )

    report = studies_sweep()

    assert sorted(report.requeued) == sorted([lost.pk, dead.pk])
    assert _wait_for(lost, (Study.State.DONE,)).attempts == 1
    assert _wait_for(dead, (Study.State.DONE,)).attempts == 2
    assert studies_sweep().requeued == []  # nothing is left to put back


def _png_with_broken_pixels() -> bytes:
    """A PNG whose chunks and CRCs are valid but whose IDAT is not a zlib stream: it passes the
    upload checks and fails when the worker decodes it."""
    good = png_bytes()
    head = good[:8]
    chunks = []
    offset = 8
    while offset < len(good):
        length = struct.unpack(">I", good[offset : offset + 4])[0]
        kind = good[offset + 4 : offset + 8]
        data = good[offset + 8 : offset + 8 + length]
        if kind == b"IDAT":
            data = os.urandom(len(data))
        chunks.append(
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )
        offset += 12 + length
    return head + b"".join(chunks)


def test_undecodable_pixels_fail_once_with_a_reason(live_worker, imaging_model):
    clinician, patient = _world()
    study = _submit(clinician, patient, _png_with_broken_pixels())

    study = _wait_for(study, (Study.State.DONE, Study.State.FAILED))

    assert study.state == Study.State.FAILED
    assert study.attempts == 1  # permanent: not retried
    assert study.failure_code in ("corrupt_image", "undecodable_pixels")
    assert study.failure_reason and "Traceback" not in study.failure_reason
    assert "failed" in Notification.objects.get(user=clinician).message


def test_a_worker_child_killed_mid_task_still_gives_one_result(
    transactional_db, imaging_model, tmp_path, settings, celery_worker_process
):
    """kill -9 of the pool child while it holds the claim: the message comes back (acks_late +
    reject_on_worker_lost), the redelivery finds a live lease and does nothing, and once the
    lease is over the sweeper hands the study to a new child, which finishes it exactly once."""
    lease_s = 3
    # The session's worker must not take this study: it stops consuming until the test ends.
    session_worker = [celery_worker_process.nodename]
    for queue in ("default", "inference"):
        app.control.cancel_consumer(queue, destination=session_worker, reply=True)
    worker = workers.worker_start(
        workers.test_database_url(),
        tmp_path,
        extra_env={"IMAGING_FAULT_DELAY_S": "2", "IMAGING_RUN_LEASE_S": str(lease_s)},
    )
    try:
        clinician, patient = _world()
        study = _submit(clinician, patient, imaging_model.phantom_png("nodule"))
        _wait_for(study, (Study.State.RUNNING,), timeout=30)
        (child,) = workers.worker_children(worker)
        os.kill(child, signal.SIGKILL)

        time.sleep(lease_s + 0.5)
        settings.IMAGING_RUN_LEASE_S = lease_s
        studies_sweep()
        study = _wait_for(study, (Study.State.DONE, Study.State.FAILED))

        assert study.state == Study.State.DONE, study.failure_reason
        assert study.attempts == 2
        assert StudyReport.objects.filter(study=study).count() == 1
        assert Notification.objects.filter(user=clinician).count() == 1
        assert "WorkerLostError" in worker.output() or "SIGKILL" in worker.output()
    finally:
        workers.worker_stop(worker)
        for queue in ("default", "inference"):
            app.control.add_consumer(queue, destination=session_worker, reply=True)
        connection.close()


def test_the_web_process_never_imports_tensorflow():
    """The portal's web side (urls, views, apis, services) loads without TensorFlow."""
    import subprocess
    import sys

    code = (
        "import django, sys; django.setup();"
        "import healthmentor.urls, imaging.views, imaging.apis, imaging.services, imaging.tasks;"
        "from django.test import Client;"
        "print('tensorflow' in sys.modules, 'onnxruntime' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "healthmentor.test_settings"},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.split() == ["False", "False"]
