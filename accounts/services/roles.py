"""Roles: one auth Group per role, and moving a user between roles."""

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts.audit import audit_record
from accounts.models import AuditAction, Role, User

_RECORD_MODELS = (
    "condition",
    "medication",
    "allergy",
    "observation",
    "lifestyleassessment",
    "familyhistory",
    "geneticmarker",
)
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.CLINICIAN: (
        "patients.add_patient",
        "patients.change_patient",  # demographics; still only on their teams' patients
        *(f"patients.{verb}_{m}" for m in _RECORD_MODELS for verb in ("add", "change")),
    ),
    Role.NURSE: (
        "patients.add_observation",
        "patients.change_observation",
        "patients.add_lifestyleassessment",
        "patients.add_allergy",
    ),
    Role.RADIOLOGIST: (),
    Role.RESEARCHER: (),
    Role.ADMIN: (
        "patients.add_patient",
        "patients.add_careteam",
        "patients.change_careteam",
        "patients.view_careteam",
        *(f"patients.{verb}_{m}" for m in _RECORD_MODELS for verb in ("add", "change", "delete")),
        "accounts.view_user",
        "accounts.add_invitation",
        "accounts.view_invitation",
        "accounts.view_auditevent",
    ),
}


def role_groups_ensure() -> dict[str, Group]:
    """Create or refresh one Group per role holding exactly the role's model permissions."""
    groups: dict[str, Group] = {}
    for role in Role:
        group, _ = Group.objects.get_or_create(name=f"role:{role.value}")
        wanted = ROLE_PERMISSIONS.get(role, ())
        perms = []
        for dotted in wanted:
            app_label, codename = dotted.split(".", 1)
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                perms.append(perm)
        group.permissions.set(perms)
        groups[role.value] = group
    return groups


@transaction.atomic
def user_set_role(*, user: User, role: Role | str) -> User:
    """Give `user` exactly one role: the `role` field and membership of that role's Group."""
    role = Role(role)
    target = Group.objects.filter(name=f"role:{role.value}").first() or role_groups_ensure()[role]
    user.groups.remove(*user.groups.filter(name__startswith="role:"))
    user.groups.add(target)
    if user.role != role:
        user.role = role
        user.save(update_fields=["role"])
    return user


@transaction.atomic
def user_change_role(
    *, user: User, role: Role | str, by: User | None, ip: str | None = None
) -> User:
    """Move `user` to `role` (field and Group, through `user_set_role`) and audit who did it."""
    previous = user.role
    user_set_role(user=user, role=role)
    if previous != user.role:
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            obj=user,
            ip=ip,
            detail={"change": "role", "from": str(previous), "to": str(user.role)},
        )
    return user


@transaction.atomic
def user_update_profile(*, user: User, full_name: str, ip: str | None = None) -> User:
    """A user corrects their own display name."""
    full_name = full_name.strip()
    if full_name != user.full_name:
        user.full_name = full_name
        user.save(update_fields=["full_name"])
        audit_record(
            actor=user, action=AuditAction.UPDATE, obj=user, ip=ip, detail={"fields": ["full_name"]}
        )
    return user
