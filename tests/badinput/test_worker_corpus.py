"""The corpus through the worker: each hostile file is put in storage behind a QUEUED study as if
it had passed the intake (a file swapped on disk, an intake bug, a row written by hand), and a
real Celery worker analyses them all at once. Each ends FAILED exactly once, at the first attempt,
with a code and a sentence; nothing is written for it; a valid image queued behind them still
ends DONE, so the hostile ones did not take the worker down."""

import time

import pytest

from accounts.models import Notification
from imaging import storage
from imaging.intake import INTAKE_ERROR_CODES
from imaging.models import Study
from imaging.tasks import study_analyze_task
from tests import factories
from tests.badinput.corpus import CORPUS, _nested_sequences
from tests.imaging.conftest import png_bytes

pytestmark = [pytest.mark.worker, pytest.mark.slow]

KINDS = {".png": Study.Kind.PNG, ".dcm": Study.Kind.DICOM, ".zip": Study.Kind.DICOM_ZIP}
TERMINAL = (Study.State.DONE, Study.State.FAILED)
TIMEOUT_S = 180


def queued_study(patient, by, data: bytes, extension: str) -> Study:
    return Study.objects.create(
        patient=patient,
        uploaded_by=by,
        kind=KINDS[extension],
        file_name=storage.write(data, extension),
        original_name=f"scan{extension}",
        size_bytes=len(data),
        sha256="0" * 64,
        modality="OT",
        rows=32,
        columns=32,
    )


def test_every_hostile_file_fails_once_with_a_reason_and_the_worker_carries_on(
    live_worker, imaging_model
):
    clinician = factories.ClinicianFactory()
    patient = factories.patient_make(team=factories.care_team_make(members=[clinician]))
    files = [(item.name, item.data(), "." + item.filename.rsplit(".", 1)[1]) for item in CORPUS]
    files.append(("nested_5000_deep", _nested_sequences(5000), ".dcm"))
    files.append(("png_named_dicom", png_bytes(), ".dcm"))
    hostile = {name: queued_study(patient, clinician, data, ext) for name, data, ext in files}
    good = queued_study(patient, clinician, imaging_model.phantom_png("normal"), ".png")
    for study in [*hostile.values(), good]:
        study_analyze_task.delay(study.pk)

    deadline = time.monotonic() + TIMEOUT_S
    pending = Study.objects.exclude(state__in=TERMINAL)
    while pending.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pending.exists(), list(pending.values_list("pk", "state"))

    for name, study in hostile.items():
        study.refresh_from_db()
        assert study.state == Study.State.FAILED, name
        assert study.attempts == 1, name  # permanent: refused, not retried
        assert study.failure_code in INTAKE_ERROR_CODES, (name, study.failure_code)
        reason = study.failure_reason
        assert reason and reason[0].isupper() and "Traceback" not in reason, (name, reason)
        assert not (study.preview_name or study.heatmap_name or study.mask_name), name
        assert study.probabilities in (None, {}), name
    good.refresh_from_db()
    assert good.state == Study.State.DONE, good.failure_reason
    # One notification per study: nothing duplicated, nothing lost.
    assert Notification.objects.filter(user=clinician).count() == len(hostile) + 1
    assert live_worker.process.poll() is None
