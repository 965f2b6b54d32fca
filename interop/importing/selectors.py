"""Reads of imports: who may import, whose jobs a user sees, and an MRN's patient as the importing
user may (or may not) see it.

Admins and clinicians import (the roles that create patients and every kind of record entry; a
nurse records observations but does not create patients). A user sees their own jobs, admins
every job; anyone else's job is a 404, audited as a denial, so ids reveal nothing.
"""

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditOutcome, Role, User
from interop.models import ImportJob
from patients.crypto import blind_index
from patients.models import CareTeam, Patient
from patients.selectors import care_teams_for_user, patient_search_exact

IMPORTING_ROLES = frozenset({Role.CLINICIAN, Role.ADMIN})


def user_may_import(*, user: User) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.is_portal_admin or user.role in IMPORTING_ROLES)
    )


def import_care_teams(*, user: User) -> QuerySet[CareTeam]:
    """The teams an import by `user` may put new patients in: their own (admins: any)."""
    return care_teams_for_user(user=user)


def import_jobs_for_user(*, user: User) -> QuerySet[ImportJob]:
    """`user`'s own jobs (admins: all), newest first."""
    if not user.is_authenticated or not user.is_active:
        return ImportJob.objects.none()
    jobs = ImportJob.objects.select_related("care_team", "created_by")
    if not user.is_portal_admin:
        jobs = jobs.filter(created_by=user)
    return jobs.order_by("-created_at", "-pk")


def import_job_get_for_user(
    *, user: User, public_id: uuid.UUID | str, ip: str | None = None, want: str = "view"
) -> ImportJob:
    """The job if `user` may see it; else Http404, audited as a denial."""
    try:
        wanted = public_id if isinstance(public_id, uuid.UUID) else uuid.UUID(str(public_id))
        return import_jobs_for_user(user=user).get(public_id=wanted)
    except (ImportJob.DoesNotExist, ValueError, TypeError):
        audit_record(
            actor=user,
            action=AuditAction.DENIED,
            object_type="interop.importjob",
            object_id=str(public_id)[:64],
            ip=ip,
            outcome=AuditOutcome.DENIED,
            detail={"wanted": want},
        )
        raise Http404("No such import, or it is not yours.") from None


@dataclass(frozen=True)
class MrnMatch:
    """An MRN in the portal as the importing user meets it: their patient (`patient`), someone
    else's (`elsewhere`: they are told no more than that), or nobody's."""

    patient: Patient | None
    elsewhere: bool


def patient_by_mrn_for_import(*, user: User, mrn: str) -> MrnMatch:
    visible = patient_search_exact(user=user, mrn=mrn).first()
    if visible is not None:
        return MrnMatch(visible, False)
    # The blind index is unique: an MRN the user cannot see may still be taken.
    taken = Patient.objects.filter(mrn_index=blind_index(mrn, purpose="mrn")).exists()
    return MrnMatch(None, taken)


def imports_overdue(*, now: dt.datetime, queue_deadline_s: int) -> QuerySet[ImportJob]:
    """Jobs the sweeper must look at: QUEUED past the queue deadline, RUNNING past the lease."""
    return ImportJob.objects.filter(
        Q(
            state=ImportJob.State.QUEUED,
            enqueued_at__lt=now - dt.timedelta(seconds=queue_deadline_s),
        )
        | Q(state=ImportJob.State.RUNNING, lease_expires_at__lt=now)
    )
