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
from django.db.models import F, Q, QuerySet
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
