"""factory_boy factories for the tests' worlds. Patients go through the services, so their blind
indexes and care-team permissions are always right."""

import datetime as dt
from typing import Any

import factory
from django.utils import timezone

from accounts.models import Role, User

PASSWORD = "correct-horse-battery-staple-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"staff{n}@hospital.test")
    full_name = factory.Sequence(lambda n: f"Staff Member {n}")
    role = Role.CLINICIAN
    is_active = True
    approved_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def password(obj: User, create: bool, extracted: str | None, **_: Any) -> None:
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])

    @factory.post_generation
    def role_group(obj: User, create: bool, extracted: Any, **_: Any) -> None:
        if create:
            from accounts.services import user_set_role

            user_set_role(user=obj, role=obj.role)


class ClinicianFactory(UserFactory):
    role = Role.CLINICIAN


class NurseFactory(UserFactory):
    role = Role.NURSE


class RadiologistFactory(UserFactory):
    role = Role.RADIOLOGIST


class ResearcherFactory(UserFactory):
    role = Role.RESEARCHER


class AdminFactory(UserFactory):
    role = Role.ADMIN
    is_staff = True


def care_team_make(*, name: str | None = None, members: list[User] | tuple[User, ...] = ()) -> Any:
    from patients.services import care_team_add_member, care_team_create

    team = care_team_create(name=name or f"Team {next(_team_seq)}")
    for member in members:
        care_team_add_member(team=team, user=member)
    return team


def patient_make(*, team: Any = None, by: User | None = None, **overrides: Any) -> Any:
    """A synthetic patient through patient_create; on `team` if given."""
    from patients.services import patient_create

    n = next(_patient_seq)
    fields: dict[str, Any] = {
        "mrn": f"MRN{n:07d}",
        "given_name": f"Testgiven{n}",
        "family_name": f"Testfamily{n}",
        "date_of_birth": dt.date(1960, 1, 1) + dt.timedelta(days=37 * n),
        "sex": "female" if n % 2 else "male",
    }
    fields.update(overrides)
    return patient_create(by=by, care_teams=[team] if team is not None else [], **fields)


def _counter() -> Any:
    n = 0
    while True:
        n += 1
        yield n


_patient_seq = _counter()


_team_seq = _counter()
