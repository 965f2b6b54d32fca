"""Reads of the patient record that cross relations or permissions.

Who sees a patient: members of one of the patient's care teams (django-guardian object
permissions held by the team's Group) and portal admins. Researchers see no identified patient.
Model-level `view_patient` is never granted, and global permissions are not accepted, so a role
alone never opens every record.
"""

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditOutcome, Role, User
from patients.crypto import blind_index
from patients.models import (
    Allergy,
    Condition,
    FamilyHistory,
    GeneticMarker,
    LifestyleAssessment,
    Medication,
    Observation,
    Patient,
)


def patients_visible_to(*, user: User) -> QuerySet[Patient]:
    if not user.is_authenticated or not user.is_active or user.role == Role.RESEARCHER:
        return Patient.objects.none()
    if user.is_portal_admin:
        return Patient.objects.all()
    return get_objects_for_user(
        user, "patients.view_patient", klass=Patient, accept_global_perms=False
    )


def patient_search(*, user: User, query: str = "") -> QuerySet[Patient]:
    """Exact match on MRN, full name ("given family") or family name, through blind indexes."""
    patients = patients_visible_to(user=user)
    if not query.strip():
        return patients
    return patients.filter(
        Q(mrn_index=blind_index(query, purpose="mrn"))
        | Q(name_index=blind_index(query, purpose="name"))
        | Q(family_name_index=blind_index(query, purpose="family_name"))
    )


def patient_get_for_user(
    *,
    user: User,
    public_id: uuid.UUID | str,
    for_change: bool = False,
    ip: str | None = None,
) -> Patient:
    """The patient if `user` may see it (and change it, with for_change); else Http404, audited as
    a denial. 404 rather than 403, so ids of other teams' patients reveal nothing."""
    try:
        patient = patients_visible_to(user=user).get(public_id=public_id)
    except (Patient.DoesNotExist, ValueError, TypeError):
        patient = None
    allowed = patient is not None and (
        not for_change or user.is_portal_admin or user.has_perm("patients.change_patient", patient)
    )
    if patient is None or not allowed:
        audit_record(
            actor=user,
            action=AuditAction.DENIED,
            object_type="patients.patient",
            object_id=str(public_id)[:64],
            ip=ip,
            outcome=AuditOutcome.DENIED,
            detail={"wanted": "change" if for_change else "view"},
        )
        raise Http404("No such patient, or you do not have access to this patient.")
    return patient


def observations_latest(*, patient: Patient) -> dict[str, Observation]:
    """The newest observation of each code."""
    latest: dict[str, Observation] = {}
    for obs in patient.observations.order_by("code", "-effective_at"):
        latest.setdefault(obs.code, obs)
    return latest


@dataclass(frozen=True)
class TimelineItem:
    at: dt.datetime
    kind: str
    title: str
    detail: str
    entry: object


def _at(day: dt.date | None, fallback: dt.datetime) -> dt.datetime:
    if day is None:
        return fallback
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def patient_timeline(*, patient: Patient, limit: int = 500) -> list[TimelineItem]:
    """Everything recorded for a patient, newest first."""
    items: list[TimelineItem] = []
    for obs in Observation.objects.filter(patient=patient)[:limit]:
        items.append(
            TimelineItem(
                obs.effective_at, "observation", obs.display, f"{obs.value:g} {obs.unit}", obs
            )
        )
    for cond in Condition.objects.filter(patient=patient)[:limit]:
        items.append(
            TimelineItem(
                _at(cond.onset_date, cond.recorded_at),
                "condition",
                cond.display,
                f"{cond.system} {cond.code} · {cond.get_status_display()}",
                cond,
            )
        )
    for med in Medication.objects.filter(patient=patient)[:limit]:
        dose = f"{med.dose:g} {med.dose_unit}".strip() if med.dose is not None else ""
        items.append(
            TimelineItem(
                _at(med.start_date, med.recorded_at),
                "medication",
                med.name,
                " · ".join(x for x in [dose, med.frequency, med.get_status_display()] if x),
                med,
            )
        )
    for allergy in Allergy.objects.filter(patient=patient)[:limit]:
        items.append(
            TimelineItem(
                _at(allergy.noted_on, allergy.recorded_at),
                "allergy",
                f"Allergy: {allergy.substance}",
                " · ".join(x for x in [allergy.reaction, allergy.get_severity_display()] if x),
                allergy,
            )
        )
    for life in LifestyleAssessment.objects.filter(patient=patient)[:limit]:
        items.append(
            TimelineItem(
                _at(life.assessed_on, life.recorded_at),
                "lifestyle",
                "Lifestyle assessment",
                life.get_smoking_display(),
                life,
            )
        )
    for fam in FamilyHistory.objects.filter(patient=patient)[:limit]:
        items.append(TimelineItem(fam.recorded_at, "family", "Family history", str(fam), fam))
    for gene in GeneticMarker.objects.filter(patient=patient)[:limit]:
        items.append(
            TimelineItem(
                _at(gene.tested_on, gene.recorded_at),
                "genetic",
                f"Genetic marker {gene.gene}",
                " · ".join(
                    [gene.variant, gene.get_zygosity_display(), gene.get_interpretation_display()]
                ),
                gene,
            )
        )
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]
