"""Reads behind the FHIR API: one record object by its public id, with the caller's permissions,
and a patient's objects of one resource type, in a stable order for paging.

Who sees what is the patients app's rule (patients.selectors.patients_visible_to): an object is
visible exactly when its patient is. A miss (no such id, or another care team's) is an Http404,
audited as a denial like patient_get_for_user's, so ids reveal nothing and probing shows in the
audit trail. Imaging reports are served once signed only: a draft is not part of the record.
"""

import uuid
from typing import Any

from django.db.models import Model, QuerySet
from django.http import Http404

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditOutcome, User
from imaging.models import StudyReport
from imaging.selectors import studies_visible_to
from patients.models import (
    Allergy,
    Condition,
    FamilyHistory,
    Medication,
    Observation,
    Patient,
    RecordEntry,
)
from patients.selectors import patient_search_exact, patients_visible_to, record_entries
from prediction.models import RiskAssessment
from prediction.selectors import assessment_get_for_user, assessments_for_patient

# FHIR resource type -> the record entry it is built from (interop.resources has the builders).
RECORD_ENTRY_TYPES: dict[str, type[RecordEntry]] = {
    "Observation": Observation,
    "Condition": Condition,
    "AllergyIntolerance": Allergy,
    "MedicationStatement": Medication,
    "FamilyMemberHistory": FamilyHistory,
}
# Every type the API serves besides Patient, in the order $everything lists them.
PATIENT_RESOURCE_TYPES = (*RECORD_ENTRY_TYPES, "RiskAssessment", "DiagnosticReport")


def _uuid_or_none(value: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def _denied(*, user: User, object_type: str, public_id: object, ip: str | None) -> Http404:
    audit_record(
        actor=user,
        action=AuditAction.DENIED,
        object_type=object_type,
        object_id=str(public_id)[:64],
        ip=ip,
        outcome=AuditOutcome.DENIED,
        detail={"wanted": "view", "via": "fhir"},
    )
    return Http404("No such resource, or you do not have access to its patient.")


def signed_reports_for_patient(*, patient: Patient) -> QuerySet[StudyReport]:
    """`patient`'s signed imaging reports, oldest first, with what report_fhir reads (the
    study, its model version, the signer). The caller has checked access to the patient."""
    return (
        StudyReport.objects.filter(study__patient=patient, status=StudyReport.Status.SIGNED)
        .select_related("study", "study__model_version", "signed_by")
        .order_by("signed_at", "pk")
    )


def fhir_object_get(
    *, user: User, resource_type: str, public_id: uuid.UUID | str, ip: str | None = None
) -> Model:
    """The object behind `resource_type/public_id` if `user` may see its patient (the patient
    loaded with it); else Http404, audited as a denial. `resource_type` is one of
    PATIENT_RESOURCE_TYPES (a KeyError otherwise: the caller's mistake, not the client's)."""
    wanted = _uuid_or_none(public_id)
    if resource_type == "RiskAssessment":
        # The prediction app's own rule and denial audit.
        return assessment_get_for_user(user=user, public_id=wanted or str(public_id), ip=ip)
    if resource_type == "DiagnosticReport":
        reports = StudyReport.objects.filter(
            status=StudyReport.Status.SIGNED, study__in=studies_visible_to(user=user)
        ).select_related("study", "study__patient", "study__model_version", "signed_by")
        report = reports.filter(public_id=wanted).first() if wanted else None
        if report is None:
            raise _denied(user=user, object_type="imaging.studyreport", public_id=public_id, ip=ip)
        return report
    model = RECORD_ENTRY_TYPES[resource_type]
    entries = model._default_manager.filter(patient__in=patients_visible_to(user=user))
    entry = entries.select_related("patient").filter(public_id=wanted).first() if wanted else None
    if entry is None:
        raise _denied(user=user, object_type=model._meta.label_lower, public_id=public_id, ip=ip)
    return entry


def fhir_objects_of_patient(
    *, patient: Patient, resource_type: str, codes: list[str] | None = None
) -> QuerySet[Any]:
    """`patient`'s objects of `resource_type` in a stable order (ties broken by id), so that
    pages of a search neither repeat nor skip a row. `codes` narrows observations to those LOINC
    codes (none at all for an empty list). The caller has checked access to the patient, and
    attaches it to each row (`fhir_patient_attach`) instead of a query per row."""
    if resource_type == "RiskAssessment":
        return assessments_for_patient(patient=patient).order_by("created_at", "pk")
    if resource_type == "DiagnosticReport":
        return signed_reports_for_patient(patient=patient)
    if resource_type == "Observation" and codes is not None:
        observations = record_entries(patient=patient, model=Observation)
        return observations.select_related(None).filter(code__in=codes)
    model = RECORD_ENTRY_TYPES[resource_type]
    return record_entries(patient=patient, model=model).select_related(None)


def fhir_patient_attach(rows: list[Any], *, patient: Patient) -> list[Any]:
    """`rows` (of fhir_objects_of_patient) with their patient set to `patient`, the object the
    caller already holds: the builders read `row.patient` (a report, `row.study.patient`)."""
    for row in rows:
        if isinstance(row, StudyReport):
            row.study.patient = patient
        else:
            row.patient = patient
    return rows


def fhir_patients(
    *, user: User, mrn: str | None = None, public_id: uuid.UUID | None = None
) -> QuerySet[Patient]:
    """The patients `user` may see, narrowed to an exact MRN (through its blind index) and/or a
    public id, oldest first."""
    patients = patient_search_exact(user=user, mrn=mrn) if mrn else patients_visible_to(user=user)
    if public_id is not None:
        patients = patients.filter(public_id=public_id)
    return patients.order_by("created_at", "pk")


def fhir_everything_objects(*, patient: Patient) -> dict[str, list[Any]]:
    """Every object of `patient` that $everything returns, by resource type (a query each,
    whatever the record's size). The caller has checked access to the patient."""
    return {
        resource_type: fhir_patient_attach(
            list(fhir_objects_of_patient(patient=patient, resource_type=resource_type)),
            patient=patient,
        )
        for resource_type in PATIENT_RESOURCE_TYPES
    }


def fhir_object_patient(obj: Model) -> Patient:
    """The patient an object of fhir_object_get belongs to (a report's, through its study)."""
    if isinstance(obj, StudyReport):
        return obj.study.patient
    assert isinstance(obj, RecordEntry | RiskAssessment)
    return obj.patient
