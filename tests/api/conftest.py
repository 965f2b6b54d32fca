"""Fixtures of the API tests: DRF clients signed in with a real token, and a few more roles."""

from collections.abc import Callable

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditAction, AuditEvent, User
from tests import factories


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for(db) -> Callable[[User], APIClient]:
    """An APIClient that sends `Authorization: Token <key>` for `user` (TokenAuthentication runs
    for real)."""

    def make(user: User) -> APIClient:
        token, _ = Token.objects.get_or_create(user=user)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api

    return make


@pytest.fixture
def api(client_for, clinician) -> APIClient:
    """The clinician on the patient's care team."""
    return client_for(clinician)


@pytest.fixture
def other_api(client_for, other_clinician) -> APIClient:
    """A clinician on another care team."""
    return client_for(other_clinician)


@pytest.fixture
def nurse(db, team):
    from patients.services import care_team_add_member

    user: User = factories.NurseFactory()
    care_team_add_member(team=team, user=user)
    return user


@pytest.fixture
def researcher(db):
    return factories.ResearcherFactory()


def reads(**filters: object) -> list[AuditEvent]:
    """Audit READ events, oldest first."""
    return list(AuditEvent.objects.filter(action=AuditAction.READ, **filters).order_by("seq"))
