"""Writes of the accounts app: roles and their groups."""

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from accounts.models import Role, User

# Model-level permissions of each role, as "app_label.codename". Seeing a patient is never a
# model-level permission: it comes from the care team (object permissions), or from being admin.
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
