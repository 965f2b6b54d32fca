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
        "date_of_birth": dt.date(1960, 1, 1) + dt.timedelta(days=37 * (n % 400)),
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


class PendingUserFactory(UserFactory):
    """A self-registered user that no administrator has approved yet."""

    is_active = False
    approved_at: Any = None


class SuperuserFactory(AdminFactory):
    is_superuser = True


class TOTPDeviceFactory(factory.django.DjangoModelFactory):
    """A confirmed authenticator-app device; `django_otp.oath.totp(device.bin_key)` is its code."""

    class Meta:
        model = "otp_totp.TOTPDevice"

    user = factory.SubFactory(ClinicianFactory)
    name = "Authenticator app"
    confirmed = True


# --- record entries (API tests) -----------------------------------------------------------------

# A valid payload of each kind of record entry, keyed by its segment of the API's URL.
RECORD_ENTRY_EXAMPLES: dict[str, dict[str, Any]] = {
    "observations": {
        "code": "8480-6",
        "value": 128.0,
        "unit": "mm[Hg]",
        "effective_at": "2024-05-01T09:30:00Z",
    },
    "conditions": {"code": "I10", "display": "Essential hypertension", "onset_date": "2019-03-01"},
    "medications": {
        "name": "Metformin",
        "dose": "500.000",
        "dose_unit": "mg",
        "frequency": "twice daily",
        "start_date": "2021-01-04",
    },
    "allergies": {"substance": "Penicillin", "reaction": "Rash", "severity": "moderate"},
    "lifestyle": {"assessed_on": "2024-01-15", "smoking": "former", "pack_years": 12.5},
    "family-history": {"relation": "mother", "condition_display": "Breast cancer", "onset_age": 52},
    "genetic-markers": {"gene": "BRCA1", "variant": "c.68_69del", "zygosity": "heterozygous"},
}


def record_entry_make(kind: str, *, patient: Any, by: User | None = None, **overrides: Any) -> Any:
    """An entry of `kind` (a key of RECORD_ENTRY_EXAMPLES) added through its service."""
    from rest_framework import serializers

    from patients.apis import RECORD_KINDS

    record_kind = RECORD_KINDS[kind]
    data = record_kind.create_in(data={**RECORD_ENTRY_EXAMPLES[kind], **overrides})
    try:
        data.is_valid(raise_exception=True)
    except serializers.ValidationError as exc:
        raise ValueError(f"bad {kind} example: {exc.detail}") from exc
    return record_kind.add(by=by, patient=patient, **data.validated_data)
