"""The imaging services without a worker: claims and leases, the sweeper's decisions, failures
that need no model, submission, reports and notifications."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import AuditEvent, Notification
from imaging import storage
from imaging.models import Study, StudyReport
from imaging.selectors import queue_estimate, worklist
from imaging.services import (
    StudyRejected,
    imaging_model_register,
    report_sign,
    report_update,
    studies_sweep,
    study_analyze,
    study_submit,
)
from tests import factories
from tests.imaging.conftest import png_bytes, study_make

pytestmark = pytest.mark.django_db


def _queued(patient, by, **fields) -> Study:
    fields.setdefault("state", Study.State.QUEUED)
    return study_make(patient=patient, by=by, **fields)


def test_submit_stores_the_file_and_queues_after_commit(
    clinician, patient, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        study = study_submit(by=clinician, patient=patient, chunks=[png_bytes()], original_name="a")
    assert study.state == Study.State.QUEUED
    assert study.kind == Study.Kind.PNG and (study.rows, study.columns) == (128, 128)
    assert storage.original_read_bytes(study.file_name) == png_bytes()
    assert len(callbacks) == 1  # the task is published only once the row is committed
    assert AuditEvent.objects.filter(object_type="imaging.study", action="create").count() == 1


def _stored_files() -> set[str]:
    folder = storage.media_root() / "imaging"
    return {str(p) for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def test_a_rejected_upload_leaves_no_row_and_no_file(clinician, patient):
    before = _stored_files()
    with pytest.raises(StudyRejected) as rejected:
        study_submit(by=clinician, patient=patient, chunks=[b"%PDF-1.4 not an image"])
    assert rejected.value.code == "unknown_format"
    assert not Study.objects.exists()
    assert _stored_files() == before


def test_an_upload_over_the_limit_is_refused_while_streaming(clinician, patient, settings):
    settings.IMAGING_MAX_UPLOAD_BYTES = 1000
    before = _stored_files()
    with pytest.raises(StudyRejected) as rejected:
        study_submit(by=clinician, patient=patient, chunks=[b"\x89PNG" + b"0" * 600] * 3)
    assert rejected.value.code == "too_large"
    assert not Study.objects.exists()
    assert _stored_files() == before


def test_a_nurse_does_not_upload(patient, team):
    from patients.services import care_team_add_member

    nurse = factories.NurseFactory()
    care_team_add_member(team=team, user=nurse)
    with pytest.raises(PermissionDenied):
        study_submit(by=nurse, patient=patient, chunks=[png_bytes()])


def test_a_study_that_used_its_attempts_fails_with_a_reason(clinician, patient):
    study = _queued(patient, clinician, attempts=3)
    assert study_analyze(study_id=study.pk).outcome == "failed"
    study.refresh_from_db()
    assert study.state == Study.State.FAILED and study.failure_code == "gave_up"
    assert "3 attempts" in study.failure_reason
    assert "failed" in Notification.objects.get(user=clinician).message


def test_a_live_lease_is_not_claimed_twice(clinician, patient):
    now = timezone.now()
    study = _queued(
        patient,
        clinician,
        state=Study.State.RUNNING,
        attempts=1,
        claimed_at=now,
        lease_expires_at=now + dt.timedelta(seconds=60),
    )
    assert study_analyze(study_id=study.pk).outcome == "not_claimed"
    study.refresh_from_db()
    assert study.state == Study.State.RUNNING and study.attempts == 1


def test_a_done_study_is_never_analysed_again(clinician, patient):
    study = study_make(patient=patient, by=clinician)
    assert study_analyze(study_id=study.pk).outcome == "not_claimed"
    assert Study.objects.get(pk=study.pk).attempts == 1


def test_without_an_active_model_the_study_fails_with_a_reason(clinician, patient):
    study = _queued(patient, clinician)
    assert study_analyze(study_id=study.pk).outcome == "failed"
    study.refresh_from_db()
    assert study.failure_code == "no_model"
    assert "train_imaging_models" in study.failure_reason
    assert study.claim_token is None


def test_the_sweeper_requeues_lost_and_dead_work_and_fails_exhausted(clinician, patient, settings):
    past = timezone.now() - dt.timedelta(seconds=settings.IMAGING_QUEUE_DEADLINE_S + 5)
    lost = _queued(patient, clinician, enqueued_at=past)
    fresh = _queued(patient, clinician)
    dead = _queued(patient, clinician, state=Study.State.RUNNING, attempts=1, lease_expires_at=past)
    exhausted = _queued(
        patient, clinician, state=Study.State.RUNNING, attempts=3, lease_expires_at=past
    )
    alive = _queued(
        patient,
        clinician,
        state=Study.State.RUNNING,
        attempts=1,
        lease_expires_at=timezone.now() + dt.timedelta(seconds=30),
    )

    report = studies_sweep()

    assert sorted(report.requeued) == sorted([lost.pk, dead.pk])
    assert report.failed == [exhausted.pk]
    states = dict(Study.objects.values_list("pk", "state"))
    assert states[dead.pk] == Study.State.QUEUED
    assert states[fresh.pk] == Study.State.QUEUED
    assert states[alive.pk] == Study.State.RUNNING
    assert states[exhausted.pk] == Study.State.FAILED
    assert studies_sweep().requeued == []  # the deadlines were reset: nothing twice


def test_queue_position_counts_the_studies_ahead(clinician, patient):
    first = _queued(patient, clinician)
    second = _queued(patient, clinician)
    assert queue_estimate(study=first).position == 0
    estimate = queue_estimate(study=second)
    assert estimate.position == 1 and estimate.eta_seconds > 0
    assert queue_estimate(study=study_make(patient=patient, by=clinician)) is None


def test_the_worklist_puts_the_most_urgent_first(clinician, patient):
    low = study_make(patient=patient, by=clinician, abnormal=0.1, predicted="normal")
    high = study_make(patient=patient, by=clinician, abnormal=0.9)
    pending = _queued(patient, clinician)
    assert list(worklist(user=clinician)) == [high, low, pending]
    assert list(worklist(user=factories.ClinicianFactory())) == []


def test_a_radiologist_edits_then_signs_and_the_report_is_final(radiologist, clinician, patient):
    study = study_make(patient=patient, by=clinician)
    report = study.report
    assert report.status == StudyReport.Status.DRAFT
    assert "AI DRAFT" in report.draft_text

    with pytest.raises(PermissionDenied):
        report_update(report=report, by=clinician, text="mine")
    report_update(report=report, by=radiologist, text="Edited findings.")
    signed = report_sign(report=report, by=radiologist, text="Final: small nodule, follow up.")

    assert signed.status == StudyReport.Status.SIGNED
    assert signed.text == "Final: small nodule, follow up."
    assert signed.signed_by == radiologist and len(signed.signed_sha256) == 64
    with pytest.raises(ValidationError):
        report_update(report=signed, by=radiologist, text="changed after signing")
    with pytest.raises(ValidationError):
        report_sign(report=signed, by=radiologist)
    assert AuditEvent.objects.filter(object_type="imaging.studyreport").count() == 2


def test_signing_the_draft_as_it_is_drops_the_not_reviewed_mark(radiologist, clinician, patient):
    study = study_make(patient=patient, by=clinician)
    signed = report_sign(report=study.report, by=radiologist)
    assert "AI DRAFT" not in signed.text and "FINDINGS" in signed.text


def test_a_bundle_outside_the_model_root_is_not_registered(tmp_path):
    with pytest.raises(ValidationError):
        imaging_model_register(folder=tmp_path)
