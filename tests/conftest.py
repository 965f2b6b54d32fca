"""Shared fixtures. Worlds are built with tests/factories.py."""

import pytest

from tests import factories

# In any test folder: a real Celery worker process (`live_worker`), and chromium driven by
# Playwright (`browser`, `page`, `screenshot`).
pytest_plugins = ["tests.worker", "tests.playwright_fixtures"]


@pytest.fixture
def team(db):
    return factories.care_team_make()


@pytest.fixture
def clinician(db, team):
    """A clinician on `team`."""
    user = factories.ClinicianFactory()
    from patients.services import care_team_add_member

    care_team_add_member(team=team, user=user)
    return user


@pytest.fixture
def other_clinician(db):
    """A clinician on another care team."""
    user = factories.ClinicianFactory()
    factories.care_team_make(members=[user])
    return user


@pytest.fixture
def admin_user(db):
    return factories.AdminFactory()


@pytest.fixture
def patient(db, team, clinician):
    return factories.patient_make(team=team, by=clinician)
