"""Every dashboards route, found from the URL resolver, asked by an anonymous visitor, a
clinician of another care team, a researcher and the patient's own clinician: no one receives a
patient they may not see, a researcher never receives an identifier, and a new route that this
matrix does not cover fails it."""

from typing import Any

import pytest
from django.urls import URLPattern, reverse

from dashboards import urls as dashboard_urls
from prediction.models import ModelVersion
from tests import factories
from tests.dashboards.test_home import assess, recommendation, risk_version, study

pytestmark = pytest.mark.django_db

# Route name -> kwargs builder over the world. Adding a route without a line here fails the test.
ROUTE_KWARGS: dict[str, Any] = {
    "index": lambda w: {},
    "home": lambda w: {},
    "data_home_risk_bands": lambda w: {},
    "data_home_studies": lambda w: {},
    "patient": lambda w: {"patient_id": w["patient"].public_id},
    "data_patient_observation": lambda w: {"patient_id": w["patient"].public_id, "code": "8480-6"},
    "data_patient_risk": lambda w: {"patient_id": w["patient"].public_id},
    "data_patient_imaging": lambda w: {"patient_id": w["patient"].public_id},
    "population": lambda w: {},
    "data_population": lambda w: {"disease": "diabetes", "by": "age"},
    "acceptance": lambda w: {},
    "data_acceptance": lambda w: {},
    "models": lambda w: {},
    "model_quality": lambda w: {"version_id": w["version"].public_id},
    **{
        f"data_model_{kind}": (lambda w: {"version_id": w["version"].public_id})
        for kind in ("roc", "calibration", "confusion", "subgroups", "drift")
    },
    "imaging_ops": lambda w: {},
    "data_imaging_throughput": lambda w: {},
    "data_imaging_latency": lambda w: {},
    "data_imaging_failures": lambda w: {},
}
# Routes about one patient: anyone outside the care team gets 404 (403 for a researcher's role).
PATIENT_ROUTES = {name for name in ROUTE_KWARGS if "patient" in name}


def route_names() -> list[str]:
    return [p.name for p in dashboard_urls.urlpatterns if isinstance(p, URLPattern) and p.name]


@pytest.fixture
def world() -> dict[str, Any]:
    version: ModelVersion = risk_version("diabetes")
    mine: Any = factories.ClinicianFactory()
    team = factories.care_team_make(members=[mine])
    other: Any = factories.ClinicianFactory()
    factories.care_team_make(members=[other])
    patient = factories.patient_make(
        team=team, by=mine, mrn="MRN-CANARY-71", given_name="Zebedee", family_name="Quillfeather"
    )
    factories.record_entry_make("observations", patient=patient, by=mine)
    assess(version, patient, 0.8)
    study(patient, mine)
    recommendation(patient)
    return {"patient": patient, "version": version, "mine": mine, "other": other}


def identifiers(patient: Any) -> list[str]:
    return [
        str(patient.public_id),
        patient.mrn,
        patient.given_name,
        patient.family_name,
        patient.date_of_birth.isoformat(),
    ]


def get(client: Any, name: str, w: dict[str, Any]) -> Any:
    return client.get(reverse(f"dashboards:{name}", kwargs=ROUTE_KWARGS[name](w)))


def test_every_dashboards_route_is_in_the_matrix():
    assert sorted(route_names()) == sorted(ROUTE_KWARGS)


def test_anonymous_visitors_get_401_on_data_and_the_sign_in_page_elsewhere(client, world):
    for name in route_names():
        response = get(client, name, world)
        if name.startswith("data_"):
            assert response.status_code == 401, name
        else:
            assert response.status_code == 302, name
            assert "/accounts/login/" in response["Location"], name


def test_another_care_team_never_receives_the_patient(client, world):
    client.force_login(world["other"])
    for name in route_names():
        response = get(client, name, world)
        if name in PATIENT_ROUTES:
            assert response.status_code == 404, name
        else:
            assert response.status_code in (200, 302, 403), name
        body = response.content.decode()
        for value in identifiers(world["patient"]):
            assert value not in body, (name, value)


def test_a_researcher_never_receives_an_identifier(client, world):
    client.force_login(factories.ResearcherFactory())
    answered = 0
    for name in route_names():
        response = get(client, name, world)
        assert response.status_code in (200, 302, 403), name
        answered += response.status_code == 200
        body = response.content.decode()
        for value in identifiers(world["patient"]):
            assert value not in body, (name, value)
    assert answered >= 10  # population, models and acceptance, with their charts


def test_the_patients_own_clinician_gets_every_patient_route(client, world):
    client.force_login(world["mine"])
    for name in PATIENT_ROUTES:
        assert get(client, name, world).status_code == 200, name
