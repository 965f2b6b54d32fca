"""Sending owner, team, role, creator, patient or state fields to each writable API object has no
effect: the request is refused with a 400 naming them (or, where the body is not read, they are
ignored), and the object's row, its patient and the caller's account are unchanged."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.forms.models import model_to_dict
from rest_framework.test import APIClient

from accounts.models import Role
from tests.security.world import World, world_make

pytestmark = pytest.mark.django_db

# Fields a caller might try to take over an object, a team or a role with.
PRIVILEGED: dict[str, Any] = {
    "owner": "00000000-0000-0000-0000-000000000001",
    "team": "00000000-0000-0000-0000-000000000002",
    "care_teams": ["00000000-0000-0000-0000-000000000002"],
    "role": "admin",
    "is_staff": True,
    "is_superuser": True,
    "is_active": False,
    "created_by": "00000000-0000-0000-0000-000000000003",
    "recorded_by": "00000000-0000-0000-0000-000000000003",
    "uploaded_by": "00000000-0000-0000-0000-000000000003",
    "signed_by": "00000000-0000-0000-0000-000000000003",
    "decided_by": "00000000-0000-0000-0000-000000000003",
    "patient": "00000000-0000-0000-0000-000000000004",
    "public_id": "00000000-0000-0000-0000-000000000005",
    "status": "signed",
    "source": "import",
}


def api_as(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def row(obj: Any) -> dict[str, Any]:
    obj.refresh_from_db()
    return model_to_dict(obj)


def caller_and_patient(world: World, user: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    user.refresh_from_db()
    account = {k: getattr(user, k) for k in ("role", "is_staff", "is_superuser", "is_active")}
    return account, row(world.patient) | {"teams": set(world.patient.care_teams.all())}


def _entry_url(kind: str) -> Callable[[World], str]:
    return lambda w: (
        f"/api/v1/patients/{w.patient.public_id}/{kind}/{w.objects['entries'][kind].public_id}/"
    )


def _entry(kind: str) -> Callable[[World], Any]:
    return lambda w: w.objects["entries"][kind]


# A valid change of each kind of record entry.
_RECORD_BODIES: dict[str, dict[str, Any]] = {
    "observations": {"value": 131.0},
    "conditions": {"display": "Hypertension"},
    "medications": {"frequency": "daily"},
    "allergies": {"reaction": "Hives"},
    "lifestyle": {"pack_years": 13.0},
    "family-history": {"onset_age": 50},
    "genetic-markers": {"zygosity": "homozygous"},
}

# (name, who, method, url, a valid body, the object written): one line per writable API object.
Write = tuple[str, str, Callable[[World], str], dict[str, Any], Callable[[World], Any]]
WRITES: dict[str, Write] = {
    "patient": (
        "clinician",
        "patch",
        lambda w: f"/api/v1/patients/{w.patient.public_id}/",
        {"phone": "555"},
        lambda w: w.patient,
    ),
    **{
        f"record:{kind}": (
            "clinician",
            "patch",
            _entry_url(kind),
            body,
            _entry(kind),
        )
        for kind, body in _RECORD_BODIES.items()
    },
    "report:put": (
        "radiologist",
        "put",
        lambda w: f"/api/v1/imaging/studies/{w.objects['study'].public_id}/report/",
        {"text": "No nodule."},
        lambda w: w.objects["study"].report,
    ),
    "report:patch": (
        "radiologist",
        "patch",
        lambda w: f"/api/v1/imaging/studies/{w.objects['study'].public_id}/report/",
        {"text": "No nodule."},
        lambda w: w.objects["study"].report,
    ),
    "report:sign": (
        "radiologist",
        "post",
        lambda w: f"/api/v1/imaging/studies/{w.objects['study'].public_id}/report/sign/",
        {},
        lambda w: w.objects["study"].report,
    ),
    "assessment:outcome": (
        "clinician",
        "post",
        lambda w: f"/api/v1/risk-assessments/{w.objects['assessment'].public_id}/outcome/",
        {"outcome": "confirmed", "outcome_date": dt.date.today().isoformat()},
        lambda w: w.objects["assessment"],
    ),
    "recommendation:decline": (
        "clinician",
        "post",
        lambda w: f"/api/v1/recommendations/{w.objects['recommendation'].public_id}/decline/",
        {"reason": "patient_declined"},
        lambda w: w.objects["recommendation"],
    ),
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_privileged_fields_are_refused_and_change_nothing(name):
    world = world_make()
    who, method, url, body, target = WRITES[name]
    user = world.users[who]
    obj = target(world)
    before = row(obj)
    account, patient = caller_and_patient(world, user)

    response = getattr(api_as(user), method)(url(world), {**body, **PRIVILEGED}, format="json")

    assert response.status_code == 400, response.content
    named = set(response.json())
    assert named >= set(PRIVILEGED) - {"status", "source"} - set(body), named
    assert row(obj) == before
    assert caller_and_patient(world, user) == (account, patient)
    # The valid body alone is accepted: the 400 was the privileged fields'.
    assert getattr(api_as(user), method)(url(world), body, format="json").status_code == 200


def test_accepting_a_recommendation_ignores_the_body_and_records_the_caller():
    # The accept endpoint reads no body: whatever is sent, the decision is the caller's.
    world = world_make()
    user = world.users["clinician"]
    advice = world.objects["recommendation"]
    other = world.users["other_team"]
    account, patient = caller_and_patient(world, user)
    response = api_as(user).post(
        f"/api/v1/recommendations/{advice.public_id}/accept/",
        {**PRIVILEGED, "decided_by": str(other.public_id)},
        format="json",
    )
    assert response.status_code == 200
    advice.refresh_from_db()
    assert advice.decided_by == user
    assert advice.patient == world.patient
    assert caller_and_patient(world, user) == (account, patient)


def test_the_profile_form_cannot_raise_a_role():
    world = world_make()
    user = world.users["nurse"]
    from django.test import Client

    client = Client()
    client.force_login(user)
    client.post(
        "/accounts/profile/",
        {"full_name": "Renamed Nurse", "role": "admin", "is_staff": "on", "is_superuser": "on"},
    )
    user.refresh_from_db()
    assert (user.role, user.is_staff, user.is_superuser) == (Role.NURSE, False, False)
