"""The risk API: assessing through POST /api/v1/risk-assessments/ (synchronous, the active
version, overrides validated field by field), listing and reading a patient's assessments,
recording outcomes, and the model cards. Allowed and denied cases for each: anonymous 401,
another care team 404 (audited), a role that may not assess 403; bad input 400, nothing written."""

import datetime as dt
import json
import uuid
from collections.abc import Callable

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditAction, AuditEvent, User
from prediction.ml.diseases import DISEASES, FeatureSpec
from prediction.models import ModelVersion, RiskAssessment
from tests import factories

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

URL = "/api/v1/risk-assessments/"
MB = 1024 * 1024


def middle(spec: FeatureSpec) -> float:
    if spec.kind == "binary":
        return 1.0
    value = (spec.low + spec.high) / 2
    return float(round(value)) if spec.kind == "integer" else value


def all_values(disease: str = "diabetes") -> dict[str, float]:
    return {spec.name: middle(spec) for spec in DISEASES[disease].features}


def body(patient, disease: str = "diabetes", **overrides: object) -> dict[str, object]:
    return {
        "patient": str(patient.public_id),
        "disease": disease,
        "overrides": {**all_values(disease), **overrides},
    }


@pytest.fixture
def client_for(db) -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        token, _ = Token.objects.get_or_create(user=user)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api

    return make


@pytest.fixture
def api(client_for, clinician) -> APIClient:
    return client_for(clinician)


@pytest.fixture
def patient(db, team, clinician):
    """The root fixture's patient with a fixed birth date (the factory's default moves with every
    patient made in the run, eventually past today) inside every model's age range."""
    return factories.patient_make(
        team=team, by=clinician, date_of_birth=dt.date(1968, 3, 14), sex="female"
    )


@pytest.fixture
def assessment(active_risk_models, clinician, patient) -> RiskAssessment:
    from prediction.services import risk_assess

    return risk_assess(
        by=clinician, patient=patient, disease="diabetes", overrides=all_values("diabetes")
    )


@pytest.fixture
def unchanged(db):
    before = RiskAssessment.objects.count()
    yield
    assert RiskAssessment.objects.count() == before


# --- assessing ----------------------------------------------------------------------------------


def test_post_assesses_synchronously_with_the_active_version(api, active_risk_models, patient):
    response = api.post(URL, body(patient), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    stored = RiskAssessment.objects.get()
    version = active_risk_models["diabetes"]
    assert data["id"] == str(stored.public_id)
    assert data["patient"] == str(patient.public_id)
    assert data["disease"] == "diabetes"
    assert 0 < data["probability"] < 1
    assert data["risk_band"] in {"low", "moderate", "high"}
    contributions = data["contributions"]
    total = (
        contributions["base"]
        + sum(contributions["features"].values())
        + contributions["calibration_adjustment"]
    )
    assert total == pytest.approx(contributions["output"], abs=1e-6)
    assert set(data["inputs"]) == {s.name for s in DISEASES["diabetes"].features}
    # The record holds no glucose or BMI: those were entered (an override equal to the record's
    # value, like the age, keeps the record as its source).
    assert data["inputs"]["glucose_2h"]["entered"] is True
    assert data["inputs"]["bmi"]["entered"] is True
    model = data["model"]
    assert model["id"] == str(version.public_id)
    assert model["version"] == version.version
    assert model["card_url"] == f"/api/v1/models/{version.public_id}/"
    assert model["card_page"] == f"/risk/models/{version.public_id}/"
    assert data["page"] == f"/risk/assessments/{stored.public_id}/"
    assert data["outcome"] == ""
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_id=str(stored.public_id)
    ).exists()


def test_post_by_active_model_id(api, active_risk_models, patient):
    version = active_risk_models["heart_disease"]
    data = body(patient, "heart_disease")
    del data["disease"]
    data["model"] = str(version.public_id)
    response = api.post(URL, data, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["model"]["id"] == str(version.public_id)


def test_post_by_an_inactive_version_is_refused(api, active_risk_models, patient, unchanged):
    version = active_risk_models["diabetes"]
    ModelVersion.objects.filter(pk=version.pk).update(is_active=False)
    data = body(patient)
    del data["disease"]
    data["model"] = str(version.public_id)
    response = api.post(URL, data, format="json")
    assert response.status_code == 400
    assert "not the active one" in response.json()["model"][0]
    response = api.post(URL, body(patient), format="json")
    assert response.status_code == 400
    assert "disease" in response.json()


def test_post_with_a_model_of_another_disease_is_refused(
    api, active_risk_models, patient, unchanged
):
    data = body(patient)
    data["model"] = str(active_risk_models["heart_disease"].public_id)
    assert api.post(URL, data, format="json").status_code == 400


def test_record_values_are_used_where_no_override_is_given(
    api, active_risk_models, clinician, patient
):
    from django.utils import timezone

    from patients.services import observation_record

    spec = next(s for s in DISEASES["diabetes"].features if s.source.get("type") == "observation")
    observation_record(
        by=clinician,
        patient=patient,
        code=spec.source["code"],
        value=middle(spec),
        unit=spec.unit,
        effective_at=timezone.now(),
    )
    values = all_values()
    del values[spec.name]
    response = api.post(
        URL,
        {"patient": str(patient.public_id), "disease": "diabetes", "overrides": values},
        format="json",
    )
    assert response.status_code == 201, response.json()
    given = response.json()["inputs"][spec.name]
    assert given["entered"] is False
    assert given["source"].startswith(f"Observation {spec.source['code']}")
    assert given["value"] == pytest.approx(middle(spec))


# --- denied -------------------------------------------------------------------------------------


def test_anonymous_gets_401_everywhere(assessment):
    anon = APIClient()
    version = assessment.model_version
    for method, url in [
        ("get", URL),
        ("post", URL),
        ("get", f"{URL}{assessment.public_id}/"),
        ("post", f"{URL}{assessment.public_id}/outcome/"),
        ("get", "/api/v1/models/"),
        ("get", f"/api/v1/models/{version.public_id}/"),
    ]:
        assert getattr(anon, method)(url, format="json").status_code == 401, url


def test_another_care_team_gets_404_and_nothing_is_written(
    client_for, other_clinician, assessment, patient, unchanged
):
    other = client_for(other_clinician)
    assert other.post(URL, body(patient), format="json").status_code == 404
    assert other.get(URL, {"patient": str(patient.public_id)}).status_code == 404
    assert other.get(f"{URL}{assessment.public_id}/").status_code == 404
    outcome = {"outcome": "confirmed", "outcome_date": str(assessment.created_at.date())}
    assert other.post(f"{URL}{assessment.public_id}/outcome/", outcome).status_code == 404
    assessment.refresh_from_db()
    assert assessment.outcome == ""
    assert AuditEvent.objects.filter(action=AuditAction.DENIED, actor=other_clinician).count() >= 4


def test_unknown_assessment_is_404(api, active_risk_models):
    assert api.get(f"{URL}{uuid.uuid4()}/").status_code == 404


def test_nurse_reads_but_may_not_assess_or_record_outcomes(
    client_for, nurse, assessment, patient, unchanged
):
    api = client_for(nurse)
    response = api.post(URL, body(patient), format="json")
    assert response.status_code == 403
    outcome = {"outcome": "confirmed", "outcome_date": str(assessment.created_at.date())}
    assert api.post(f"{URL}{assessment.public_id}/outcome/", outcome).status_code == 403
    assert api.get(URL, {"patient": str(patient.public_id)}).status_code == 200
    assert api.get(f"{URL}{assessment.public_id}/").status_code == 200


def test_researcher_sees_no_assessment(client_for, assessment, patient):
    api = client_for(factories.ResearcherFactory())
    assert api.get(f"{URL}{assessment.public_id}/").status_code == 404
    assert api.get(URL, {"patient": str(patient.public_id)}).status_code == 404


# --- bad input ----------------------------------------------------------------------------------


def _first(disease: str, kind: str) -> FeatureSpec:
    return next(s for s in DISEASES[disease].features if s.kind == kind)


@pytest.mark.parametrize(
    "value",
    ["nan", "NaN", "Infinity", "-inf", "abc", "12\x00", True, None, [1], {"a": 1}, "x" * MB],
)
def test_non_finite_or_non_numeric_overrides_are_400(
    api, active_risk_models, patient, unchanged, value
):
    spec = _first("diabetes", "numeric")
    response = api.post(URL, body(patient, **{spec.name: value}), format="json")
    assert response.status_code == 400
    assert spec.name in response.json()["overrides"]


def test_json_nan_and_1e309_literals_are_400(api, active_risk_models, patient, unchanged):
    spec = _first("diabetes", "numeric")
    for literal in ("NaN", "1e309", "-Infinity"):
        raw = (
            f'{{"patient": "{patient.public_id}", "disease": "diabetes", '
            f'"overrides": {{"{spec.name}": {literal}}}}}'
        )
        response = api.generic("POST", URL, raw, content_type="application/json")
        assert response.status_code == 400, literal


@pytest.mark.parametrize("disease", sorted(DISEASES))
def test_out_of_range_and_negative_overrides_are_400_under_their_feature(
    api, active_risk_models, patient, unchanged, disease
):
    for spec in DISEASES[disease].features:
        too_high = spec.high + max(1.0, abs(spec.high))
        too_low = spec.low - max(1.0, abs(spec.low))
        for bad in (too_high, too_low):
            response = api.post(URL, body(patient, disease, **{spec.name: bad}), format="json")
            assert response.status_code == 400, (spec.name, bad)
            errors = response.json()["overrides"]
            assert list(errors) == [spec.name], errors
        if spec.low >= 0:
            response = api.post(URL, body(patient, disease, **{spec.name: -1}), format="json")
            assert "negative" in response.json()["overrides"][spec.name][0]


def test_missing_values_are_listed_under_overrides(api, active_risk_models, patient, unchanged):
    response = api.post(
        URL, {"patient": str(patient.public_id), "disease": "heart_disease"}, format="json"
    )
    assert response.status_code == 400
    missing = response.json()["overrides"]
    entered = [s.name for s in DISEASES["heart_disease"].features if s.source["type"] == "entered"]
    assert entered
    assert set(entered) <= set(missing)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"disease": "diabetes"}, "patient"),
        ({"patient": "not-a-uuid", "disease": "diabetes"}, "patient"),
        ({"patient": None, "disease": "influenza"}, "disease"),
        ({"patient": None}, "disease"),
        ({"patient": None, "disease": "diabetes", "overrides": {"shoe_size": 42}}, "overrides"),
        ({"patient": None, "disease": "diabetes", "overrides": [1, 2]}, "overrides"),
        ({"patient": None, "disease": "diabetes", "colour": "red"}, "colour"),
        ({"patient": None, "disease": "diabetes\x00"}, "disease"),
        ({"patient": None, "model": str(uuid.uuid4())}, "model"),
    ],
)
def test_bad_requests_are_400_naming_the_field(
    api, active_risk_models, patient, unchanged, data, field
):
    if "patient" in data and data["patient"] is None:
        data = {**data, "patient": str(patient.public_id)}
    response = api.post(URL, data, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_a_body_over_the_limit_is_413(api, active_risk_models, patient, unchanged):
    raw = json.dumps({"patient": str(patient.public_id), "pad": "x" * (6 * MB)})
    response = api.generic("POST", URL, raw, content_type="application/json")
    assert response.status_code == 413


def test_a_form_body_is_415(api, active_risk_models, patient, unchanged):
    response = api.post(URL, {"patient": str(patient.public_id), "disease": "diabetes"})
    assert response.status_code == 415


# --- reading ------------------------------------------------------------------------------------


def test_list_is_paginated_newest_first_and_filterable(
    api, active_risk_models, clinician, patient, team
):
    from prediction.services import risk_assess

    made = [
        risk_assess(by=clinician, patient=patient, disease=d, overrides=all_values(d))
        for d in ("diabetes", "heart_disease", "diabetes")
    ]
    other_patient = factories.patient_make(team=team)
    risk_assess(by=clinician, patient=other_patient, disease="diabetes", overrides=all_values())
    response = api.get(URL, {"patient": str(patient.public_id), "page_size": 2})
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 3
    assert [row["id"] for row in data["results"]] == [str(a.public_id) for a in made[::-1][:2]]
    assert data["next"]
    second = api.get(data["next"]).json()
    assert [row["id"] for row in second["results"]] == [str(made[0].public_id)]
    only = api.get(URL, {"patient": str(patient.public_id), "disease": "heart_disease"}).json()
    assert [row["id"] for row in only["results"]] == [str(made[1].public_id)]
    event = AuditEvent.objects.filter(action=AuditAction.READ).order_by("-seq").first()
    assert event.object_id == str(patient.public_id)


def test_list_needs_a_patient(api, active_risk_models):
    response = api.get(URL)
    assert response.status_code == 400
    assert "patient" in response.json()
    assert api.get(URL, {"patient": "\x00"}).status_code == 400


def test_detail_is_audited(api, assessment):
    response = api.get(f"{URL}{assessment.public_id}/")
    assert response.status_code == 200
    assert response.json()["id"] == str(assessment.public_id)
    event = AuditEvent.objects.filter(action=AuditAction.READ).order_by("-seq").first()
    assert event.detail["assessment"] == str(assessment.public_id)


# --- outcomes -----------------------------------------------------------------------------------


def test_outcome_is_recorded(api, assessment, clinician):
    day = str(assessment.created_at.date())
    response = api.post(
        f"{URL}{assessment.public_id}/outcome/",
        {"outcome": "ruled_out", "outcome_date": day},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["outcome"] == "ruled_out"
    assert response.json()["outcome_date"] == day
    assessment.refresh_from_db()
    assert assessment.outcome_recorded_by == clinician


@pytest.mark.parametrize(
    "data",
    [
        {"outcome": "maybe", "outcome_date": "2024-01-01"},
        {"outcome": "confirmed", "outcome_date": "2999-01-01"},
        {"outcome": "confirmed", "outcome_date": "2000-01-01"},
        {"outcome": "confirmed"},
        {"outcome": "confirmed", "outcome_date": "today", "extra": 1},
    ],
)
def test_bad_outcomes_are_400(api, assessment, data):
    response = api.post(f"{URL}{assessment.public_id}/outcome/", data, format="json")
    assert response.status_code == 400
    assessment.refresh_from_db()
    assert assessment.outcome == ""


# --- model cards --------------------------------------------------------------------------------


def test_model_list_serves_the_active_cards(client_for, active_risk_models):
    api = client_for(factories.ResearcherFactory())  # no PHI on cards
    response = api.get("/api/v1/models/")
    assert response.status_code == 200
    cards = response.json()
    assert {card["disease"] for card in cards} == set(DISEASES)
    for card in cards:
        assert card["is_active"] is True
        manifest = card["manifest"]
        assert {"dataset", "features", "metrics", "comparison", "caveats"} <= set(manifest)
        assert "reference" not in manifest
        assert card["sha256"] == active_risk_models[card["disease"]].sha256


def test_model_detail_serves_any_version(api, active_risk_models):
    version = active_risk_models["breast_cancer"]
    ModelVersion.objects.filter(pk=version.pk).update(is_active=False)
    response = api.get(f"/api/v1/models/{version.public_id}/")
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert response.json()["manifest"]["metrics"]["auroc_ci"]
    assert api.get(f"/api/v1/models/{uuid.uuid4()}/").status_code == 404
    assert response.json()["card_page"] == reverse(
        "prediction:model_detail", kwargs={"public_id": version.public_id}
    )
