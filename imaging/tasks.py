"""Celery adapters of the imaging services: a few lines each; the services make a second run
harmless. Messages carry the study's integer id, never PHI.

Each worker child loads the active bundle once, right after the fork (`worker_process_init`), and
only after its files matched their digests; the web process never loads one. Each child also
starts its memory guard there (imaging.guard): a study that takes the child past
IMAGING_WORKER_MEMORY_LIMIT_MB goes FAILED with a reason and the child is replaced.
"""

import contextlib
import logging
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init
from django.conf import settings
from django.db import DatabaseError, OperationalError

from imaging import guard, softlimit
from imaging.services import (
    TransientAnalysisError,
    studies_sweep,
    study_analyze,
    study_fail_over_memory,
)

logger = logging.getLogger(__name__)

# This child's memory guard, started by worker_process_init (None in the web and in eager tests).
_guard: guard.MemoryGuard | None = None


@shared_task(
    acks_late=True,
    # The study row is the state and the result: a row in the result table per task (STARTED,
    # then SUCCESS) would be two more writes for each study.
    track_started=False,
    ignore_result=True,
    autoretry_for=(TransientAnalysisError, OperationalError, SoftTimeLimitExceeded),
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=settings.IMAGING_MAX_ATTEMPTS - 1,
    soft_time_limit=settings.IMAGING_TASK_TIME_LIMIT_S - 10,
    time_limit=settings.IMAGING_TASK_TIME_LIMIT_S,
)
def study_analyze_task(study_id: int) -> str:
    """Analyse study `study_id` (see imaging.services.study_analyze)."""
    softlimit.arm()
    with _guard.watching(study_id) if _guard else contextlib.nullcontext():
        return study_analyze(study_id=study_id).outcome


@shared_task(ignore_result=True)
def studies_sweep_task() -> dict[str, list[int]]:
    """Re-enqueue lost studies, take back dead workers' studies (see studies_sweep)."""
    report = studies_sweep()
    return {"requeued": report.requeued, "failed": report.failed}


def _over_memory(study_id: int, rss_bytes: int) -> None:
    study_fail_over_memory(study_id=study_id, rss_bytes=rss_bytes)


@worker_process_init.connect
def _guard_start(**_: Any) -> None:
    global _guard
    _guard = guard.start(settings.IMAGING_WORKER_MEMORY_LIMIT_MB * 2**20, _over_memory)


@worker_process_init.connect
def _bundle_preload(**_: Any) -> None:
    """Load the active bundle in this fresh child, so its first study pays no load. A failure is
    logged, not raised: the study that needs the model reports it as its FAILED reason."""
    from imaging.loading import bundle_get
    from imaging.selectors import imaging_model_active

    try:
        version = imaging_model_active()
        if version is not None:
            bundle_get(version)
    except (DatabaseError, Exception):
        logger.warning("imaging bundle preload failed", exc_info=True)
