"""Writes of the imaging app: submitting a study, analysing it (worker side), the sweeper that
recovers lost work, the model registry, and reports.

The life of a study (see ARCHITECTURE.md, "An imaging study, end to end"):
- `study_submit` (web request) validates the upload by content, stores it under a random name,
  creates the row QUEUED and enqueues the task with `transaction.on_commit`: milliseconds.
- `study_analyze` (worker) claims the row with one conditional UPDATE that sets a fresh
  claim token; a second delivery, or a worker whose lease ran out, finds nothing to claim. The
  result is written by an UPDATE that also requires the token, so at most one result ever lands.
- `studies_sweep` (beat) re-enqueues studies QUEUED past the queue deadline (lost message, Redis
  restart) and takes back studies RUNNING past their lease (killed worker). After
  IMAGING_MAX_ATTEMPTS claims a study goes FAILED with a reason instead.
Task messages carry the study's integer id only; nothing here logs PHI.
"""

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, User
from accounts.services import notification_send
from healthmentor.artifacts import ArtifactIntegrityError, manifest_read_verified
from imaging import softlimit, storage
from imaging.intake import IntakeError, IntakeLimits, intake_inspect
from imaging.loading import bundle_get, imaging_model_root
from imaging.models import ImagingModelVersion, Study, StudyReport
from imaging.reports import AI_DRAFT_MARK, report_draft_text
from imaging.selectors import imaging_model_active, study_title, user_may_report, user_may_upload
from imaging.signals import study_changed
from patients.models import Patient

logger = logging.getLogger(__name__)


class StudyRejected(Exception):
    """An upload refused by content; `code` for machines, `message` for the person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# An upload refused because the image store cannot take it now (disk full): a 503, not the file's
# fault; the API adds Retry-After.
STORAGE_UNAVAILABLE = "storage_unavailable"
STORAGE_UNAVAILABLE_MESSAGE = (
    "The image store cannot take files right now. Please try again in a few minutes."
)
STORAGE_RETRY_AFTER_S = 60


class TransientAnalysisError(Exception):
    """The analysis broke for a reason a later try may not meet (the claim was given back)."""


def intake_limits() -> IntakeLimits:
    return IntakeLimits(
        max_bytes=settings.IMAGING_MAX_UPLOAD_BYTES,
        max_frame_pixels=settings.IMAGING_MAX_FRAME_PIXELS,
        max_total_pixels=settings.IMAGING_MAX_TOTAL_PIXELS,
        max_frames=settings.IMAGING_MAX_FRAMES,
    )


# --- submit --------------------------------------------------------------------------------------


def _enqueue(study_id: int) -> None:
    """Publish the analysis task. A broker that is down is not the uploader's problem: the row is
    committed QUEUED and the sweeper publishes it again after the queue deadline."""
    from imaging.tasks import study_analyze_task

    try:
        study_analyze_task.delay(study_id)
    except Exception:
        logger.warning("study %s: enqueue failed; the sweeper will retry", study_id, exc_info=True)


def study_submit(
    *,
    by: User,
    patient: Patient,
    chunks: Iterable[bytes],
    original_name: str = "",
    ip: str | None = None,
) -> Study:
    """Validate an upload by content, store it and queue its analysis.

    `patient` must already be one `by` may see (patients.selectors.patient_get_for_user). Raises
    PermissionDenied for a role that does not upload, StudyRejected for a file refused by content
    (nothing is kept). Returns the QUEUED study; its task is published after the commit."""
    if not user_may_upload(user=by):
        raise PermissionDenied("Your role does not upload images.")
    limits = intake_limits()
    try:
        received = storage.receive(chunks, max_bytes=limits.max_bytes)
    except storage.UploadTooLarge:
        raise StudyRejected(
            "too_large",
            f"The file is larger than the {limits.max_bytes // (1024 * 1024)} MB limit.",
        ) from None
    except OSError:  # a full or failing disk: nothing was kept (receive removed its part file)
        logger.error("imaging storage cannot take an upload", exc_info=True)
        raise StudyRejected(STORAGE_UNAVAILABLE, STORAGE_UNAVAILABLE_MESSAGE) from None
    try:
        intake = intake_inspect(received.path, limits=limits)
    except IntakeError as error:
        received.path.unlink(missing_ok=True)
        raise StudyRejected(error.code, error.message) from None
    except BaseException:
        received.path.unlink(missing_ok=True)
        raise
    try:
        name = storage.store(received.path, intake.extension)
    except OSError:
        received.path.unlink(missing_ok=True)
        logger.error("imaging storage cannot take an upload", exc_info=True)
        raise StudyRejected(STORAGE_UNAVAILABLE, STORAGE_UNAVAILABLE_MESSAGE) from None
    try:
        with transaction.atomic():
            phi: dict[str, Any] = dict(intake.phi)
            if intake.study_date:
                phi["study_date"] = intake.study_date.isoformat()
            study = Study.objects.create(
                patient=patient,
                uploaded_by=by,
                kind=intake.kind,
                file_name=name,
                original_name=original_name[:255],
                size_bytes=received.size,
                sha256=received.sha256,
                modality=intake.modality[:8] or "OT",
                body_part=intake.body_part[:40],
                rows=intake.rows,
                columns=intake.columns,
                frames=intake.frames,
                pixel_spacing_mm=list(intake.pixel_spacing_mm) if intake.pixel_spacing_mm else None,
                dicom_phi=phi,
            )
            audit_record(
                actor=by,
                action=AuditAction.CREATE,
                obj=study,
                ip=ip,
                detail={"patient": str(patient.public_id), "kind": study.kind},
            )
            transaction.on_commit(lambda: _enqueue(study.pk))
    except BaseException:
        storage.remove(name)
        raise
    logger.info("study %s queued (%s, %s bytes)", study.pk, study.kind, study.size_bytes)
    return study


# --- analyse (worker) ----------------------------------------------------------------------------


def _claim(study_id: int) -> uuid.UUID | None:
    """QUEUED -> RUNNING, or RUNNING with an expired lease -> RUNNING under a new token; None when
    there is nothing to claim (done, failed, or another worker holds a live lease)."""
    now = timezone.now()
    token = uuid.uuid4()
    claimable = Q(state=Study.State.QUEUED) | Q(state=Study.State.RUNNING, lease_expires_at__lt=now)
    claimed = Study.objects.filter(
        claimable, pk=study_id, attempts__lt=settings.IMAGING_MAX_ATTEMPTS
    ).update(
        state=Study.State.RUNNING,
        claim_token=token,
        claimed_at=now,
        lease_expires_at=now + dt.timedelta(seconds=settings.IMAGING_RUN_LEASE_S),
        attempts=F("attempts") + 1,
    )
    return token if claimed else None


def _fail(study: Study | int, token: uuid.UUID | None, code: str, reason: str) -> bool:
    """FAILED with a reason (by the claim holder, or unconditionally when `token` is None)."""
    study_id = study if isinstance(study, int) else study.pk
    rows = Study.objects.filter(pk=study_id).exclude(state=Study.State.DONE)
    if token is not None:
        rows = rows.filter(claim_token=token, state=Study.State.RUNNING)
    # The state and its notification commit together: whoever sees FAILED sees the notice too.
    with transaction.atomic():
        failed = rows.update(
            state=Study.State.FAILED,
            failure_code=code,
            failure_reason=reason,
            finished_at=timezone.now(),
            claim_token=None,
            lease_expires_at=None,
        )
        if failed:
            _notify(Study.objects.get(pk=study_id))
    if failed:
        logger.info("study %s failed: %s", study_id, code)
    return bool(failed)


def _release(study_id: int, token: uuid.UUID) -> None:
    """Give a claim back (RUNNING -> QUEUED) so that a retry can claim it at once."""
    Study.objects.filter(pk=study_id, claim_token=token, state=Study.State.RUNNING).update(
        state=Study.State.QUEUED,
        claim_token=None,
        lease_expires_at=None,
        enqueued_at=timezone.now(),
    )


def _notify(study: Study) -> None:
    url = reverse("imaging:study", args=[study.public_id])
    title = study_title(study)
    if study.state == Study.State.DONE:
        if study.predicted_class and study.model_version:
            finding = (
                "no abnormal finding likely"
                if study.predicted_class == study.model_version.normal_class
                else f"{study.predicted_class} likely"
            )
        else:
            finding = "result ready"
        message = f"Imaging result in: {title} study, {finding}."
    else:
        message = f"Imaging analysis failed: {title} study. Open it to see why."
    notification_send(user=study.uploaded_by, message=message, url=url)


def _fault_pause() -> None:
    """A pause after the claim, for fault drills only (IMAGING_FAULT_DELAY_S, default 0): it gives
    a drill the time to kill a worker mid-task. Production leaves it at 0."""
    delay = float(getattr(settings, "IMAGING_FAULT_DELAY_S", 0) or 0)
    if delay > 0:
        import time

        time.sleep(delay)


@dataclass(frozen=True)
class AnalyzeOutcome:
    study_id: int
    outcome: str  # "done", "failed", "not_claimed", "lost_claim"


def study_analyze(*, study_id: int) -> AnalyzeOutcome:
    """Analyse one study if this call wins the claim; a redelivery returns "not_claimed" at once.

    Permanent failures (pixels that cannot be decoded, no usable model) go FAILED with a reason.
    Anything else gives the claim back and raises TransientAnalysisError for the task to retry;
    the claim counter turns the IMAGING_MAX_ATTEMPTS-th such failure into FAILED."""
    token = _claim(study_id)
    if token is None:
        exhausted = Study.objects.filter(
            pk=study_id,
            state__in=(Study.State.QUEUED, Study.State.RUNNING),
            attempts__gte=settings.IMAGING_MAX_ATTEMPTS,
        ).exclude(state=Study.State.RUNNING, lease_expires_at__gte=timezone.now())
        if exhausted.exists():
            _fail(study_id, None, "gave_up", _gave_up_reason())
            return AnalyzeOutcome(study_id, "failed")
        return AnalyzeOutcome(study_id, "not_claimed")
    study = Study.objects.select_related("uploaded_by").get(pk=study_id)
    _fault_pause()
    from imaging.pipeline import Timings, study_run

    timings = Timings()
    waited_since = study.enqueued_at if study.attempts > 1 else study.uploaded_at
    timings.ms["queue"] = round(
        max(0.0, ((study.claimed_at or timezone.now()) - waited_since).total_seconds() * 1000), 2
    )
    version = imaging_model_active()
    if version is None:
        _fail(
            study,
            token,
            "no_model",
            "No imaging model is active: an administrator must train "
            "or activate one (manage.py train_imaging_models), then upload the image again.",
        )
        return AnalyzeOutcome(study_id, "failed")
    try:
        bundle = bundle_get(version)
    except ArtifactIntegrityError:
        logger.error("imaging model %s failed its integrity check", version.pk)
        _fail(
            study,
            token,
            "model_integrity",
            "The active imaging model failed its integrity "
            "check and was not used; an administrator must restore or retrain it.",
        )
        return AnalyzeOutcome(study_id, "failed")
    try:
        with storage.original_plaintext(study.file_name) as original:
            analysis = study_run(
                original,
                kind=study.kind,
                bundle=bundle,
                limits=intake_limits(),
                timings=timings,
            )
        softlimit.check()  # a soft limit that some library caught and went on from
    except SoftTimeLimitExceeded:
        return _fail_over_time(study, token)
    except IntakeError as error:
        if softlimit.fired():  # the limit, caught and turned into "undecodable" on the way
            return _fail_over_time(study, token)
        _fail(study, token, error.code, error.message)
        return AnalyzeOutcome(study_id, "failed")
    except FileNotFoundError:
        _fail(study, token, "file_missing", "The stored image is missing; upload it again.")
        return AnalyzeOutcome(study_id, "failed")
    except storage.StoredFileCorrupt:
        _fail(
            study,
            token,
            "file_corrupt",
            "The stored image failed its integrity check (it was altered or damaged on disk) "
            "and was not analysed; upload it again.",
        )
        return AnalyzeOutcome(study_id, "failed")
    except Exception as error:
        if softlimit.fired():
            return _fail_over_time(study, token)
        logger.exception("study %s: analysis error", study_id)
        if study.attempts >= settings.IMAGING_MAX_ATTEMPTS:
            _fail(study, token, "analysis_error", _gave_up_reason())
            return AnalyzeOutcome(study_id, "failed")
        _release(study_id, token)
        raise TransientAnalysisError(f"study {study_id}: {type(error).__name__}") from None
    return _result_write(study, token, version, analysis)


def _fail_over_time(study: Study, token: uuid.UUID) -> AnalyzeOutcome:
    # The same image would run out of time again: FAILED now, not after three limits.
    logger.warning("study %s: analysis over its time limit", study.pk)
    _fail(study, token, "time_limit", _time_limit_reason())
    return AnalyzeOutcome(study.pk, "failed")


def _time_limit_reason() -> str:
    return (
        f"The analysis took longer than its {settings.IMAGING_TASK_TIME_LIMIT_S - 10} s limit and "
        "was stopped. The image may be far larger than usual (a very long series): upload fewer "
        "frames, or ask an administrator to raise IMAGING_TASK_TIME_LIMIT_S."
    )


def study_fail_over_memory(*, study_id: int, rss_bytes: int) -> bool:
    """FAILED with a reason, called by the worker child's memory guard (imaging.guard) just before
    it kills its own process: the study must not be retried into the same wall."""
    limit_mb = settings.IMAGING_WORKER_MEMORY_LIMIT_MB
    rows = Study.objects.filter(pk=study_id, state=Study.State.RUNNING)
    claim = rows.values_list("claim_token", flat=True).first()
    if claim is None:
        return False
    return _fail(
        study_id,
        claim,
        "memory_limit",
        f"Analysing this image needed more than the worker's {limit_mb} MB of memory "
        f"({rss_bytes // 2**20} MB when it was stopped). The image may be far larger than usual "
        "(a very long series): upload fewer frames, or ask an administrator to raise "
        "IMAGING_WORKER_MEMORY_LIMIT_MB.",
    )


def _gave_up_reason() -> str:
    return (
        f"The analysis did not complete after {settings.IMAGING_MAX_ATTEMPTS} attempts. Upload "
        "the image again; if it fails again, ask an administrator to check the imaging worker."
    )


# The study's result files, in the order _result_write writes them.
RESULT_FILE_FIELDS = ("preview_name", "heatmap_name", "mask_name", "frame_name")


def _result_write(
    study: Study, token: uuid.UUID, version: ImagingModelVersion, analysis: Any
) -> AnalyzeOutcome:
    """Files first (random names, invisible until the row names them), then one transaction: the
    row's UPDATE requires our token, the draft report and the notification go with it."""
    import io
    import time

    write_start = time.perf_counter()
    buffer = io.BytesIO()
    np.save(buffer, analysis.frame_raw, allow_pickle=False)
    outputs = [
        (analysis.preview_png, ".png"),
        (analysis.heatmap_png, ".png"),
        (analysis.mask_png, ".png"),
        (buffer.getvalue(), ".npy"),
    ]
    names: list[str] = []
    try:
        for data, extension in outputs:
            names.append(storage.write(data, extension) if data else "")
    except BaseException:
        storage.remove(*names)  # a full disk leaves none of this result's files behind
        raise
    # "write" is the files; the row's own commit is part of the queue overhead the bench reports.
    timings = {**analysis.timings.ms, "write": round((time.perf_counter() - write_start) * 1000, 2)}
    try:
        with transaction.atomic():
            updated = Study.objects.filter(
                pk=study.pk, claim_token=token, state=Study.State.RUNNING
            ).update(
                state=Study.State.DONE,
                finished_at=timezone.now(),
                claim_token=None,
                lease_expires_at=None,
                failure_code="",
                failure_reason="",
                model_version=version,
                probabilities=analysis.probabilities,
                predicted_class=analysis.predicted_class,
                abnormal_probability=analysis.abnormal_probability,
                key_frame=analysis.key_frame,
                lesion_area_px=analysis.lesion_area_px,
                lesion_area_mm2=analysis.lesion_area_mm2,
                **dict(zip(RESULT_FILE_FIELDS, names, strict=True)),
                timings={**timings, "frames_analysed": analysis.frames_analysed},
            )
            if not updated:
                raise _LostClaim
            done = Study.objects.select_related("uploaded_by", "model_version").get(pk=study.pk)
            StudyReport.objects.update_or_create(
                study=done,
                defaults={"draft_text": report_draft_text(done), "text": report_draft_text(done)},
            )
            _notify(done)
            study_changed.send(sender=Study, study_id=done.pk, patient_id=done.patient_id)
    except _LostClaim:
        storage.remove(*names)
        logger.info("study %s: claim lost before the result was written", study.pk)
        return AnalyzeOutcome(study.pk, "lost_claim")
    except BaseException:
        if not _result_named(study.pk, names):
            storage.remove(*names)
        raise
    logger.info(
        "study %s done in %s ms", study.pk, sum(v for k, v in timings.items() if k != "queue")
    )
    return AnalyzeOutcome(study.pk, "done")


class _LostClaim(Exception):
    pass


def _result_named(study_id: int, names: list[str]) -> bool:
    """Whether the study's row names these files, asked after an error: the files belong to the
    row once it has committed, and an error can come after the commit (an on_commit callback
    failing, or a signal such as the worker's shutdown or a time limit landing as the COMMIT
    returns). When the question cannot be answered, the files are kept: an orphan costs disk, a
    DONE study without its images loses the result."""
    named = {field: name for field, name in zip(RESULT_FILE_FIELDS, names, strict=True) if name}
    if not named:
        return False
    try:
        return Study.objects.filter(pk=study_id, **named).exists()
    except BaseException:  # the connection is gone too: keep the files
        logger.warning("study %s: result files kept, their commit could not be checked", study_id)
        return True


# --- sweeper -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    requeued: list[int]
    failed: list[int]


def studies_sweep(*, now: dt.datetime | None = None) -> SweepReport:
    """Put back what was lost: re-enqueue studies QUEUED past IMAGING_QUEUE_DEADLINE_S, take back
    studies RUNNING past their lease, and fail those that used up their attempts. Safe to run
    anywhere, any number of times: every change is a conditional UPDATE."""
    from imaging.selectors import studies_overdue

    now = now or timezone.now()
    requeued: list[int] = []
    failed: list[int] = []
    overdue = studies_overdue(now=now, queue_deadline_s=settings.IMAGING_QUEUE_DEADLINE_S)
    for study_id, state, attempts in overdue.values_list("pk", "state", "attempts")[:500]:
        if attempts >= settings.IMAGING_MAX_ATTEMPTS:
            if _fail(study_id, None, "gave_up", _gave_up_reason()):
                failed.append(study_id)
            continue
        rows = Study.objects.filter(pk=study_id, state=state)
        if state == Study.State.RUNNING:
            rows = rows.filter(lease_expires_at__lt=now)
        else:
            rows = rows.filter(
                enqueued_at__lt=now - dt.timedelta(seconds=settings.IMAGING_QUEUE_DEADLINE_S)
            )
        if rows.update(
            state=Study.State.QUEUED, claim_token=None, lease_expires_at=None, enqueued_at=now
        ):
            requeued.append(study_id)
            _enqueue(study_id)
    if requeued or failed:
        logger.warning("imaging sweep: requeued %s, failed %s", requeued, failed)
    return SweepReport(requeued=requeued, failed=failed)


# --- model registry ------------------------------------------------------------------------------


@transaction.atomic
def imaging_model_register(
    *, folder: Path, activate: bool = True, by: User | None = None
) -> ImagingModelVersion:
    """Register the bundle in `folder` (under IMAGING_MODEL_ROOT) after verifying every file's
    digest; activate it unless told not to. Registering a version twice returns the existing row."""
    folder = Path(folder).resolve()
    root = imaging_model_root().resolve()
    if root not in folder.parents:
        raise ValidationError(f"The bundle must be under IMAGING_MODEL_ROOT ({root}).")
    manifest = manifest_read_verified(folder, "classifier.onnx")
    files = manifest.get("files") or {}
    from imaging.ml.serving import ImagingBundle

    ImagingBundle.load(folder, expected_files=files)  # every digest, before any row exists
    version, created = ImagingModelVersion.objects.get_or_create(
        name=str(manifest["name"]),
        version=str(manifest["version"]),
        defaults={
            "artifact_dir": str(folder.relative_to(root)),
            "sha256": str(manifest["sha256"]),
            "files": files,
            "manifest": manifest,
            "is_synthetic": bool(manifest.get("is_synthetic")),
        },
    )
    if created:
        audit_record(actor=by, action=AuditAction.CREATE, obj=version, detail={"registered": True})
    if activate and not version.is_active:
        imaging_model_activate(version=version, by=by)
    return version


@transaction.atomic
def imaging_model_activate(*, version: ImagingModelVersion, by: User | None = None) -> None:
    """Make `version` the one active imaging model (new studies use it)."""
    ImagingModelVersion.objects.filter(is_active=True).exclude(pk=version.pk).update(
        is_active=False
    )
    ImagingModelVersion.objects.filter(pk=version.pk).update(
        is_active=True, activated_at=timezone.now(), activated_by=by
    )
    version.refresh_from_db()
    audit_record(actor=by, action=AuditAction.UPDATE, obj=version, detail={"activated": True})


# --- reports -------------------------------------------------------------------------------------


def _require_reporter(user: User, report: StudyReport) -> None:
    if not user_may_report(user=user):
        raise PermissionDenied("Only radiologists edit and sign imaging reports.")
    if report.status == StudyReport.Status.SIGNED:
        raise ValidationError("This report is signed and final; it cannot be changed.")


@transaction.atomic
def report_update(
    *, report: StudyReport, by: User, text: str, ip: str | None = None
) -> StudyReport:
    """Save a radiologist's edit of the draft (still unsigned)."""
    report = StudyReport.objects.select_for_update().get(pk=report.pk)
    _require_reporter(by, report)
    text = text.strip()
    if not text:
        raise ValidationError({"text": "The report cannot be empty."})
    report.text = text
    report.edited_by = by
    report.edited_at = timezone.now()
    report.save(update_fields=["text", "edited_by", "edited_at"])
    audit_record(actor=by, action=AuditAction.UPDATE, obj=report, ip=ip, detail={"edited": True})
    return report


@transaction.atomic
def report_sign(
    *, report: StudyReport, by: User, text: str | None = None, ip: str | None = None
) -> StudyReport:
    """Sign the report (with a last edit of its text, if given): it becomes final and its text's
    sha256 is kept, so any later change would show."""
    report = StudyReport.objects.select_for_update().get(pk=report.pk)
    _require_reporter(by, report)
    # A signed report has been reviewed: the "not reviewed by a radiologist" mark goes.
    text = str(report.text if text is None else text).replace(AI_DRAFT_MARK, "").strip()
    if not text:
        raise ValidationError({"text": "The report cannot be empty."})
    if text != report.text:
        report.text = text
        report.edited_by = by
        report.edited_at = timezone.now()
    report.status = StudyReport.Status.SIGNED
    report.signed_by = by
    report.signed_at = timezone.now()
    report.signed_sha256 = hashlib.sha256(str(report.text).encode()).hexdigest()
    report.save()
    audit_record(
        actor=by,
        action=AuditAction.UPDATE,
        obj=report,
        ip=ip,
        detail={"signed": True, "sha256": report.signed_sha256},
    )
    study = report.study
    study_changed.send(sender=Study, study_id=study.pk, patient_id=study.patient_id)
    return report
