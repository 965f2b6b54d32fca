"""The imaging operations dashboard: who may open it, what its tiles and charts say, that it
names no patient, and that each chart is a bounded number of queries."""

import datetime as dt
import json
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from imaging.models import Study, WorkerHeartbeat
from tests import factories
from tests.accounts.helpers import login_verified

pytestmark = pytest.mark.django_db

PAGE = "dashboards:imaging_ops"
ENDPOINTS = ("data_imaging_throughput", "data_imaging_latency", "data_imaging_failures")


@pytest.fixture(autouse=True)
def _no_other_workers(db):
    """A real worker started by another test of the session keeps beating into the test
    database; these tests count only the workers they make."""
    WorkerHeartbeat.objects.all().delete()


def url(name: str) -> str:
    return reverse(f"dashboards:{name}")


def study(patient: Any, by: Any, state: str, *, ago: dt.timedelta, took_s: float = 0, **more):
    """A study row uploaded `ago` before now; DONE/FAILED ones finished `took_s` later."""
    uploaded = timezone.now() - ago
    fields: dict[str, Any] = {
        "patient": patient,
        "uploaded_by": by,
        "kind": Study.Kind.PNG,
        "file_name": "imaging/none.png",
        "size_bytes": 1000,
        "sha256": "0" * 64,
        "modality": "CT",
        "rows": 64,
        "columns": 64,
        "state": state,
        "uploaded_at": uploaded,
        "enqueued_at": uploaded,
    }
    if state in (Study.State.DONE, Study.State.FAILED):
        fields["finished_at"] = uploaded + dt.timedelta(seconds=took_s)
    if state == Study.State.DONE:
        fields.update(predicted_class="nodule", abnormal_probability=0.7)
    if state == Study.State.FAILED:
        fields.update(failure_code="undecodable_pixels", failure_reason="The pixels are broken.")
    fields.update(more)
    return Study.objects.create(**fields)


@pytest.fixture
def world(patient, clinician):
    """Studies in every state over the last day, a failure of two kinds, two workers."""
    for minutes in (3, 42):
        study(patient, clinician, Study.State.QUEUED, ago=dt.timedelta(minutes=minutes))
    study(patient, clinician, Study.State.RUNNING, ago=dt.timedelta(minutes=1))
    for hours, took in ((1, 4.0), (1, 6.0), (1, 30.0), (5, 8.0), (20, 12.0)):
        study(
            patient,
            clinician,
            Study.State.DONE,
            ago=dt.timedelta(hours=hours, minutes=5),
            took_s=took,
        )
    study(patient, clinician, Study.State.FAILED, ago=dt.timedelta(hours=2), took_s=3)
    study(
        patient,
        clinician,
        Study.State.FAILED,
        ago=dt.timedelta(hours=30),
        took_s=400,
        failure_code="gave_up",
        failure_reason="The analysis did not complete after 3 attempts.",
    )
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        hostname="celery@imaging-1", pid=101, queues=["default", "inference"], last_seen_at=now
    )
    WorkerHeartbeat.objects.create(
        hostname="celery@imaging-old",
        pid=102,
        queues=["inference"],
        last_seen_at=now - dt.timedelta(hours=3),
    )
    return {"patient": patient}


@pytest.fixture
def radiologist(db):
    return factories.RadiologistFactory()


# --- who may see it ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENDPOINTS)
def test_anonymous_gets_401_json(client, name):
    response = client.get(url(name))
    assert response.status_code == 401
    assert "Sign in" in response.json()["detail"]


@pytest.mark.parametrize("name", ENDPOINTS)
@pytest.mark.parametrize(
    "factory", [factories.ClinicianFactory, factories.NurseFactory, factories.ResearcherFactory]
)
def test_other_roles_get_403_json(client, name, factory):
    client.force_login(factory())
    response = client.get(url(name))
    assert response.status_code == 403
    assert response.json()["detail"]


@pytest.mark.parametrize("name", ENDPOINTS)
@pytest.mark.parametrize("factory", [factories.RadiologistFactory, factories.AdminFactory])
def test_radiologists_and_admins_get_the_chart(client, name, factory, world):
    login_verified(client, factory())  # admins must have a verified (2FA) session
    response = client.get(url(name))
    assert response.status_code == 200
    payload = response.json()
    assert payload["title"] and payload["description"] and payload["computed_at"]
    assert payload["table"]["rows"]
    assert payload["empty"] is False


def test_the_page_sends_anonymous_users_to_sign_in(client):
    response = client.get(reverse(PAGE))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("factory", [factories.ClinicianFactory, factories.ResearcherFactory])
def test_the_page_is_refused_to_other_roles(client, factory):
    client.force_login(factory())
    assert client.get(reverse(PAGE)).status_code == 403


def test_the_tab_shows_for_radiologists_only(client, radiologist):
    client.force_login(radiologist)
    page = client.get(reverse(PAGE)).content.decode()
    assert f'href="{reverse(PAGE)}" aria-current="page"' in page
    clinician = factories.ClinicianFactory()
    from dashboards.views.tabs import dashboard_tabs

    assert reverse(PAGE) not in [tab["url"] for tab in dashboard_tabs(clinician, "")]


# --- what it says ---------------------------------------------------------------------------


def test_page_tiles_and_workers_table(client, radiologist, world, django_assert_max_num_queries):
    client.force_login(radiologist)
    with django_assert_max_num_queries(12):
        response = client.get(reverse(PAGE))
    assert response.status_code == 200
    context = response.context
    assert context["summary"]["queued"] == 2
    assert context["summary"]["running"] == 1
    assert context["summary"]["failed_24h"] == 1
    assert context["oldest_minutes"] == 42
    assert context["workers_alive"] == 1
    page = response.content.decode()
    assert 'id="tile-oldest">42 min' in page
    assert "celery@imaging-1" in page and "default, inference" in page
    states = {w["hostname"]: w["state"] for w in context["workers"]}
    assert states["celery@imaging-1"] == "alive"
    assert states["celery@imaging-old"] == "silent"
    for name in ENDPOINTS:
        assert f'data-chart-url="{url(name)}"' in page


def test_page_without_workers_says_how_to_start_one(client, radiologist):
    client.force_login(radiologist)
    page = client.get(reverse(PAGE)).content.decode()
    assert 'id="workers-none"' in page
    assert 'id="tile-oldest">—' in page


def test_throughput_per_hour(client, radiologist, world):
    client.force_login(radiologist)
    payload = client.get(url("data_imaging_throughput")).json()
    assert payload["type"] == "bar"
    assert len(payload["data"]["labels"]) == 24
    sets = {d["label"]: d["data"] for d in payload["data"]["datasets"]}
    assert sum(sets["Submitted"]) == 9  # the failure of 30 hours ago is outside the window
    assert sum(sets["Done (result)"]) == 5
    assert sum(sets["Failed"]) == 1
    rows = payload["table"]["rows"]
    assert len(rows) == 24
    assert [sum(r[i] for r in rows) for i in (1, 2, 3)] == [9, 5, 1]
    assert payload["options"]["scales"]["x"]["title"]["text"] == "Hour (UTC)"


def test_latency_p50_and_p95_per_hour(client, radiologist, world):
    client.force_login(radiologist)
    payload = client.get(url("data_imaging_latency")).json()
    assert payload["type"] == "line"
    sets = {d["label"]: d["data"] for d in payload["data"]["datasets"]}
    p50 = [v for v in sets["Median (p50)"] if v is not None]
    p95 = [v for v in sets["p95"] if v is not None]
    # Hour of 1 h ago: 4, 6 and 30 s -> p50 6, p95 30; then 8 s and 12 s alone.
    assert sorted(p50) == [6.0, 8.0, 12.0]
    assert sorted(p95) == [8.0, 12.0, 30.0]
    busy = [row for row in payload["table"]["rows"] if row[1]]
    assert sorted(row[1] for row in busy) == [1, 1, 3]
    assert payload["options"]["scales"]["y"]["title"]["text"] == "Seconds"
    assert any("fewer than 20" in note for note in payload["notes"])


def test_failures_by_reason_over_seven_days(client, radiologist, world):
    client.force_login(radiologist)
    payload = client.get(url("data_imaging_failures")).json()
    assert payload["options"]["indexAxis"] == "y"
    # As many of each: by code.
    assert payload["data"]["labels"] == ["Gave up after repeated attempts", "Undecodable pixels"]
    assert payload["data"]["datasets"][0]["data"] == [1, 1]
    rows = {row[1]: row for row in payload["table"]["rows"]}
    assert rows["gave_up"][4] == "The analysis did not complete after 3 attempts."
    assert rows["undecodable_pixels"][2] == 1


@pytest.mark.parametrize("name", ENDPOINTS)
def test_an_empty_portal_says_there_is_nothing_yet(client, radiologist, name):
    client.force_login(radiologist)
    payload = client.get(url(name)).json()
    assert payload["empty"] is True
    assert "No study" in payload["empty_text"]


def test_no_patient_identifier_on_the_page_or_in_the_charts(client, radiologist, world):
    patient = world["patient"]
    client.force_login(radiologist)
    texts = [client.get(reverse(PAGE)).content.decode()]
    texts += [json.dumps(client.get(url(name)).json()) for name in ENDPOINTS]
    for text in texts:
        for value in (
            patient.given_name,
            patient.family_name,
            patient.mrn,
            str(patient.public_id),
            patient.date_of_birth.isoformat(),
        ):
            assert value not in text


# --- cost ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENDPOINTS)
def test_each_chart_is_at_most_10_queries_and_flat_in_studies(
    client, radiologist, world, patient, clinician, name, django_assert_max_num_queries, settings
):
    settings.DASHBOARD_CACHE_SECONDS = 0  # measured without the cache, as the benchmark does
    client.force_login(radiologist)
    client.get(url(name))  # the session and user are loaded once
    with django_assert_max_num_queries(10) as few:
        assert client.get(url(name)).status_code == 200
    for minutes in range(60):
        study(patient, clinician, Study.State.DONE, ago=dt.timedelta(minutes=minutes), took_s=5)
        study(patient, clinician, Study.State.FAILED, ago=dt.timedelta(minutes=minutes), took_s=1)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url(name)).status_code == 200


def test_charts_are_cached_and_shared_by_everyone_allowed(
    client, radiologist, world, patient, clinician
):
    client.force_login(radiologist)
    first = client.get(url("data_imaging_failures")).json()
    study(patient, clinician, Study.State.FAILED, ago=dt.timedelta(minutes=5), took_s=1)
    login_verified(client, factories.AdminFactory())
    assert client.get(url("data_imaging_failures")).json() == first  # the radiologist's entry


def test_with_the_dashboard_cache_off_the_charts_are_computed_each_time(
    client, radiologist, world, patient, clinician, settings
):
    settings.DASHBOARD_CACHE_SECONDS = 0
    client.force_login(radiologist)
    before = client.get(url("data_imaging_failures")).json()["data"]["datasets"][0]["data"]
    study(patient, clinician, Study.State.FAILED, ago=dt.timedelta(minutes=5), took_s=1)
    after = client.get(url("data_imaging_failures")).json()["data"]["datasets"][0]["data"]
    assert sum(after) == sum(before) + 1
