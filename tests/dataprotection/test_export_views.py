"""The research export pages: who may download, what is audited, and what the files hold."""

import csv
import io
import json

import pytest
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent
from patients.models import Condition
from tests import factories
from tests.accounts.helpers import login_verified

URLS = ["patients:export", "patients:export_csv", "patients:export_fhir"]


def _body(response) -> str:
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def researcher(db):
    return factories.ResearcherFactory()


@pytest.fixture
def exported(patient, clinician):
    factories.record_entry_make("observations", patient=patient, by=clinician)
    # A formula typed into a coded field must reach the spreadsheet as text.
    Condition.objects.create(patient=patient, code="=HYPERLINK(1)", display="x", system="-2+3")
    return patient


@pytest.mark.parametrize("name", URLS)
def test_clinicians_and_nurses_are_refused(client, clinician, name):
    client.force_login(clinician)
    assert client.get(reverse(name)).status_code == 403
    client.force_login(factories.NurseFactory())
    assert client.get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", URLS)
def test_anonymous_users_go_to_the_login_page(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and "/login" in response["Location"]


@pytest.mark.parametrize("name", URLS)
def test_an_admin_needs_a_verified_second_factor(client, admin_user, name):
    client.force_login(admin_user)
    assert client.get(reverse(name)).status_code == 302
    login_verified(client, admin_user)
    assert client.get(reverse(name)).status_code == 200


def test_the_page_explains_the_method(client, researcher, exported):
    client.force_login(researcher)
    page = client.get(reverse("patients:export")).content.decode()
    assert "Safe Harbor" in page and "90+" in page
    assert exported.family_name not in page


def test_a_researcher_downloads_the_csv_escaped_and_audited(client, researcher, exported):
    client.force_login(researcher)
    response = client.get(reverse("patients:export_csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    text = _body(response)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["record_type"] for r in rows] == ["patient", "observation", "condition"]
    condition = rows[2]
    assert condition["code"] == "'=HYPERLINK(1)" and condition["system"] == "'-2+3"
    for cell in (c for row in csv.reader(io.StringIO(text)) for c in row):
        assert not cell or cell[0] not in "=+-@\t\r" or cell.lstrip("-").replace(".", "").isdigit()
    for phi in (exported.mrn, exported.given_name, exported.family_name, str(exported.public_id)):
        assert phi not in text
    event = AuditEvent.objects.filter(action=AuditAction.EXPORT).get()
    assert event.actor_id == researcher.pk
    assert event.detail["format"] == "csv" and event.detail["count"] == 1


def test_a_researcher_downloads_a_fhir_bundle(client, researcher, exported):
    client.force_login(researcher)
    response = client.get(reverse("patients:export_fhir"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    bundle = json.loads(_body(response))
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    kinds = sorted(e["resource"]["resourceType"] for e in bundle["entry"])
    assert kinds == ["Condition", "Observation", "Patient"]
    assert exported.family_name not in json.dumps(bundle)
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, detail__format="fhir").count() == 1


def test_an_empty_database_gives_valid_empty_files(client, researcher):
    client.force_login(researcher)
    assert json.loads(_body(client.get(reverse("patients:export_fhir"))))["entry"] == []
    assert _body(client.get(reverse("patients:export_csv"))).count("\r\n") == 1


def test_the_export_reads_a_fixed_number_of_queries(
    client, researcher, team, clinician, django_assert_max_num_queries
):
    for _ in range(5):
        p = factories.patient_make(team=team, by=clinician)
        factories.record_entry_make("observations", patient=p, by=clinician)
    client.force_login(researcher)
    response = client.get(reverse("patients:export_csv"))
    with django_assert_max_num_queries(4):
        assert _body(response).count("\r\n") == 11
