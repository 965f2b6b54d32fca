"""Celery adapters of the import services: a few lines each; the services make a second run
harmless. Messages carry the job's integer id, never PHI (JSON serialization, as configured)."""

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from interop.services import TransientImportError, import_run, imports_sweep


@shared_task(
    acks_late=True,
    # The job row is the state and the result: no result rows per task.
    track_started=False,
    ignore_result=True,
    autoretry_for=(TransientImportError, OperationalError),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=settings.INTEROP_IMPORT_MAX_ATTEMPTS - 1,
    # An import of 100k rows takes minutes: its own limits, above the default task's.
    soft_time_limit=settings.INTEROP_IMPORT_TIME_LIMIT_S - 30,
    time_limit=settings.INTEROP_IMPORT_TIME_LIMIT_S,
)
def import_run_task(job_id: int) -> str:
    """Run import job `job_id` (see interop.services.import_run)."""
    return import_run(job_id=job_id).outcome


@shared_task(ignore_result=True)
def imports_sweep_task() -> dict[str, list[int]]:
    """Re-enqueue lost imports, take back dead workers' imports, remove old files (see
    imports_sweep)."""
    report = imports_sweep()
    return {
        "requeued": report.requeued,
        "failed": report.failed,
        "files_removed": report.files_removed,
    }
