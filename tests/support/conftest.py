"""The helpdesk's world: a clinician of care team A with a patient, a risk assessment and an
imaging study; a clinician of another team; a verified portal administrator."""

from typing import Any

import pytest
from django.test import Client

from imaging.models import ImagingModelVersion
from support.models import Ticket
from support.services import ticket_open
from tests import factories
from tests.accounts.helpers import login_verified
from tests.dashboards.test_home import assess, risk_version
from tests.imaging.conftest import png_bytes, study_make


@pytest.fixture
def version(db):
    return risk_version("diabetes")


@pytest.fixture
def assessment(version, patient):
    return assess(version, patient, 0.8)


@pytest.fixture
def imaging_version(db):
    return ImagingModelVersion.objects.create(
        name="chest-ct",
        version="support-test",
        artifact_dir="chest-ct/support-test",
        sha256="0" * 64,
        manifest={"classes": ["normal", "nodule", "opacity"], "normal_class": "normal"},
        is_synthetic=True,
    )


@pytest.fixture
def study(patient, clinician, imaging_version):
    return study_make(patient=patient, by=clinician, version=imaging_version)


@pytest.fixture
def support_admin(db):
    return factories.AdminFactory(full_name="Sam Support")


@pytest.fixture
def admin_client(support_admin):
    """Its own client: a test may sign the `client` fixture in as someone else."""
    client = Client()
    login_verified(client, support_admin)
    return client


def ticket_make(by: Any, **overrides: Any) -> Ticket:
    fields: dict[str, Any] = {
        "category": Ticket.Category.QUESTION,
        "subject": "Where is the export?",
        "description": "I cannot find the CSV export.",
    }
    fields.update(overrides)
    return ticket_open(by=by, **fields)


@pytest.fixture
def png() -> bytes:
    return png_bytes()
