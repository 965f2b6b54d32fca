"""One patient's dashboard: a chart per observation code (vitals before labs) with the reference
range and flagged results, the risk history with each model's thresholds, the imaging timeline;
only for the patient's care teams (404, audited, for anyone else), never cached, each endpoint in
at most 10 queries."""

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from imaging.models import ImagingModelVersion, Study
from patients.models import Observation
from patients.selectors import observation_history, observation_kinds_for_patient
from tests import factories
from tests.accounts.helpers import login_verified
from tests.dashboards.test_home import assess, risk_version, study

pytestmark = pytest.mark.django_db


def page_url(patient: Any) -> str:
    return f"/dashboards/patients/{patient.public_id}/"


def data_url(patient: Any, tail: str) -> str:
    return f"/dashboards/data/patients/{patient.public_id}/{tail}/"


def observe(patient: Any, by: Any, code: str, value: float, days_ago: float) -> Observation:
    return factories.record_entry_make(
        "observations",
        patient=patient,
        by=by,
        code=code,
        value=value,
        unit={"8480-6": "mm[Hg]", "8867-4": "/min", "4548-4": "%", "2085-9": "mg/dL"}[code],
        effective_at=(timezone.now() - dt.timedelta(days=days_ago)).isoformat(),
    )


@pytest.fixture
def world() -> dict[str, Any]:
    clinician: Any = factories.ClinicianFactory()
    team = factories.care_team_make(members=[clinician])
    patient = factories.patient_make(team=team, given_name="Vera", family_name="Vitals")
    # Labs first on purpose: the page still shows the vitals first.
    for n, value in enumerate([6.1, 7.4, 8.2]):
        observe(patient, clinician, "4548-4", value, days_ago=90 - 30 * n)
    for n, value in enumerate([128, 151, 135, 142]):
        observe(patient, clinician, "8480-6", value, days_ago=60 - 14 * n)
    observe(patient, clinician, "2085-9", 35, days_ago=3)  # HDL: a lower bound only
    observe(patient, clinician, "8867-4", 72, days_ago=2)
    diabetes, heart = risk_version("diabetes", high=0.3), risk_version("heart_disease", high=0.4)
    assess(diabetes, patient, 0.12, days_ago=60)
    assess(diabetes, patient, 0.35, days_ago=5)
    assess(heart, patient, 0.22, days_ago=20)
    cnn = ImagingModelVersion.objects.create(
        name="chest-cnn", version="t1", artifact_dir="x", sha256="0" * 64, manifest={},
        is_synthetic=True,
    )  # fmt: skip
    study(patient, clinician, "done", hours_ago=24 * 40, abnormal=0.2, modality="CR", version=cnn)
    study(patient, clinician, Study.State.DONE, hours_ago=24 * 4, abnormal=0.85, version=cnn)
    study(patient, clinician, Study.State.FAILED, hours_ago=24 * 2)
    study(patient, clinician, Study.State.QUEUED, hours_ago=1)
    return {"clinician": clinician, "team": team, "patient": patient}


# --- selectors --------------------------------------------------------------------------------


def test_observation_kinds_list_vitals_first_then_labs_in_catalog_order(world):
    kinds = observation_kinds_for_patient(patient=world["patient"])
    assert [k.code for k in kinds] == ["8480-6", "8867-4", "4548-4", "2085-9"]
    assert [k.count for k in kinds] == [4, 1, 3, 1]
    assert kinds[0].unit == "mm[Hg]" and kinds[0].category == "vital-signs"


def test_observation_history_is_the_newest_results_oldest_first(world):
    history = observation_history(patient=world["patient"], code="8480-6", limit=3)
    assert [o.value for o in history] == [151, 135, 142]


# --- the page ---------------------------------------------------------------------------------


def test_the_page_shows_a_chart_per_code_vitals_first_and_the_study_links(
    client, world, django_assert_max_num_queries
):
    client.force_login(world["clinician"])
    with django_assert_max_num_queries(25):
        response = client.get(page_url(world["patient"]))
    assert response.status_code == 200
    html = response.content.decode()
    patient = world["patient"]
    positions = [html.index(data_url(patient, f"observations/{c}")) for c in
                 ("8480-6", "8867-4", "4548-4", "2085-9")]  # fmt: skip
    assert positions == sorted(positions)
    assert html.index('id="vitals"') < positions[0] and positions[2] > html.index('id="labs"')
    assert data_url(patient, "risk") in html and data_url(patient, "imaging") in html
    assert html.count("/imaging/studies/") == 4
    assert "Vera Vitals" in html
    event = AuditEvent.objects.filter(actor=world["clinician"]).latest("pk")
    assert event.action == AuditAction.READ and event.detail["page"] == "dashboard"
    assert event.object_id == str(patient.public_id)


def test_the_record_page_links_to_the_dashboard(client, world):
    client.force_login(world["clinician"])
    html = client.get(f"/patients/{world['patient'].public_id}/").content.decode()
    assert f'href="{page_url(world["patient"])}"' in html


def test_another_care_team_gets_404_audited_and_a_researcher_403(client, world):
    outsider = factories.ClinicianFactory()
    client.force_login(outsider)
    assert client.get(page_url(world["patient"])).status_code == 404
    denial = AuditEvent.objects.filter(actor=outsider).latest("pk")
    assert denial.action == AuditAction.DENIED
    client.force_login(factories.ResearcherFactory())
    assert client.get(page_url(world["patient"])).status_code == 403


def test_an_admin_sees_any_patient(client, world):
    login_verified(client, factories.AdminFactory())
    assert client.get(page_url(world["patient"])).status_code == 200
    assert client.get(data_url(world["patient"], "risk")).status_code == 200


# --- observation charts -----------------------------------------------------------------------


def test_observation_chart_draws_the_values_the_reference_band_and_flags(
    client, world, django_assert_max_num_queries
):
    client.force_login(world["clinician"])
    with django_assert_max_num_queries(10):
        response = client.get(data_url(world["patient"], "observations/8480-6"))
    assert response.status_code == 200
    body = response.json()
    values, low, high = body["data"]["datasets"]
    assert values["data"] == [128, 151, 135, 142]
    assert values["pointStyle"] == ["circle", "triangle", "circle", "triangle"]
    assert low["data"] == [90] * 4 and high["data"] == [139] * 4 and high["fill"] == "-1"
    assert body["options"]["scales"]["y"]["title"]["text"] == "Systolic blood pressure (mm[Hg])"
    assert len(body["data"]["labels"]) == 4 and body["data"]["labels"] == sorted(
        body["data"]["labels"]
    )
    assert [row[3] for row in body["table"]["rows"]] == [None, "high", None, "high"]
    assert any("2 of 4 results outside" in note for note in body["notes"])
    assert "mm[Hg]" in body["description"]


def test_a_one_sided_reference_range_is_shaded_from_its_bound(client, world):
    client.force_login(world["clinician"])
    body = client.get(data_url(world["patient"], "observations/2085-9")).json()
    _values, bound = body["data"]["datasets"]
    assert bound["data"] == [40] and bound["fill"] == "end"  # HDL: at least 40 mg/dL
    assert body["table"]["rows"][0][3] == "low"


def test_a_code_the_patient_has_no_result_of_is_404(client, world):
    client.force_login(world["clinician"])
    assert client.get(data_url(world["patient"], "observations/2345-7")).status_code == 404


# --- risk and imaging -------------------------------------------------------------------------


def test_risk_chart_has_a_line_per_disease_and_each_models_threshold(
    client, world, django_assert_max_num_queries
):
    client.force_login(world["clinician"])
    with django_assert_max_num_queries(10):
        response = client.get(data_url(world["patient"], "risk"))
    body = response.json()
    datasets = {d["label"]: d for d in body["data"]["datasets"]}
    assert [p for p in datasets["Diabetes risk"]["data"] if p] == [
        0.12,
        0.35,
    ]
    threshold = datasets["Diabetes: high from 30 %"]
    assert set(threshold["data"]) == {0.3} and threshold["borderDash"]
    assert len(body["data"]["labels"]) == 3
    assert body["options"]["scales"]["y"]["max"] == 1
    rows = body["table"]["rows"]
    assert [row[2] for row in rows] == [12.0, 22.0, 35.0]
    assert rows[-1][3] == "High" and rows[-1][5] == 30.0
    assert any("synthetic" in note for note in body["notes"])


def test_imaging_chart_places_each_study_by_date_and_probability(
    client, world, django_assert_max_num_queries
):
    client.force_login(world["clinician"])
    with django_assert_max_num_queries(10):
        response = client.get(data_url(world["patient"], "imaging"))
    body = response.json()
    assert len(body["data"]["labels"]) == 4
    datasets = {d["label"]: d["data"] for d in body["data"]["datasets"]}
    assert datasets["X-ray: probability abnormal"] == [0.2, None, None, None]
    assert datasets["CT: probability abnormal"] == [None, 0.85, None, None]
    no_result = datasets["No result (queued, running or failed)"]
    assert no_result == [None, None, 0, 0]
    assert [row[2] for row in body["table"]["rows"]] == ["Done", "Done", "Failed", "Queued"]
    assert any("synthetic images" in note for note in body["notes"])


def test_charts_of_a_patient_without_records_are_empty_with_a_sentence(client):
    clinician: Any = factories.ClinicianFactory()
    patient = factories.patient_make(team=factories.care_team_make(members=[clinician]))
    client.force_login(clinician)
    for tail in ("risk", "imaging"):
        body = client.get(data_url(patient, tail)).json()
        assert body["empty"] is True and body["empty_text"]


@pytest.mark.parametrize("tail", ["observations/8480-6", "risk", "imaging"])
def test_patient_charts_answer_401_403_and_404_to_those_who_may_not_see_them(client, world, tail):
    url = data_url(world["patient"], tail)
    assert client.get(url).status_code == 401
    client.force_login(factories.ResearcherFactory())
    assert client.get(url).status_code == 403
    client.force_login(factories.ClinicianFactory())
    assert client.get(url).status_code == 404


def test_patient_charts_are_never_cached(client, world):
    client.force_login(world["clinician"])
    url = data_url(world["patient"], "observations/8867-4")
    assert client.get(url).json()["data"]["datasets"][0]["data"] == [72]
    observe(world["patient"], world["clinician"], "8867-4", 88, days_ago=0)
    assert client.get(url).json()["data"]["datasets"][0]["data"] == [72, 88]
