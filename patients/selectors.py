"""Reads of the patient record that cross relations or permissions.

Who sees a patient: members of one of the patient's care teams (django-guardian object
permissions held by the team's Group) and portal admins. Researchers see no identified patient.
Model-level `view_patient` is never granted, and global permissions are not accepted, so a role
alone never opens every record.
"""

import datetime as dt
import itertools
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404
from guardian.models import GroupObjectPermission, UserObjectPermission

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditOutcome, Role, User
from patients.catalog import OBSERVATION_TYPES
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
)


def user_may_edit_demographics(*, user: User, patient: Patient) -> bool:
    """Demographics are edited by roles allowed to (clinicians, admins), and, but for admins, only
    on their own teams' patients: both the role's model permission and the team's object grant."""
    return user.is_portal_admin or (
        user.has_perm("patients.change_patient")
        and user.has_perm("patients.change_patient", patient)
    )


def patients_visible_to(*, user: User) -> QuerySet[Patient]:
    if not user.is_authenticated or not user.is_active or user.role == Role.RESEARCHER:
        return Patient.objects.none()
    if user.is_portal_admin:
        return Patient.objects.all()
    return Patient.objects.filter(_granted(user=user, codename="view_patient"))


def _granted(*, user: User, codename: str) -> Q:
    """Patients on which `user` holds `codename` through django-guardian, directly or through
    one of their groups (a care team): what get_objects_for_user(..., accept_global_perms=False)
    answers. Its SQL compares `patient.id::varchar IN (object_pk ...)`, which no index serves (a
    scan of every patient: 12 ms at 10,000 on PostgreSQL); here the grants' object_pk is cast to
    an integer instead, so that the patients' primary key index is used. One subquery (a UNION),
    not two ORed: the planner can then join on the primary key. Written as SQL because every
    list of patients compiles it, twice a page (count and rows): the ORM took 1.1 ms a time to
    build it, the text takes nothing."""
    content_type = ContentType.objects.get_for_model(Patient)
    # Table names from the models' metadata, quoted; every value is a parameter.
    quote = connection.ops.quote_name
    permission = quote(Permission._meta.db_table)
    memberships = User.groups.through._meta.db_table
    parts = []
    for grants, holder, join in (
        (UserObjectPermission._meta.db_table, "g.user_id", ""),
        (
            GroupObjectPermission._meta.db_table,
            "m.user_id",
            f"INNER JOIN {quote(memberships)} m ON m.group_id = g.group_id ",
        ),
    ):
        parts.append(
            f"SELECT CAST(g.object_pk AS bigint) FROM {quote(grants)} g "  # noqa: S608
            f"INNER JOIN {permission} p ON p.id = g.permission_id {join}"
            f"WHERE g.content_type_id = %s AND p.codename = %s AND {holder} = %s"
        )
    params = [content_type.pk, codename, user.pk]
    return Q(pk__in=RawSQL(" UNION ALL ".join(parts), [*params, *params]))  # noqa: S611


def patients_matching(patients: QuerySet[Patient], query: str) -> QuerySet[Patient]:
    """`patients` narrowed to an exact match on MRN, full name ("given family") or family name,
    through the blind indexes (encrypted columns cannot be filtered)."""
    return patients.filter(
        Q(mrn_index=blind_index(query, purpose="mrn"))
        | Q(name_index=blind_index(query, purpose="name"))
        | Q(family_name_index=blind_index(query, purpose="family_name"))
    )


def patient_search(*, user: User, query: str = "") -> QuerySet[Patient]:
    """The patients `user` may see, matching `query` exactly (all of them for an empty query)."""
    patients = patients_visible_to(user=user)
    if not query.strip():
        return patients
    return patients_matching(patients, query)


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


# Apps above patients (which patients must not import) add their own lines to every timeline:
# each registers, from its AppConfig.ready(), a function giving a patient's items.
TimelineProvider = Callable[[Patient], Iterable[TimelineItem]]
TIMELINE_PROVIDERS: list[TimelineProvider] = []


def timeline_provider_register(provider: TimelineProvider) -> None:
    """Add `provider`'s items to `patient_timeline` (registering twice changes nothing)."""
    if provider not in TIMELINE_PROVIDERS:
        TIMELINE_PROVIDERS.append(provider)


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
    for provider in TIMELINE_PROVIDERS:
        items.extend(itertools.islice(provider(patient), limit))
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


# --- pages ------------------------------------------------------------------------------------

# Typical adult reference intervals in each code's canonical unit, for flagging a result on the
# record page. Not the laboratory's own interval (that is not stored yet), so the page says
# "typical"; the catalog's plausible ranges, by contrast, are limits of what can be entered.
TYPICAL_REFERENCE: dict[str, tuple[float | None, float | None]] = {
    "8480-6": (90, 139),
    "8462-4": (60, 89),
    "8867-4": (60, 100),
    "9279-1": (12, 20),
    "59408-5": (95, 100),
    "8310-5": (36.0, 37.5),
    "39156-5": (18.5, 24.9),
    "2345-7": (70, 99),
    "4548-4": (4.0, 5.6),
    "2093-3": (None, 199),
    "2085-9": (40, None),
    "13457-7": (None, 129),
    "2089-1": (None, 129),
    "2571-8": (None, 149),
    "2160-0": (0.6, 1.3),
    "33914-3": (60, None),
    "2823-3": (3.5, 5.0),
    "2951-2": (135, 145),
    "718-7": (12.0, 17.5),
    "6690-2": (4.0, 11.0),
    "777-3": (150, 450),
    "1742-6": (None, 56),
    "1988-5": (None, 10),
    "33762-6": (None, 125),
}


@dataclass(frozen=True)
class LatestObservation:
    """The newest result of one code, with how it compares with the typical reference."""

    observation: Observation
    category: str
    flag: str  # "low", "high" or "" (within the typical reference, or none known)
    reference: str  # e.g. "60-100" (an en dash), "≥ 60", "≤ 199"; "" when none is known


@dataclass(frozen=True)
class PatientRecord:
    """What the record page shows of one patient, each part already in display order."""

    vitals: list[LatestObservation]
    labs: list[LatestObservation]
    conditions_active: list[Condition]
    conditions_resolved: list[Condition]
    medications_active: list[Medication]
    medications_stopped: list[Medication]
    allergies: list[Allergy]
    lifestyle: LifestyleAssessment | None
    family_history: list[FamilyHistory]
    genetic_markers: list[GeneticMarker]
    timeline: list[TimelineItem]
    timeline_limit: int


@dataclass(frozen=True)
class RecordPermissions:
    """What a user may do to a record they can see: edit demographics, add entries by kind."""

    can_edit: bool
    can_add: dict[str, bool]


RECORD_ENTRY_PERMS: dict[str, str] = {
    "observation": "patients.add_observation",
    "condition": "patients.add_condition",
    "medication": "patients.add_medication",
    "allergy": "patients.add_allergy",
    "lifestyle": "patients.add_lifestyleassessment",
    "family_history": "patients.add_familyhistory",
    "genetic_marker": "patients.add_geneticmarker",
}


def _reference(code: str, value: float) -> tuple[str, str]:
    low, high = TYPICAL_REFERENCE.get(code, (None, None))
    if low is None and high is None:
        return "", ""
    if low is not None and high is not None:
        text = f"{low:g}–{high:g}"  # noqa: RUF001 (an en dash between numbers)
    elif low is not None:
        text = f"≥ {low:g}"
    else:
        text = f"≤ {high:g}"
    if low is not None and value < low:
        return "low", text
    if high is not None and value > high:
        return "high", text
    return "", text


def latest_observations_flagged(*, patient: Patient) -> list[LatestObservation]:
    """The newest result of each code in catalog order, flagged against TYPICAL_REFERENCE."""
    latest = observations_latest(patient=patient)
    order = {code: n for n, code in enumerate(OBSERVATION_TYPES)}
    rows = []
    for code in sorted(latest, key=lambda c: order.get(c, len(order))):
        obs = latest[code]
        kind = OBSERVATION_TYPES.get(code)
        flag, reference = _reference(code, obs.value)
        rows.append(
            LatestObservation(obs, kind.category if kind else "laboratory", flag, reference)
        )
    return rows


def patient_record(*, patient: Patient, timeline_limit: int = 200) -> PatientRecord:
    """Everything the record page shows; the caller has already checked access."""
    latest = latest_observations_flagged(patient=patient)
    conditions = list(patient.conditions.all())
    medications = list(patient.medications.all())
    return PatientRecord(
        vitals=[row for row in latest if row.category == "vital-signs"],
        labs=[row for row in latest if row.category != "vital-signs"],
        conditions_active=[c for c in conditions if c.status == Condition.Status.ACTIVE],
        conditions_resolved=[c for c in conditions if c.status != Condition.Status.ACTIVE],
        medications_active=[m for m in medications if m.status == Medication.Status.ACTIVE],
        medications_stopped=[m for m in medications if m.status != Medication.Status.ACTIVE],
        allergies=list(patient.allergys.all()),
        lifestyle=patient.lifestyleassessments.order_by("-assessed_on", "-recorded_at").first(),
        family_history=list(patient.familyhistorys.all()),
        genetic_markers=list(patient.geneticmarkers.all()),
        timeline=patient_timeline(patient=patient, limit=timeline_limit),
        timeline_limit=timeline_limit,
    )


def _role_allows(user: User, perm: str) -> bool:
    return user.is_portal_admin or user.has_perm(perm)


def record_permissions(*, user: User, patient: Patient) -> RecordPermissions:
    """The actions to offer on a record the user can already see (the services check again)."""
    return RecordPermissions(
        can_edit=user_may_edit_demographics(user=user, patient=patient),
        can_add={kind: _role_allows(user, perm) for kind, perm in RECORD_ENTRY_PERMS.items()},
    )


def user_may_add_patient(*, user: User) -> bool:
    return user.role != Role.RESEARCHER and _role_allows(user, "patients.add_patient")


def patient_list_for_user(*, user: User, query: str = "") -> QuerySet[Patient]:
    """`patient_search` in a stable order (newest first), care teams fetched for the list."""
    return (
        patient_search(user=user, query=query)
        .order_by("-created_at", "-pk")
        .prefetch_related("care_teams")
    )


def care_teams_for_user(*, user: User) -> QuerySet[CareTeam]:
    """Teams a user may place a new patient in: their own teams; admins, any team."""
    if user.is_portal_admin:
        return CareTeam.objects.all()
    return CareTeam.objects.filter(group__user=user)


# --- API --------------------------------------------------------------------------------------

E = TypeVar("E", bound=RecordEntry)


def patient_search_exact(*, user: User, mrn: str = "", name: str = "") -> QuerySet[Patient]:
    """Patients `user` may see whose MRN is `mrn` and whose full name ("given family") or family
    name is `name`: `patient_search` narrowed to the index asked about, so an MRN never matches a
    name. An empty argument does not filter; one that normalizes to nothing ("--") matches no
    patient."""
    indexes = {
        "mrn": blind_index(mrn, purpose="mrn"),
        "name": blind_index(name, purpose="name"),
        "family_name": blind_index(name, purpose="family_name"),
    }
    if (mrn and not indexes["mrn"]) or (name and not indexes["name"]):
        return Patient.objects.none()
    patients = patient_search(user=user, query=mrn or name)
    if mrn:
        patients = patients.filter(mrn_index=indexes["mrn"])
    if name:
        patients = patients.filter(
            Q(name_index=indexes["name"]) | Q(family_name_index=indexes["family_name"])
        )
    return patients


def patients_of_sex(*, patients: QuerySet[Patient], sex: str) -> QuerySet[Patient]:
    """`patients` narrowed to one sex. The column is encrypted, so every row of `patients` is
    decrypted here: narrow the queryset first (a care team's list is hundreds of rows)."""
    rows = patients.order_by().only("pk", "sex")
    return patients.filter(pk__in=[row.pk for row in rows if row.sex == sex])


def record_entries(*, patient: Patient, model: type[E]) -> QuerySet[E]:
    """A patient's entries of one kind in the model's order, ties broken by id (stable pages)."""
    ordering = [*(model._meta.ordering or []), "pk"]
    return (
        model._default_manager.filter(patient=patient)
        .select_related("recorded_by")
        .order_by(*ordering)
    )


def record_entry_get(*, patient: Patient, model: type[E], public_id: uuid.UUID | str) -> E:
    """One entry of `patient`'s record; Http404 if it is not this patient's (or does not exist).
    The caller has already checked access to the patient."""
    try:
        return record_entries(patient=patient, model=model).get(public_id=uuid.UUID(str(public_id)))
    except (model.DoesNotExist, ValueError):
        raise Http404("No such entry in this patient's record.") from None


# --- dashboards: patient ----------------------------------------------------------------------


@dataclass(frozen=True)
class ObservationKind:
    """One observation code a patient has results of: its words, unit and category from the
    catalog (or from the results themselves for a code outside it), and how many results."""

    code: str
    display: str
    unit: str
    category: str  # "vital-signs" or "laboratory"
    count: int


def observation_kinds_for_patient(*, patient: Patient) -> list[ObservationKind]:
    """The codes `patient` has results of, vital signs first then laboratory results, each in
    catalog order (codes outside the catalog last). One query. The caller has checked access."""
    rows = (
        Observation.objects.filter(patient=patient)
        .order_by()
        .values("code")
        .annotate(n=Count("pk"), display=Max("display"), unit=Max("unit"))
    )
    order = {code: n for n, code in enumerate(OBSERVATION_TYPES)}
    kinds = []
    for row in rows:
        kind = OBSERVATION_TYPES.get(row["code"])
        kinds.append(
            ObservationKind(
                code=row["code"],
                display=kind.display if kind else row["display"],
                unit=kind.unit if kind else row["unit"],
                category=kind.category if kind else "laboratory",
                count=row["n"],
            )
        )
    kinds.sort(key=lambda k: (k.category != "vital-signs", order.get(k.code, len(order)), k.code))
    return kinds


def observation_history(*, patient: Patient, code: str, limit: int = 200) -> list[Observation]:
    """The newest `limit` results of one code of `patient`, oldest first (for a chart over time).
    The caller has checked access."""
    newest = Observation.objects.filter(patient=patient, code=code).order_by("-effective_at", "-pk")
    return list(reversed(newest[:limit]))


def reference_range(*, code: str) -> tuple[float | None, float | None]:
    """The typical adult reference interval (low, high) of a code in its canonical unit; either
    bound may be None (one-sided, or none known). See TYPICAL_REFERENCE."""
    low, high = TYPICAL_REFERENCE.get(code, (None, None))
    return (
        None if low is None else float(low),
        None if high is None else float(high),
    )


def reference_flag(*, code: str, value: float) -> str:
    """ "low", "high" or "" for a value against its code's typical reference interval."""
    return _reference(code, value)[0]


def patients_visible_count(*, user: User) -> int:
    """How many patients `user` may see (one query)."""
    return patients_visible_to(user=user).count()
