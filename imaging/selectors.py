"""Reads of the imaging app: studies a user may see, queue position and ETA, the worklist, the
active model and its card, and the patient timeline's imaging entries.

A study is visible exactly when its patient is (patients.selectors.patients_visible_to): another
care team gets a 404, audited as a denial, for the study and for each of its files.
"""

import datetime as dt
import math
import statistics
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncDay
from django.http import Http404
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditOutcome, Role, User
from imaging.models import ImagingModelVersion, Study, StudyReport
from patients.models import Patient
from patients.selectors import TimelineItem, patients_visible_to

UPLOADING_ROLES = frozenset({Role.CLINICIAN, Role.RADIOLOGIST})
REPORTING_ROLES = frozenset({Role.RADIOLOGIST})
ETA_SAMPLE = 20
DEFAULT_SERVICE_S = 2.0  # before any study has finished: a CPU inference is well under this


def user_may_upload(*, user: User) -> bool:
    """Clinicians, radiologists and admins upload images (of their care teams' patients)."""
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_portal_admin or user.role in UPLOADING_ROLES)
    )


def user_may_report(*, user: User) -> bool:
    """Only radiologists edit and sign reports."""
    return bool(user.is_authenticated and user.is_active and user.role in REPORTING_ROLES)


def studies_visible_to(*, user: User) -> QuerySet[Study]:
    return Study.objects.filter(patient__in=patients_visible_to(user=user))


def study_get_for_user(
    *, user: User, public_id: uuid.UUID | str, ip: str | None = None, want: str = "view"
) -> Study:
    """The study if `user` may see its patient; else Http404, audited as a denial (404 rather than
    403, so that another team's study ids reveal nothing)."""
    try:
        study = (
            studies_visible_to(user=user)
            .select_related("patient", "model_version", "uploaded_by")
            .get(public_id=public_id)
        )
    except (Study.DoesNotExist, ValueError, TypeError, ValidationError):
        audit_record(
            actor=user,
            action=AuditAction.DENIED,
            object_type="imaging.study",
            object_id=str(public_id)[:64],
            ip=ip,
            outcome=AuditOutcome.DENIED,
            detail={"wanted": want},
        )
        raise Http404("No such study, or you do not have access to its patient.") from None
    return study


def studies_for_patient(*, patient: Patient) -> QuerySet[Study]:
    return Study.objects.filter(patient=patient).select_related("model_version")


@dataclass(frozen=True)
class QueueEstimate:
    """Where a pending study stands: studies ahead of it (position 0 = next or running) and an
    estimate of the seconds until its result, from the service times of recent studies."""

    position: int
    eta_seconds: float


def _service_seconds() -> float:
    recent = (
        Study.objects.filter(state=Study.State.DONE, claimed_at__isnull=False)
        .order_by("-finished_at")
        .values_list("claimed_at", "finished_at")[:ETA_SAMPLE]
    )
    samples = [(end - start).total_seconds() for start, end in recent if start and end]
    return statistics.median(samples) if samples else DEFAULT_SERVICE_S


def queue_estimate(*, study: Study) -> QueueEstimate | None:
    """None once the study is DONE or FAILED."""
    if study.state == Study.State.RUNNING:
        started = study.claimed_at or timezone.now()
        left = _service_seconds() - (timezone.now() - started).total_seconds()
        return QueueEstimate(position=0, eta_seconds=max(0.5, left))
    if study.state != Study.State.QUEUED:
        return None
    ahead = Study.objects.filter(state=Study.State.QUEUED).filter(
        Q(enqueued_at__lt=study.enqueued_at) | Q(enqueued_at=study.enqueued_at, pk__lt=study.pk)
    )
    running = Study.objects.filter(state=Study.State.RUNNING).count()
    position = ahead.count()
    # Workers in use now bound the parallelism from below; at least one will take the next study.
    slots = max(1, running)
    rounds = math.ceil((position + running + 1) / slots)
    return QueueEstimate(position=position, eta_seconds=rounds * _service_seconds())


def worklist(
    *, user: User, modality: str = "", state: str = "", reported: str = ""
) -> QuerySet[Study]:
    """The radiologist's worklist: visible studies, most urgent first (AI probability of an
    abnormal finding), then the longest waiting; pending studies (no urgency yet) after them."""
    studies = studies_visible_to(user=user).select_related("patient", "report", "model_version")
    if modality:
        studies = studies.filter(modality=modality)
    if state:
        studies = studies.filter(state=state)
    if reported == "signed":
        studies = studies.filter(report__status=StudyReport.Status.SIGNED)
    elif reported == "unsigned":
        studies = studies.exclude(report__status=StudyReport.Status.SIGNED)
    return studies.order_by(F("abnormal_probability").desc(nulls_last=True), "uploaded_at")


def worklist_modalities(*, user: User) -> list[str]:
    return sorted(set(studies_visible_to(user=user).values_list("modality", flat=True).distinct()))


def imaging_model_active() -> ImagingModelVersion | None:
    return ImagingModelVersion.objects.filter(is_active=True).first()


def imaging_model_get(*, public_id: uuid.UUID | str) -> ImagingModelVersion:
    try:
        return ImagingModelVersion.objects.get(public_id=public_id)
    except (ImagingModelVersion.DoesNotExist, ValueError):
        raise Http404("No such imaging model.") from None


def imaging_model_versions() -> QuerySet[ImagingModelVersion]:
    return ImagingModelVersion.objects.all()


def modality_words(modality: str) -> str:
    """The modality in words ("MRI", "X-ray"), its DICOM code when unknown."""
    return MODALITY_NAMES.get(modality, modality or "Image")


MODALITY_NAMES = {
    "CT": "CT",
    "MR": "MRI",
    "DX": "X-ray",
    "CR": "X-ray",
    "XA": "Angiography",
    "US": "Ultrasound",
    "NM": "Nuclear medicine",
    "MG": "Mammography",
    "OT": "Image",
}


def study_title(study: Study) -> str:
    """ "CT, chest" / "X-ray" / "Image": modality and body part, never PHI."""
    words = modality_words(study.modality)
    return f"{words}, {study.body_part.lower()}" if study.body_part else words


def study_timeline_items(patient: Patient) -> Iterable[TimelineItem]:
    """The patient timeline's imaging entries (registered in ImagingConfig.ready)."""
    for study in studies_for_patient(patient=patient)[:500]:
        if study.state == Study.State.DONE and study.predicted_class:
            urgency = study.abnormal_probability or 0.0
            summary = f"AI finding: {study.predicted_class} ({urgency:.0%} probability abnormal)"
        else:
            summary = study.get_state_display()
        yield TimelineItem(
            study.uploaded_at, "imaging", f"Imaging: {study_title(study)}", summary, study
        )


def model_card(version: ImagingModelVersion) -> dict[str, Any]:
    """What `manage.py model_cards` and the card page show: no PHI, all from the manifest."""
    manifest = version.manifest
    return {
        "kind": "imaging",
        "name": version.name,
        "version": version.version,
        "active": version.is_active,
        "is_synthetic": version.is_synthetic,
        "warning": manifest.get("card_warning", ""),
        "classes": manifest.get("classes", []),
        "normal_class": manifest.get("normal_class", ""),
        "input_size": manifest.get("input_size"),
        "modalities": manifest.get("modalities", []),
        "training_data": manifest.get("training_data", {}),
        "metrics": manifest.get("metrics", {}),
        "parameters": manifest.get("parameters", {}),
        "intended_use": manifest.get("intended_use", ""),
        "limitations": manifest.get("limitations", []),
        "sha256": version.sha256,
        "registered_at": version.registered_at.isoformat(),
    }


def model_cards_active() -> list[dict[str, Any]]:
    version = imaging_model_active()
    return [model_card(version)] if version else []


def studies_overdue(*, now: dt.datetime, queue_deadline_s: int) -> QuerySet[Study]:
    """Studies the sweeper must look at: QUEUED past the queue deadline, RUNNING past lease."""
    return Study.objects.filter(
        Q(state=Study.State.QUEUED, enqueued_at__lt=now - dt.timedelta(seconds=queue_deadline_s))
        | Q(state=Study.State.RUNNING, lease_expires_at__lt=now)
    )


# --- dashboards: patient ----------------------------------------------------------------------
# The clinician home and the patient dashboard: counts and per-day figures aggregated in SQL over
# the studies a user may see, and short lists (the caller shows at most a few rows).

WAITING_STATES = (Study.State.QUEUED, Study.State.RUNNING)
FINISHED_STATES = (Study.State.DONE, Study.State.FAILED)


def studies_summary_for_user(*, user: User, finished_since: dt.datetime) -> dict[str, int]:
    """{"waiting": QUEUED or RUNNING, "finished": DONE since `finished_since`, "failed": FAILED
    since then} over the studies `user` may see, in one query."""
    counts = studies_visible_to(user=user).aggregate(
        waiting=Count("pk", filter=Q(state__in=WAITING_STATES)),
        finished=Count("pk", filter=Q(state=Study.State.DONE, finished_at__gte=finished_since)),
        failed=Count("pk", filter=Q(state=Study.State.FAILED, finished_at__gte=finished_since)),
    )
    return {key: int(value or 0) for key, value in counts.items()}


def studies_waiting_for_user(*, user: User, limit: int = 10) -> list[Study]:
    """The studies `user` may see that wait for a result, the longest waiting first, with their
    patients (at most `limit`)."""
    studies = studies_visible_to(user=user).filter(state__in=WAITING_STATES)
    return list(studies.select_related("patient").order_by("enqueued_at", "pk")[:limit])


def studies_finished_for_user(
    *, user: User, finished_since: dt.datetime, limit: int = 10
) -> list[Study]:
    """The studies `user` may see that reached DONE or FAILED since `finished_since`, newest
    first, with their patients (at most `limit`)."""
    studies = studies_visible_to(user=user).filter(
        state__in=FINISHED_STATES, finished_at__gte=finished_since
    )
    return list(studies.select_related("patient").order_by("-finished_at", "-pk")[:limit])


def studies_per_day_for_user(*, user: User, since: dt.datetime) -> dict[dt.date, dict[str, int]]:
    """{day: {"submitted", "finished", "failed"}} over the studies `user` may see, since `since`
    (days in the current time zone; days without a study are absent). Two queries."""
    visible = studies_visible_to(user=user).order_by()
    days: dict[dt.date, dict[str, int]] = {}

    def add(day: dt.datetime | dt.date, key: str, n: int) -> None:
        date = day.date() if isinstance(day, dt.datetime) else day
        days.setdefault(date, {"submitted": 0, "finished": 0, "failed": 0})[key] += n

    submitted = (
        visible.filter(uploaded_at__gte=since)
        .annotate(day=TruncDay("uploaded_at"))
        .values("day")
        .annotate(n=Count("pk"))
    )
    for row in submitted:
        add(row["day"], "submitted", row["n"])
    ended = (
        visible.filter(state__in=FINISHED_STATES, finished_at__gte=since)
        .annotate(day=TruncDay("finished_at"))
        .values("day", "state")
        .annotate(n=Count("pk"))
    )
    for row in ended:
        add(row["day"], "finished" if row["state"] == Study.State.DONE else "failed", row["n"])
    return days


def studies_timeline_for_patient(*, patient: Patient, limit: int = 200) -> list[Study]:
    """The newest `limit` studies of `patient`, oldest first (for a timeline chart). The caller
    has checked access."""
    newest = (
        Study.objects.filter(patient=patient)
        .select_related("model_version")
        .order_by("-uploaded_at", "-pk")[:limit]
    )
    return list(reversed(newest))


# --- dashboards: operations ----------------------------------------------------------------------
# Aggregates over every study in the portal (the queue is shared), for the imaging operations
# dashboard: counts and durations only, never a patient. Each is one SQL query, whatever the
# number of patients or studies.

OPS_FAILURE_TITLES = {
    "gave_up": "Gave up after repeated attempts",
    "no_model": "No active imaging model",
    "model_integrity": "Model failed its integrity check",
    "file_missing": "Stored image missing",
    "analysis_error": "Analysis error",
}


def ops_queue_summary(*, now: dt.datetime) -> dict[str, Any]:
    """{"queued", "running", "oldest_waiting_at" (upload time of the oldest QUEUED study, or
    None), "failed_24h" (studies that went FAILED in the 24 hours before `now`)}."""
    from django.db.models import Count, Min

    day_ago = now - dt.timedelta(hours=24)
    return Study.objects.aggregate(
        queued=Count("pk", filter=Q(state=Study.State.QUEUED)),
        running=Count("pk", filter=Q(state=Study.State.RUNNING)),
        oldest_waiting_at=Min("uploaded_at", filter=Q(state=Study.State.QUEUED)),
        failed_24h=Count("pk", filter=Q(state=Study.State.FAILED, finished_at__gte=day_ago)),
    )


def ops_hours(*, now: dt.datetime, hours: int = 24) -> list[dt.datetime]:
    """The starts of the last `hours` whole hours up to and including the current one (UTC)."""
    current = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return [current - dt.timedelta(hours=back) for back in range(hours - 1, -1, -1)]


def ops_throughput_by_hour(*, since: dt.datetime) -> dict[str, dict[dt.datetime, int]]:
    """Studies per hour since `since`: {"submitted": {hour: n}, "done": ..., "failed": ...}, by
    upload time for submitted and by finish time for the others (two queries)."""
    from django.db.models import Count
    from django.db.models.functions import TruncHour

    out: dict[str, dict[dt.datetime, int]] = {"submitted": {}, "done": {}, "failed": {}}
    submitted = (
        Study.objects.filter(uploaded_at__gte=since)
        .annotate(hour=TruncHour("uploaded_at", tzinfo=dt.UTC))
        .values("hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in submitted:
        out["submitted"][row["hour"]] = row["n"]
    finished = (
        Study.objects.filter(
            finished_at__gte=since, state__in=(Study.State.DONE, Study.State.FAILED)
        )
        .annotate(hour=TruncHour("finished_at", tzinfo=dt.UTC))
        .values("hour", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in finished:
        out[row["state"]][row["hour"]] = row["n"]
    return out


def ops_latency_by_hour(*, since: dt.datetime) -> dict[dt.datetime, dict[str, float | int]]:
    """Seconds from upload to result of the studies DONE since `since`, per hour of their result:
    {hour: {"n", "p50", "p95"}}. Nearest-rank percentiles computed in SQL (window functions), so
    at most two rows per hour come back, however many studies there were."""
    from django.db.models import Count, DurationField, ExpressionWrapper, FloatField, Window
    from django.db.models.functions import Ceil, RowNumber, TruncHour

    hour = TruncHour("finished_at", tzinfo=dt.UTC)
    waited = ExpressionWrapper(F("finished_at") - F("uploaded_at"), output_field=DurationField())
    ranked = (
        Study.objects.filter(
            state=Study.State.DONE, finished_at__gte=since, finished_at__isnull=False
        )
        .annotate(
            hour=hour,
            waited=waited,
            rank=Window(RowNumber(), partition_by=[hour], order_by=[waited.asc(), F("pk").asc()]),
            n=Window(Count("pk"), partition_by=[hour]),
        )
        .annotate(
            rank50=Ceil(ExpressionWrapper(F("n") * 0.5, output_field=FloatField())),
            rank95=Ceil(ExpressionWrapper(F("n") * 0.95, output_field=FloatField())),
        )
        .filter(Q(rank=F("rank50")) | Q(rank=F("rank95")))
        .values_list("hour", "waited", "rank", "rank50", "rank95", "n")
        .order_by()
    )
    out: dict[dt.datetime, dict[str, float | int]] = {}
    for at, took, rank, rank50, rank95, n in ranked:
        seconds = took.total_seconds() if isinstance(took, dt.timedelta) else float(took) / 1e6
        figures = out.setdefault(at, {"n": int(n)})
        if rank == rank50:
            figures["p50"] = round(seconds, 1)
        if rank == rank95:
            figures["p95"] = round(seconds, 1)
    return out


def ops_failures_by_code(*, since: dt.datetime) -> list[dict[str, Any]]:
    """Studies FAILED since `since` by failure code, most frequent first: [{"code", "title",
    "n", "last_at", "reason"}]; `reason` is one of the sentences shown to the uploader (they
    quote no file name nor header value, see imaging.intake.errors)."""
    from django.db.models import Count, Max

    rows = (
        Study.objects.filter(state=Study.State.FAILED, finished_at__gte=since)
        .values("failure_code")
        .annotate(n=Count("pk"), last_at=Max("finished_at"), reason=Max("failure_reason"))
        .order_by("-n", "failure_code")
    )
    return [
        {
            "code": row["failure_code"] or "unknown",
            "title": OPS_FAILURE_TITLES.get(row["failure_code"])
            or (row["failure_code"] or "unknown").replace("_", " ").capitalize(),
            "n": row["n"],
            "last_at": row["last_at"],
            "reason": row["reason"] or "",
        }
        for row in rows
    ]


def ops_workers(*, now: dt.datetime, limit: int = 50) -> list[dict[str, Any]]:
    """The Celery workers that reported a heartbeat (imaging.heartbeat), alive first, then the
    most recently seen: [{"hostname", "pid", "queues", "started_at", "last_seen_at",
    "stopped_at", "state"}], state "alive", "stopped" (shut down cleanly) or "silent" (no beat
    for ALIVE_INTERVALS intervals: killed, hung or cut off from the database)."""
    from imaging.models import WorkerHeartbeat

    fresh_since = now - dt.timedelta(seconds=ops_alive_window_s())
    workers = []
    for beat in WorkerHeartbeat.objects.order_by("-last_seen_at")[:limit]:
        if beat.stopped_at is not None:
            state = "stopped"
        elif beat.last_seen_at >= fresh_since:
            state = "alive"
        else:
            state = "silent"
        workers.append(
            {
                "hostname": beat.hostname,
                "pid": beat.pid,
                "queues": list(beat.queues or []),
                "started_at": beat.started_at,
                "last_seen_at": beat.last_seen_at,
                "stopped_at": beat.stopped_at,
                "state": state,
            }
        )
    workers.sort(key=lambda w: w["state"] != "alive")  # stable: alive first, then by last seen
    return workers


def ops_alive_window_s() -> float:
    """Seconds without a heartbeat after which a worker that did not stop counts as silent."""
    from imaging.heartbeat import ALIVE_INTERVALS, heartbeat_interval_s

    return ALIVE_INTERVALS * heartbeat_interval_s()
