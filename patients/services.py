"""Every write to the patient record. Each service validates, writes, keeps blind indexes and
care-team permissions in step, and appends to the audit trail (ids and field names, never PHI).

Callers pass a patient they obtained from `patients.selectors` for the acting user; the services
check the acting user's role permissions for the kind of write.
"""

import datetime as dt
from collections.abc import Iterable
from typing import Any, TypeVar

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from accounts.audit import audit_record
from accounts.models import AuditAction, User
from patients.catalog import OBSERVATION_TYPES, ObservationValueError, observation_normalize
from patients.crypto import blind_index
from patients.models import (
    Allergy,
    CareTeam,
    Condition,
    FamilyHistory,
    GeneticMarker,
    LifestyleAssessment,
    Medication,
    Observation,
    Patient,
    RecordEntry,
    Source,
)
from patients.selectors import user_may_edit_demographics

PATIENT_OBJECT_PERMS = ("patients.view_patient", "patients.change_patient")
PATIENT_EDITABLE_FIELDS = (
    "mrn",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "phone",
    "email",
    "address",
)
E = TypeVar("E", bound=RecordEntry)


def _require_model_perm(user: User | None, perm: str) -> None:
    """Role check; None means a system action (seeding, import task) done on a user's behalf."""
    if user is not None and not (user.is_portal_admin or user.has_perm(perm)):
        raise PermissionDenied("Your role does not allow this change.")


# --- care teams -------------------------------------------------------------------------------


@transaction.atomic
def care_team_create(*, name: str, description: str = "") -> CareTeam:
    """A care team with its own auth Group (the holder of the team's object permissions)."""
    group = Group.objects.create(name=f"team:{name}"[:150])
    return CareTeam.objects.create(name=name, description=description, group=group)


def care_team_add_member(*, team: CareTeam, user: User) -> None:
    team.group.user_set.add(user)


def care_team_remove_member(*, team: CareTeam, user: User) -> None:
    team.group.user_set.remove(user)


@transaction.atomic
def care_team_add_patient(*, team: CareTeam, patient: Patient, by: User | None = None) -> None:
    """Put a patient in a team's care: its members may now see and edit the record."""
    patient.care_teams.add(team)
    for perm in PATIENT_OBJECT_PERMS:
        assign_perm(perm, team.group, patient)
    audit_record(
        actor=by,
        action=AuditAction.UPDATE,
        obj=patient,
        detail={"care_team_added": str(team.public_id)},
    )


@transaction.atomic
def care_team_remove_patient(*, team: CareTeam, patient: Patient, by: User | None = None) -> None:
    patient.care_teams.remove(team)
    for perm in PATIENT_OBJECT_PERMS:
        remove_perm(perm, team.group, patient)
    audit_record(
        actor=by,
        action=AuditAction.UPDATE,
        obj=patient,
        detail={"care_team_removed": str(team.public_id)},
    )


def care_team_sync_permissions(*, patient: Patient) -> None:
    """Make the guardian grants match `patient.care_teams` (after an admin edited the M2M)."""
    teams = set(patient.care_teams.all())
    for team in CareTeam.objects.all():
        for perm in PATIENT_OBJECT_PERMS:
            (assign_perm if team in teams else remove_perm)(perm, team.group, patient)


# --- patients ---------------------------------------------------------------------------------


def _set_indexes(patient: Patient) -> None:
    patient.mrn_index = blind_index(patient.mrn, purpose="mrn")
    patient.name_index = blind_index(f"{patient.given_name} {patient.family_name}", purpose="name")
    patient.family_name_index = blind_index(patient.family_name, purpose="family_name")


def _validate_patient(patient: Patient) -> None:
    errors: dict[str, list[str]] = {}
    try:
        patient.full_clean(exclude=["mrn_index", "name_index", "family_name_index", "care_teams"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    dob = patient.date_of_birth
    if isinstance(dob, dt.date) and "date_of_birth" not in errors:
        if dob > timezone.localdate():
            errors["date_of_birth"] = ["The date of birth cannot be in the future."]
        elif dob < dt.date(1890, 1, 1):
            errors["date_of_birth"] = ["Enter a date of birth after 1890."]
    # Without a letter or digit the blind index is empty: such a patient would match any search
    # made of punctuation, and a second such MRN would hit the unique index, not this check.
    for name, index in (("mrn", patient.mrn_index), ("family_name", patient.family_name_index)):
        if name not in errors and not index:
            errors[name] = ["Enter at least one letter or digit."]
    if "mrn" not in errors and patient.mrn_index:
        clash = Patient.objects.filter(mrn_index=patient.mrn_index).exclude(pk=patient.pk)
        if clash.exists():
            errors["mrn"] = ["A patient with this MRN already exists."]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def patient_create(
    *,
    by: User | None,
    mrn: str,
    given_name: str,
    family_name: str,
    date_of_birth: dt.date,
    sex: str,
    phone: str = "",
    email: str = "",
    address: str = "",
    care_teams: Iterable[CareTeam] = (),
    is_synthetic: bool = False,
) -> Patient:
    """Create a patient and place them in `care_teams`. Raises ValidationError field by field;
    nothing is written unless everything is valid."""
    _require_model_perm(by, "patients.add_patient")
    patient = Patient(
        mrn=mrn.strip(),
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        date_of_birth=date_of_birth,
        sex=sex,
        phone=phone.strip(),
        email=email.strip(),
        address=address.strip(),
        is_synthetic=is_synthetic,
        created_by=by,
    )
    _set_indexes(patient)
    _validate_patient(patient)
    patient.save()
    audit_record(actor=by, action=AuditAction.CREATE, obj=patient)
    for team in care_teams:
        care_team_add_patient(team=team, patient=patient, by=by)
    return patient


@transaction.atomic
def patient_update(*, by: User | None, patient: Patient, **fields: Any) -> Patient:
    """Change demographic fields (names in PATIENT_EDITABLE_FIELDS); audits which ones changed."""
    unknown = set(fields) - set(PATIENT_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in unknown})
    if by is not None and not user_may_edit_demographics(user=by, patient=patient):
        raise PermissionDenied("You may not edit this patient.")
    changed = []
    for name, value in fields.items():
        if isinstance(value, str):
            value = value.strip()
        if getattr(patient, name) != value:
            setattr(patient, name, value)
            changed.append(name)
    if not changed:
        return patient
    _set_indexes(patient)
    _validate_patient(patient)
    patient.save()
    audit_record(actor=by, action=AuditAction.UPDATE, obj=patient, detail={"fields": changed})
    return patient


def patient_reindex(*, patient: Patient) -> None:
    """Recompute the blind indexes (after PHI_BLIND_INDEX_KEY changed)."""
    _set_indexes(patient)
    Patient.objects.filter(pk=patient.pk).update(
        mrn_index=patient.mrn_index,
        name_index=patient.name_index,
        family_name_index=patient.family_name_index,
    )


# --- record entries ---------------------------------------------------------------------------


def _entry_create(model: type[E], *, by: User | None, patient: Patient, **fields: Any) -> E:
    _require_model_perm(by, f"patients.add_{model._meta.model_name}")
    fields.setdefault("source", Source.MANUAL)
    for name, value in fields.items():
        if isinstance(value, str):
            fields[name] = value.strip()
    entry = model(patient=patient, recorded_by=by, **fields)
    entry.full_clean(exclude=["patient", "recorded_by"])
    entry.save()
    audit_record(
        actor=by,
        action=AuditAction.CREATE,
        obj=entry,
        detail={"patient": str(patient.public_id)},
    )
    return entry


@transaction.atomic
def record_entry_update(*, by: User | None, entry: E, **fields: Any) -> E:
    """Change fields of a record entry (not its patient, author or time of recording)."""
    _require_model_perm(by, f"patients.change_{entry._meta.model_name}")
    protected = {"patient", "patient_id", "recorded_by", "recorded_at", "public_id", "id"}
    if protected & set(fields):
        raise ValidationError(
            {name: ["This field cannot be changed."] for name in protected & set(fields)}
        )
    if isinstance(entry, Observation) and {"value", "unit", "code"} & set(fields):
        value, unit = _observation_value(
            fields.get("code", entry.code),
            fields.get("value", entry.value),
            fields.get("unit", entry.unit),
        )
        fields.update(value=value, unit=unit)
    changed = [name for name, value in fields.items() if getattr(entry, name) != value]
    for name in changed:
        setattr(entry, name, fields[name])
    if changed:
        entry.full_clean(exclude=["patient", "recorded_by"])
        entry.save()
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            obj=entry,
            detail={"patient": str(entry.patient.public_id), "fields": changed},
        )
    return entry


def _observation_value(code: str, value: Any, unit: str) -> tuple[float, str]:
    try:
        return observation_normalize(code, value, unit)
    except ObservationValueError as exc:
        raise ValidationError({exc.field: [str(exc)]}) from None


@transaction.atomic
def observation_record(
    *,
    by: User | None,
    patient: Patient,
    code: str,
    value: float,
    unit: str,
    effective_at: dt.datetime,
    source: str = Source.MANUAL,
) -> Observation:
    """Record a vital or lab in its canonical unit; refuses unknown codes and units, non-finite
    and implausible values, and times in the future."""
    canonical, canonical_unit = _observation_value(code, value, unit)
    if effective_at > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({"effective_at": ["The time of the observation is in the future."]})
    return _entry_create(
        Observation,
        by=by,
        patient=patient,
        code=code,
        display=OBSERVATION_TYPES[code].display,
        value=canonical,
        unit=canonical_unit,
        effective_at=effective_at,
        source=source,
    )


@transaction.atomic
def condition_add(*, by: User | None, patient: Patient, **fields: Any) -> Condition:
    """Add a coded diagnosis (code, display, onset_date, status...)."""
    onset = fields.get("onset_date")
    if onset is not None and onset > timezone.localdate():
        raise ValidationError({"onset_date": ["The onset date cannot be in the future."]})
    return _entry_create(Condition, by=by, patient=patient, **fields)


@transaction.atomic
def medication_add(*, by: User | None, patient: Patient, **fields: Any) -> Medication:
    """Add a medication (name, dose, dose_unit, frequency, route, dates, status)."""
    start, end = fields.get("start_date"), fields.get("end_date")
    if start and end and end < start:
        raise ValidationError({"end_date": ["The end date is before the start date."]})
    return _entry_create(Medication, by=by, patient=patient, **fields)


@transaction.atomic
def allergy_add(*, by: User | None, patient: Patient, **fields: Any) -> Allergy:
    return _entry_create(Allergy, by=by, patient=patient, **fields)


@transaction.atomic
def lifestyle_record(*, by: User | None, patient: Patient, **fields: Any) -> LifestyleAssessment:
    """Record smoking, alcohol, activity and diet as assessed on a day."""
    if fields.get("smoking") == LifestyleAssessment.Smoking.NEVER and fields.get("pack_years"):
        raise ValidationError({"pack_years": ["A person who never smoked has no pack-years."]})
    return _entry_create(LifestyleAssessment, by=by, patient=patient, **fields)


@transaction.atomic
def family_history_add(*, by: User | None, patient: Patient, **fields: Any) -> FamilyHistory:
    return _entry_create(FamilyHistory, by=by, patient=patient, **fields)


@transaction.atomic
def genetic_marker_add(*, by: User | None, patient: Patient, **fields: Any) -> GeneticMarker:
    return _entry_create(GeneticMarker, by=by, patient=patient, **fields)


def patient_check(*, patient: Patient) -> None:
    """Raise the ValidationError (field by field) that patient_create/patient_update would raise
    for `patient` as it stands, writing nothing. For forms that edit an instance in place (Django
    admin), so that their errors appear on the form. Sets the instance's blind indexes."""
    _set_indexes(patient)
    _validate_patient(patient)
