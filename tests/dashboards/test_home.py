"""The clinician home: tiles, tables and charts over my care teams' patients only (another team's
patients never appear), researchers sent to the population page, other roles refused, the page
and each chart endpoint in a bounded number of queries."""

import datetime as dt
import hashlib
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from dashboards.charts import BAND_COLOURS
from imaging.models import Study
from patients.services import care_team_add_member
from prediction.models import ModelVersion, RiskAssessment
from recommendations.models import Recommendation
from tests import factories
from tests.accounts.helpers import login_verified

pytestmark = pytest.mark.django_db

HOME = "/dashboards/home/"
BANDS_URL = "/dashboards/data/home/risk-bands/"
STUDIES_URL = "/dashboards/data/home/studies/"


# --- a small world, shared with the patient dashboard's tests ----------------------------------


def risk_version(disease: str = "diabetes", *, high: float = 0.3, **overrides: Any) -> Any:
    """An active, synthetic ModelVersion row as the dashboards read it (no artifact on disk)."""
    fields: dict[str, Any] = {
        "disease": disease,
        "version": f"{disease}-test",
        "algorithm": "logistic_regression",
        "artifact_dir": f"{disease}/test",
        "sha256": "0" * 64,
        "manifest": {"bands": {"moderate": high / 2, "high": high}, "metrics": {}},
        "is_synthetic": True,
        "is_active": True,
    }
    fields.update(overrides)
    return ModelVersion.objects.create(**fields)


def assess(version: Any, patient: Any, probability: float, *, days_ago: float = 0) -> Any:
    bands = version.manifest["bands"]
    band = (
        "high"
        if probability >= bands["high"]
        else "moderate"
        if probability >= bands["moderate"]
        else "low"
    )
    return RiskAssessment.objects.create(
        patient=patient,
        model_version=version,
        inputs={},
        probability=probability,
        risk_band=band,
        contributions={},
        created_at=timezone.now() - dt.timedelta(days=days_ago),
    )


def study(
    patient: Any,
    by: Any,
    state: str = Study.State.DONE,
    *,
    hours_ago: float = 1,
    abnormal: float | None = 0.7,
    modality: str = "CT",
    version: Any = None,
) -> Study:
    """A study row with only what the dashboards read (no files)."""
    uploaded = timezone.now() - dt.timedelta(hours=hours_ago)
    ended = state in (Study.State.DONE, Study.State.FAILED)
    return Study.objects.create(
        patient=patient,
        uploaded_by=by,
        uploaded_at=uploaded,
        enqueued_at=uploaded,
        kind=Study.Kind.PNG,
        file_name="x.png",
        size_bytes=1000,
        sha256=hashlib.sha256(str(uploaded).encode()).hexdigest(),
        modality=modality,
        body_part="CHEST",
        rows=64,
        columns=64,
        state=state,
        finished_at=uploaded + dt.timedelta(minutes=2) if ended else None,
        abnormal_probability=abnormal if state == Study.State.DONE else None,
        predicted_class="nodule" if state == Study.State.DONE else "",
        model_version=version if state == Study.State.DONE else None,
        failure_code="undecodable_pixels" if state == Study.State.FAILED else "",
    )


def recommendation(patient: Any, title: str = "Start metformin", urgency: int = 2) -> Any:
    return Recommendation.objects.create(
        patient=patient,
        rule_id="t2d-metformin-first-line",
        title=title,
        action="Start metformin 500 mg once daily.",
        category="diabetes",
        urgency=urgency,
        strength="strong",
        evidence="Grade A",
        source={"guideline": "ADA 2025", "year": 2025, "section": "9.4", "url": ""},
        reasons=[],
        fingerprint=hashlib.sha256(title.encode()).hexdigest(),
    )


@pytest.fixture
def home_world() -> dict[str, Any]:
    """My team (3 patients: one high risk, one moderate, one low) and another team whose patient
    is at high risk, has studies and a recommendation: none of which I may see."""
    clinician: Any = factories.ClinicianFactory(full_name="Dr Mine")
    mine = factories.care_team_make(name="My clinic", members=[clinician])
    other_clinician: Any = factories.ClinicianFactory()
    theirs = factories.care_team_make(name="Their clinic", members=[other_clinician])
    diabetes, heart = risk_version("diabetes"), risk_version("heart_disease", high=0.4)
    high = factories.patient_make(team=mine, given_name="Hilda", family_name="Highrisk")
    moderate = factories.patient_make(team=mine, given_name="Moe", family_name="Moderate")
    low = factories.patient_make(team=mine, given_name="Lou", family_name="Lowrisk")
    stranger = factories.patient_make(team=theirs, given_name="Stan", family_name="Stranger")
    assess(diabetes, high, 0.2, days_ago=30)  # older, no longer latest
    assess(diabetes, high, 0.82)
    assess(heart, high, 0.5)
    assess(diabetes, moderate, 0.2)
    assess(diabetes, low, 0.05)
    assess(diabetes, stranger, 0.95)
    assess(heart, stranger, 0.9)
    study(high, clinician, Study.State.QUEUED, hours_ago=0.5)
    study(high, clinician, Study.State.DONE, hours_ago=30, abnormal=0.81)
    study(low, clinician, Study.State.FAILED, hours_ago=50)
    study(moderate, clinician, Study.State.DONE, hours_ago=24 * 10)  # finished 10 days ago
    study(stranger, other_clinician, Study.State.RUNNING)
    study(stranger, other_clinician, Study.State.DONE)
    recommendation(high, "Start metformin", urgency=3)
    recommendation(stranger, "Stranger's statin")
    return {
        "clinician": clinician,
        "team": mine,
        "high": high,
        "moderate": moderate,
        "low": low,
        "stranger": stranger,
    }


# --- the page ---------------------------------------------------------------------------------


def test_home_shows_my_teams_figures_and_tables_and_none_of_another_team(
    client, home_world, django_assert_max_num_queries
):
    client.force_login(home_world["clinician"])
    with django_assert_max_num_queries(25):
        response = client.get(HOME)
    assert response.status_code == 200
    tiles = response.context["tiles"]
    assert tiles == {
        "patients": 3,
        "high_risk": 1,
        "waiting": 1,
        "finished": 1,
        "failed": 1,
        "awaiting": 1,
    }
    html = response.content.decode()
    assert "Hilda Highrisk" in html and "Start metformin" in html
    assert "Stranger" not in html and str(home_world["stranger"].public_id) not in html
    high = response.context["high_risk"]
    assert [(row["name"], row["percent"]) for row in high] == [
        ("Hilda Highrisk", 82),
        ("Hilda Highrisk", 50),
    ]
    patient_id = home_world["high"].public_id
    assert reverse("dashboards:patient", args=[patient_id]) in html
    assert reverse("patients:detail", args=[patient_id]) in html
    assert len(response.context["waiting"]) == 1
    assert [row["study"].state for row in response.context["finished"]] == ["done", "failed"]
    for chart_url in (BANDS_URL, STUDIES_URL):
        assert f'data-chart-url="{chart_url}"' in html
    event = AuditEvent.objects.filter(actor=home_world["clinician"]).latest("pk")
    assert event.detail["page"] == "dashboards-home" and event.detail["count"] == 2  # Hilda and Lou


def test_an_admin_home_counts_every_patient(client, home_world):
    login_verified(client, factories.AdminFactory())
    response = client.get(HOME)
    assert response.status_code == 200
    assert response.context["tiles"]["patients"] == 4
    assert response.context["tiles"]["high_risk"] == 2
    body = client.get(BANDS_URL).json()
    high = next(d for d in body["data"]["datasets"] if d["label"] == "High")
    assert sum(high["data"]) == 4


def test_home_redirects_a_researcher_to_the_population_page(client):
    client.force_login(factories.ResearcherFactory())
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboards:population")


def test_home_asks_an_anonymous_visitor_to_sign_in(client):
    response = client.get(HOME)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_nurse_sees_the_home_without_the_recommendations_to_decide(client, home_world):
    nurse = factories.NurseFactory()
    care_team_add_member(team=home_world["team"], user=nurse)
    client.force_login(nurse)
    response = client.get(HOME)
    assert response.status_code == 200
    assert response.context["may_decide"] is False
    assert "Recommendations awaiting my decision" not in response.content.decode()
    assert response.context["tiles"]["patients"] == 3


def test_home_of_a_clinician_without_patients_says_so(client):
    client.force_login(factories.ClinicianFactory())
    response = client.get(HOME)
    assert response.status_code == 200
    html = response.content.decode()
    assert "None of my patients is at high risk" in html and "No study is waiting." in html


def test_home_page_queries_do_not_grow_with_patients(
    client, home_world, django_assert_max_num_queries
):
    clinician, team = home_world["clinician"], home_world["team"]
    version = ModelVersion.objects.get(disease="diabetes")
    for n in range(15):
        patient = factories.patient_make(team=team)
        assess(version, patient, 0.5 + n / 100)
        study(patient, clinician, Study.State.DONE, hours_ago=2)
        recommendation(patient, f"Rule {n}")
    client.force_login(clinician)
    with django_assert_max_num_queries(25):
        response = client.get(HOME)
    assert len(response.context["high_risk"]) == 17
    assert len(response.context["finished"]) == 10 and len(response.context["awaiting"]) == 10


# --- charts -----------------------------------------------------------------------------------


def test_risk_bands_chart_counts_my_patients_by_latest_band_per_disease(
    client, home_world, django_assert_max_num_queries
):
    client.force_login(home_world["clinician"])
    with django_assert_max_num_queries(10):
        response = client.get(BANDS_URL)
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "bar" and body["title"] and body["description"]
    labels = [" ".join(lines) for lines in body["data"]["labels"]]  # two lines each
    data = {d["label"]: dict(zip(labels, d["data"], strict=True)) for d in body["data"]["datasets"]}
    assert data["Low"]["Diabetes (women of Pima heritage)"] == 1
    assert data["Moderate"]["Diabetes (women of Pima heritage)"] == 1
    assert data["High"]["Diabetes (women of Pima heritage)"] == 1  # the stranger is not counted
    assert data["High"]["Heart disease (Cleveland exercise-test cohort)"] == 1
    colours = {d["label"]: d["backgroundColor"] for d in body["data"]["datasets"]}
    assert colours == {"Low": BAND_COLOURS["low"], "Moderate": BAND_COLOURS["moderate"],
                       "High": BAND_COLOURS["high"]}  # fmt: skip
    rows = {row[0]: row[1:] for row in body["table"]["rows"]}
    assert rows["Diabetes (women of Pima heritage)"] == [1, 1, 1, 3, 33.3]
    assert any("synthetic" in note for note in body["notes"])
    assert body["options"]["scales"]["x"]["title"]["text"] == "Patients"


def test_risk_bands_chart_of_a_clinician_without_assessments_is_empty(client):
    risk_version("diabetes")
    client.force_login(factories.ClinicianFactory())
    body = client.get(BANDS_URL).json()
    assert body["empty"] is True and "risk assessment" in body["empty_text"]


def test_studies_chart_counts_per_day_over_fourteen_days(
    client, home_world, django_assert_max_num_queries
):
    client.force_login(home_world["clinician"])
    with django_assert_max_num_queries(10):
        response = client.get(STUDIES_URL)
    assert response.status_code == 200
    body = response.json()
    labels = body["data"]["labels"]
    assert len(labels) == 14 and labels[-1] == timezone.localdate().isoformat()
    totals = {d["label"]: sum(d["data"]) for d in body["data"]["datasets"]}
    # Mine: 4 submitted in 14 days (one 10 days ago), 2 done (one of them 10 days ago), 1 failed.
    assert totals == {"Submitted": 4, "Finished": 2, "Failed": 1}
    assert [row[1:] for row in body["table"]["rows"]] == [
        [d["data"][n] for d in body["data"]["datasets"]] for n in range(14)
    ]


@pytest.mark.parametrize("url", [BANDS_URL, STUDIES_URL])
def test_home_charts_refuse_anonymous_and_researchers(client, url):
    assert client.get(url).status_code == 401
    client.force_login(factories.ResearcherFactory())
    response = client.get(url)
    assert response.status_code == 403 and response.json()["detail"]


def test_home_chart_queries_do_not_grow_with_patients(
    client, home_world, django_assert_max_num_queries
):
    clinician, team = home_world["clinician"], home_world["team"]
    version = ModelVersion.objects.get(disease="diabetes")
    for n in range(20):
        patient = factories.patient_make(team=team)
        assess(version, patient, n / 20)
        study(patient, clinician, Study.State.DONE, hours_ago=24 * (n % 14))
    client.force_login(clinician)
    for url in (BANDS_URL, STUDIES_URL):
        with django_assert_max_num_queries(10):
            assert client.get(url).status_code == 200
