"""Writes of interop: submitting an import (web request), running it (worker) and the sweeper
that recovers lost imports. The life of a job follows an imaging study's (imaging.services):

- `import_submit` checks the role and the care team, seals the upload while receiving it (its
  format decided by content; a refused file leaves nothing), creates the job QUEUED and enqueues
  the task with `transaction.on_commit`: milliseconds.
- `import_run` (worker) claims the job with one conditional UPDATE that sets a fresh claim token
  and a lease; a redelivered message finds nothing to claim. The run renews the lease as it
  progresses, locks the job row at the start of each patient's transaction and stops if its
  token is gone; the import itself is idempotent, so a second run after a crash completes the
  first without duplicating anything.
- `imports_sweep` (beat) re-enqueues jobs QUEUED past the deadline (lost message) and takes back
  jobs RUNNING past their lease (dead worker); after INTEROP_IMPORT_MAX_ATTEMPTS claims a job goes
  FAILED with a reason instead.
Task messages carry the job's integer id only; logs carry ids and counts, never PHI.
"""

import datetime as dt
import logging
import uuid
from dataclasses import dataclass, field
from typing import IO

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
from interop.importing import files
from interop.importing.apply import LostClaim
from interop.importing.files import ImportRefused
from interop.importing.run import ImportFileError, ImportResult, import_stored_file
from interop.importing.selectors import import_care_teams, imports_overdue, user_may_import
from interop.models import ImportJob

logger = logging.getLogger(__name__)

__all__ = ["ImportRefused", "import_run", "import_submit", "imports_sweep"]

STORAGE_UNAVAILABLE = "storage_unavailable"


class TransientImportError(Exception):
    """The run broke for a reason a later try may not meet (the claim was given back)."""


# --- submit --------------------------------------------------------------------------------------


def _enqueue(job_id: int) -> None:
    """Publish the task. A broker that is down is not the uploader's problem: the row is
    committed QUEUED and the sweeper publishes it again after the queue deadline."""
    from interop.tasks import import_run_task

    try:
        import_run_task.delay(job_id)
    except Exception:
        logger.warning("import %s: enqueue failed; the sweeper will retry", job_id, exc_info=True)


def import_submit(
    *,
    by: User,
    care_team: uuid.UUID,
    upload: IO[bytes],
    original_name: str = "",
    ip: str | None = None,
) -> ImportJob:
    """Store an upload (by content: a FHIR Bundle or the CSV template) and queue its import into
    `care_team` (one of `by`'s teams; any team for an admin).

    Raises PermissionDenied for a role that does not import, ValidationError for a care team
    that is not the user's, ImportRefused for a file refused by size or content (nothing kept).
    Returns the QUEUED job; its task is published after the commit."""
    if not user_may_import(user=by):
        raise PermissionDenied("Your role does not import records.")
    team = import_care_teams(user=by).filter(public_id=care_team).first()
    if team is None:
        raise ValidationError({"care_team": ["Choose one of your care teams."]})
    try:
        stored = files.upload_store(upload, max_bytes=settings.INTEROP_IMPORT_MAX_BYTES)
    except OSError:  # a full or failing disk: nothing was kept (the writer removed its part)
        logger.error("import storage cannot take an upload", exc_info=True)
        raise ImportRefused(
            STORAGE_UNAVAILABLE, "The import store cannot take files right now; try again later."
        ) from None
    try:
        with transaction.atomic():
            job = ImportJob.objects.create(
                created_by=by,
                care_team=team,
                format=stored.format,
                file_name=stored.name,
                original_name=original_name[:255],
                size_bytes=stored.size,
                sha256=stored.sha256,
            )
            audit_record(
                actor=by,
                action=AuditAction.CREATE,
                obj=job,
                ip=ip,
                detail={
                    "format": job.format,
                    "bytes": job.size_bytes,
                    "care_team": str(team.public_id),
                },
            )
            transaction.on_commit(lambda: _enqueue(job.pk))
    except BaseException:
        files.remove(stored.name)
        raise
    logger.info("import %s queued (%s, %s bytes)", job.pk, job.format, job.size_bytes)
    return job


# --- run (worker) --------------------------------------------------------------------------------


def _lease() -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=settings.INTEROP_IMPORT_LEASE_S)


def _claim(job_id: int) -> uuid.UUID | None:
    """QUEUED -> RUNNING, or RUNNING with an expired lease -> RUNNING under a new token (counts
    start again: a re-run counts what the earlier one wrote as matched or present); None when
    there is nothing to claim."""
    now = timezone.now()
    token = uuid.uuid4()
    claimable = Q(state=ImportJob.State.QUEUED) | Q(
        state=ImportJob.State.RUNNING, lease_expires_at__lt=now
    )
    claimed = ImportJob.objects.filter(
        claimable, pk=job_id, attempts__lt=settings.INTEROP_IMPORT_MAX_ATTEMPTS
    ).update(
        state=ImportJob.State.RUNNING,
        claim_token=token,
        claimed_at=now,
        lease_expires_at=_lease(),
        attempts=F("attempts") + 1,
        bytes_read=0,
        rows_total=0,
        rows_done=0,
        patients_created=0,
        patients_matched=0,
        observations_imported=0,
        observations_present=0,
        entries_imported=0,
        entries_present=0,
        rejected=0,
        skipped={},
    )
    return token if claimed else None


def _notify(job: ImportJob) -> None:
    url = reverse("interop:import", args=[job.public_id])
    if job.state == ImportJob.State.DONE:
        message = (
            f"Import finished: {job.patients_created} new and {job.patients_matched} matched "
            f"patients, {job.observations_imported} observations, {job.rejected} rows rejected."
        )
    else:
        message = "Import failed. Open it to see why."
    notification_send(user=job.created_by, message=message, url=url)


def _fail(job_id: int, token: uuid.UUID | None, code: str, reason: str) -> bool:
    """FAILED with a reason (by the claim holder, or unconditionally when `token` is None)."""
    rows = ImportJob.objects.filter(pk=job_id).exclude(state=ImportJob.State.DONE)
    if token is not None:
        rows = rows.filter(claim_token=token, state=ImportJob.State.RUNNING)
    with transaction.atomic():
        failed = rows.update(
            state=ImportJob.State.FAILED,
            failure_code=code,
            failure_reason=reason,
            finished_at=timezone.now(),
            claim_token=None,
            lease_expires_at=None,
        )
        if failed:
            _notify(ImportJob.objects.select_related("created_by").get(pk=job_id))
    if failed:
        logger.info("import %s failed: %s", job_id, code)
    return bool(failed)


def _release(job_id: int, token: uuid.UUID) -> None:
    """Give a claim back (RUNNING -> QUEUED) so that a retry can claim it at once."""
    ImportJob.objects.filter(pk=job_id, claim_token=token, state=ImportJob.State.RUNNING).update(
        state=ImportJob.State.QUEUED,
        claim_token=None,
        lease_expires_at=None,
        enqueued_at=timezone.now(),
    )


@dataclass(frozen=True)
class RunOutcome:
    job_id: int
    outcome: str  # "done", "failed", "not_claimed", "lost_claim"


def _gave_up_reason() -> str:
    return (
        f"The import did not complete after {settings.INTEROP_IMPORT_MAX_ATTEMPTS} attempts. "
        "Rows imported before it stopped are kept; importing the same file again adds the rest "
        "without duplicating anything. If it fails again, ask an administrator to check the "
        "workers."
    )


def _partial(job_id: int) -> str:
    job = ImportJob.objects.filter(pk=job_id).values(
        "patients_created", "observations_imported", "entries_imported"
    ).first() or {"patients_created": 0, "observations_imported": 0, "entries_imported": 0}
    return (
        f"Before it stopped, {job['patients_created']} patients, "
        f"{job['observations_imported']} observations and {job['entries_imported']} other "
        "entries were imported; they are kept, and importing the same file again adds the rest "
        "without duplicating anything."
    )


def import_run(*, job_id: int) -> RunOutcome:
    """Run job `job_id` if this call wins the claim; a redelivery returns "not_claimed" at once.

    A file that cannot be imported at all, a time limit, or an uploader who may no longer import
    into the team: FAILED with the reason. Anything else gives the claim back and raises
    TransientImportError for the task to retry; the claim counter turns the
    INTEROP_IMPORT_MAX_ATTEMPTS-th such failure into FAILED."""
    token = _claim(job_id)
    if token is None:
        exhausted = ImportJob.objects.filter(
            pk=job_id,
            state__in=(ImportJob.State.QUEUED, ImportJob.State.RUNNING),
            attempts__gte=settings.INTEROP_IMPORT_MAX_ATTEMPTS,
        ).exclude(state=ImportJob.State.RUNNING, lease_expires_at__gte=timezone.now())
        if exhausted.exists():
            _fail(job_id, None, "gave_up", _gave_up_reason())
            return RunOutcome(job_id, "failed")
        return RunOutcome(job_id, "not_claimed")
    job = ImportJob.objects.select_related("created_by", "care_team").get(pk=job_id)
    by = job.created_by
    if not user_may_import(user=by):
        _fail(job_id, token, "not_allowed", "The uploader's account may no longer import records.")
        return RunOutcome(job_id, "failed")
    if not import_care_teams(user=by).filter(pk=job.care_team_id).exists():
        _fail(
            job_id,
            token,
            "care_team",
            "The uploader is no longer a member of the care team chosen for this import.",
        )
        return RunOutcome(job_id, "failed")

    def hold() -> None:
        # Inside the patient's transaction: the UPDATE locks the job row until it commits (a
        # second worker's patient waits, then finds the claim gone) and renews the lease.
        running = ImportJob.objects.filter(
            pk=job_id, claim_token=token, state=ImportJob.State.RUNNING
        )
        if not running.update(lease_expires_at=_lease()):
            raise LostClaim

    def progress(fields: dict[str, int]) -> None:
        running = ImportJob.objects.filter(
            pk=job_id, claim_token=token, state=ImportJob.State.RUNNING
        )
        if not running.update(**fields, lease_expires_at=_lease()):
            raise LostClaim

    try:
        result = import_stored_file(
            name=job.file_name,
            fmt=job.format,
            size=job.size_bytes,
            by=by,
            team=job.care_team,
            hold=hold,
            progress=progress,
            today=timezone.localdate(),
        )
    except ImportFileError as error:
        _fail(job_id, token, error.code, error.message)
        return RunOutcome(job_id, "failed")
    except LostClaim:
        logger.info("import %s: claim lost; another run holds it", job_id)
        return RunOutcome(job_id, "lost_claim")
    except SoftTimeLimitExceeded:
        logger.warning("import %s: over its time limit", job_id)
        _fail(
            job_id,
            token,
            "time_limit",
            f"The import took longer than its {settings.INTEROP_IMPORT_TIME_LIMIT_S - 30} s "
            f"limit and was stopped. {_partial(job_id)} Split the file, or ask an administrator "
            "to raise INTEROP_IMPORT_TIME_LIMIT_S.",
        )
        return RunOutcome(job_id, "failed")
    except PermissionDenied:
        _fail(
            job_id,
            token,
            "not_allowed",
            f"The uploader's role no longer allows this import. {_partial(job_id)}",
        )
        return RunOutcome(job_id, "failed")
    except Exception as error:
        logger.exception("import %s: error", job_id)
        if job.attempts >= settings.INTEROP_IMPORT_MAX_ATTEMPTS:
            _fail(job_id, token, "import_error", f"{_gave_up_reason()} {_partial(job_id)}")
            return RunOutcome(job_id, "failed")
        _release(job_id, token)
        raise TransientImportError(f"import {job_id}: {type(error).__name__}") from None
    return _finish(job_id, token, result)


def _finish(job_id: int, token: uuid.UUID, result: ImportResult) -> RunOutcome:
    """DONE with the counts and the report, by the claim holder only (with its notification)."""
    with transaction.atomic():
        done = ImportJob.objects.filter(
            pk=job_id, claim_token=token, state=ImportJob.State.RUNNING
        ).update(
            state=ImportJob.State.DONE,
            finished_at=timezone.now(),
            claim_token=None,
            lease_expires_at=None,
            failure_code="",
            failure_reason="",
            report_name=result.report_name,
            rows_total=result.rows_total,
            skipped=result.skipped,
            **result.tally.fields(),
        )
        if done:
            _notify(ImportJob.objects.select_related("created_by").get(pk=job_id))
    if not done:
        files.remove(result.report_name)
        return RunOutcome(job_id, "lost_claim")
    tally = result.tally
    logger.info(
        "import %s done: %s created, %s matched, %s observations, %s present, %s rejected",
        job_id,
        tally.patients_created,
        tally.patients_matched,
        tally.observations_imported,
        tally.observations_present,
        tally.rejected,
    )
    return RunOutcome(job_id, "done")


# --- sweeper -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    requeued: list[int]
    failed: list[int]
    files_removed: list[int] = field(default_factory=list)


def imports_files_remove(*, now: dt.datetime | None = None, batch: int = 200) -> list[int]:
    """Remove the uploaded file and the rejected-rows report of jobs that ended more than
    INTEROP_IMPORT_KEEP_DAYS ago; the job keeps its counts and says when its files went.
    The row is marked first, so a page never offers a file that is going or gone."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.INTEROP_IMPORT_KEEP_DAYS)
    ended = ImportJob.objects.filter(
        state__in=(ImportJob.State.DONE, ImportJob.State.FAILED),
        finished_at__lt=cutoff,
        files_removed_at__isnull=True,
    )
    removed: list[int] = []
    for job_id, file_name, report_name in ended.values_list("pk", "file_name", "report_name")[
        :batch
    ]:
        if ImportJob.objects.filter(pk=job_id, files_removed_at__isnull=True).update(
            files_removed_at=now
        ):
            files.remove(file_name, report_name)
            removed.append(job_id)
    if removed:
        logger.info("import sweep: removed the files of %d ended imports", len(removed))
    return removed


def imports_sweep(*, now: dt.datetime | None = None) -> SweepReport:
    """Re-enqueue jobs QUEUED past INTEROP_IMPORT_QUEUE_DEADLINE_S, take back jobs RUNNING past
    their lease, fail those that used up their attempts, remove work folders of killed runs and
    the files of jobs past INTEROP_IMPORT_KEEP_DAYS.
    Safe to run anywhere, any number of times: every change is a conditional UPDATE."""
    now = now or timezone.now()
    requeued: list[int] = []
    failed: list[int] = []
    deadline = settings.INTEROP_IMPORT_QUEUE_DEADLINE_S
    overdue = imports_overdue(now=now, queue_deadline_s=deadline)
    for job_id, state, attempts in overdue.values_list("pk", "state", "attempts")[:200]:
        if attempts >= settings.INTEROP_IMPORT_MAX_ATTEMPTS:
            if _fail(job_id, None, "gave_up", f"{_gave_up_reason()} {_partial(job_id)}"):
                failed.append(job_id)
            continue
        rows = ImportJob.objects.filter(pk=job_id, state=state)
        if state == ImportJob.State.RUNNING:
            rows = rows.filter(lease_expires_at__lt=now)
        else:
            rows = rows.filter(enqueued_at__lt=now - dt.timedelta(seconds=deadline))
        if rows.update(
            state=ImportJob.State.QUEUED, claim_token=None, lease_expires_at=None, enqueued_at=now
        ):
            requeued.append(job_id)
            _enqueue(job_id)
    files.work_sweep(older_than_s=2 * max(settings.INTEROP_IMPORT_TIME_LIMIT_S, 60))
    removed = imports_files_remove(now=now)
    if requeued or failed:
        logger.warning("import sweep: requeued %s, failed %s", requeued, failed)
    return SweepReport(requeued=requeued, failed=failed, files_removed=removed)
