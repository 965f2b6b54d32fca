"""Writing the demo: one approved login per role, the care teams, and the planned patients,
through the services."""

import datetime as dt
import secrets
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from accounts.services import user_set_role
from patients.crypto import blind_index
from patients.demo.records import PatientPlan
from patients.demo.sampling import (
    BREAST,
    CARDIOLOGY,
    DEMO_MRN_PREFIX,
    ENDOCRINOLOGY,
    patient_plan,
    source_data,
)
from patients.models import CareTeam, Patient, Source
from patients.services import (
    allergy_add,
    care_team_add_member,
    care_team_create,
    condition_add,
    family_history_add,
    genetic_marker_add,
    lifestyle_record,
    medication_add,
    observation_record,
    patient_create,
)

DEMO_EMAIL_DOMAIN = "demo.healthmentor.test"
DEMO_ROLES: tuple[Role, ...] = (
    Role.CLINICIAN,
    Role.RADIOLOGIST,
    Role.NURSE,
    Role.RESEARCHER,
    Role.ADMIN,
)
DEMO_TEAMS: dict[str, str] = {
    CARDIOLOGY: "Demo team: hypertension, lipids and heart disease.",
    ENDOCRINOLOGY: "Demo team: diabetes and metabolic disease.",
    BREAST: "Demo team: breast lumps, aspirates and inherited risk.",
}
# Researchers see no identified patient, so they are on no team.
DEMO_TEAM_MEMBERS: dict[Role, tuple[str, ...]] = {
    Role.CLINICIAN: (CARDIOLOGY, ENDOCRINOLOGY, BREAST),
    Role.NURSE: (CARDIOLOGY, ENDOCRINOLOGY),
    Role.RADIOLOGIST: (BREAST, CARDIOLOGY),
}


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    created: bool
    password: str | None  # None: the existing password was kept


def demo_password_generate() -> str:
    return secrets.token_urlsafe(12)


def demo_users_ensure(*, password: str, reset_passwords: bool = False) -> list[DemoLogin]:
    """One approved demo user per role. New users get `password`; existing users keep theirs
    unless `reset_passwords`, which also re-activates them."""
    # One hash for the five users: a PBKDF2 hash takes about half a second, and the five share
    # the password anyway.
    hashed = ""
    logins = []
    for role in DEMO_ROLES:
        email = f"{role.value}@{DEMO_EMAIL_DOMAIN}"
        user = User.objects.filter(email=email).first()
        created = user is None
        if created or reset_passwords:
            hashed = hashed or make_password(password)
        if user is None:
            is_admin = role == Role.ADMIN
            user = User.objects.create_user(
                email,
                None,
                full_name=f"Demo {role.label.split(' (')[0]}",
                role=role,
                approved_at=timezone.now(),
                is_staff=is_admin,
                is_superuser=is_admin,
            )
            user.password = hashed
            user.save(update_fields=["password"])
            user_set_role(user=user, role=role)
        elif reset_passwords:
            user.password = hashed
            user.is_active = True
            user.save(update_fields=["password", "is_active"])
        logins.append(
            DemoLogin(role.value, email, created, password if created or reset_passwords else None)
        )
    return logins


def demo_care_teams_ensure() -> dict[str, CareTeam]:
    """The demo care teams, with the demo clinician, nurse and radiologist as members."""
    teams = {}
    for name, description in DEMO_TEAMS.items():
        team = CareTeam.objects.filter(name=name).first()
        teams[name] = team or care_team_create(name=name, description=description)
    for role, names in DEMO_TEAM_MEMBERS.items():
        user = User.objects.filter(email=f"{role.value}@{DEMO_EMAIL_DOMAIN}").first()
        if user is not None:
            for name in names:
                care_team_add_member(team=teams[name], user=user)
    return teams


@transaction.atomic
def demo_patient_write(plan: PatientPlan, *, teams: dict[str, CareTeam]) -> Patient:
    """Write one planned patient through the services, as a system action (by=None)."""
    patient = patient_create(
        by=None,
        mrn=plan.mrn,
        given_name=plan.given_name,
        family_name=plan.family_name,
        date_of_birth=plan.date_of_birth,
        sex=plan.sex,
        phone=plan.phone,
        email=plan.email,
        address=plan.address,
        care_teams=[teams[name] for name in plan.teams],
        is_synthetic=True,
    )
    for obs in plan.observations:
        observation_record(
            by=None,
            patient=patient,
            code=obs.code,
            value=obs.value,
            unit=obs.unit,
            effective_at=obs.effective_at,
            source=Source.DEMO,
        )
    for service, entries in (
        (condition_add, plan.conditions),
        (medication_add, plan.medications),
        (allergy_add, plan.allergies),
        (lifestyle_record, plan.lifestyle),
        (family_history_add, plan.family_history),
        (genetic_marker_add, plan.genetic_markers),
    ):
        for fields in entries:
            service(by=None, patient=patient, source=Source.DEMO, **fields)
    return patient


@dataclass(frozen=True)
class DemoPatientsResult:
    created: int
    existing: int


def demo_patients_ensure(
    *, count: int, seed: int, teams: dict[str, CareTeam], now: dt.datetime | None = None
) -> DemoPatientsResult:
    """Demo patients 1..count; those whose MRN is already present are left as they are."""
    now = now or timezone.now()
    mrns = {blind_index(f"{DEMO_MRN_PREFIX}{i + 1:06d}", purpose="mrn"): i for i in range(count)}
    present = set(Patient.objects.filter(mrn_index__in=mrns).values_list("mrn_index", flat=True))
    missing = sorted(i for index, i in mrns.items() if index not in present)
    data = source_data() if missing else None
    # A transaction per 25 patients: an interrupted run keeps what it committed, and SQLite is
    # not asked to sync to disk after every patient.
    for start in range(0, len(missing), 25):
        with transaction.atomic():
            for i in missing[start : start + 25]:
                demo_patient_write(patient_plan(i, seed=seed, now=now, data=data), teams=teams)
    return DemoPatientsResult(created=len(missing), existing=len(present))
