"""The risk pages: the panel of the patient record, the assessment form (pre-filled from the
record, asking for what is missing or stale, refusing bad input field by field), the result with
its factors and plain-words metrics, the outcome form, and the model cards. Every page has an
allowed and a denied case; bad input never writes and never fails with 500."""

import datetime as dt
import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.models import AuditAction, AuditEvent
from patients.catalog import unit_label
from patients.services import observation_record
from prediction.ml.diseases import DISEASES, FeatureSpec
from prediction.models import Outcome, RiskAssessment
from prediction.views import algorithm_name
from tests import factories
from tests.accounts.helpers import login_verified

pytestmark = pytest.mark.slow  # trains every disease once per run (tests/prediction/conftest.py)

HUGE = "7" * 1_000_000


def assess_url(patient: Any, disease: str = "diabetes") -> str:
    return reverse("prediction:assess", kwargs={"public_id": patient.public_id, "disease": disease})


def result_url(assessment: RiskAssessment) -> str:
    return reverse("prediction:assessment", kwargs={"public_id": assessment.public_id})


def outcome_url(assessment: RiskAssessment) -> str:
    return reverse("prediction:assessment_outcome", kwargs={"public_id": assessment.public_id})


def middle(spec: FeatureSpec) -> str:
    """A valid value of a feature, as a form posts it."""
    if spec.kind == "binary":
        return "1"
    value = (spec.low + spec.high) / 2
    return str(round(value)) if spec.kind == "integer" else f"{value:g}"


def valid_post(disease: str = "diabetes", **overrides: str) -> dict[str, str]:
    data = {spec.name: middle(spec) for spec in DISEASES[disease].features}
    data.update(overrides)
    return data


def observation_feature(disease: str = "diabetes", index: int = 0) -> FeatureSpec:
    specs = [s for s in DISEASES[disease].features if s.source.get("type") == "observation"]
    return specs[index]


def missing_feature() -> FeatureSpec:
    """A diabetes feature the test patient's record lacks (no observation recorded)."""
    return observation_feature(index=1)


def record(patient: Any, by: Any, spec: FeatureSpec, value: float, days_ago: int) -> None:
    observation_record(
        by=by,
        patient=patient,
        code=spec.source["code"],
        value=value,
        unit=spec.unit,
        effective_at=timezone.now() - dt.timedelta(days=days_ago),
    )


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

    overrides = {s.name: float(middle(s)) for s in DISEASES["diabetes"].features}
    return risk_assess(by=clinician, patient=patient, disease="diabetes", overrides=overrides)


# --- access -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_is_sent_to_login_from_every_page(client, assessment, patient):
    version = assessment.model_version
    urls = [
        (client.get, assess_url(patient)),
        (client.post, assess_url(patient)),
        (client.get, result_url(assessment)),
        (client.post, outcome_url(assessment)),
        (client.get, reverse("prediction:model_list")),
        (client.get, reverse("prediction:model_detail", kwargs={"public_id": version.public_id})),
    ]
    for method, url in urls:
        response = method(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("accounts:login")), url
    assert RiskAssessment.objects.count() == 1


@pytest.mark.django_db
def test_another_care_team_gets_404_everywhere_and_nothing_is_written(
    client, other_clinician, assessment, patient
):
    client.force_login(other_clinician)
    assert client.get(assess_url(patient)).status_code == 404
    assert client.post(assess_url(patient), valid_post()).status_code == 404
    assert client.get(result_url(assessment)).status_code == 404
    today = timezone.localdate().isoformat()
    response = client.post(outcome_url(assessment), {"outcome": "confirmed", "outcome_date": today})
    assert response.status_code == 404
    assessment.refresh_from_db()
    assert assessment.outcome == ""
    assert RiskAssessment.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.DENIED, actor=other_clinician).exists()


@pytest.mark.django_db
def test_researcher_sees_no_patient(client, assessment, patient):
    client.force_login(factories.ResearcherFactory())
    assert client.get(assess_url(patient)).status_code == 404
    assert client.get(result_url(assessment)).status_code == 404


@pytest.mark.django_db
def test_nurse_reads_results_but_may_not_assess_or_record_outcomes(
    client, nurse, assessment, patient
):
    client.force_login(nurse)
    panel = client.get(reverse("patients:detail", kwargs={"public_id": patient.public_id}))
    page = panel.content.decode()
    assert "Disease risk" in page
    assert assess_url(patient) not in page
    assert "Clinicians run the risk models" in page
    assert result_url(assessment) in page
    assert client.get(assess_url(patient)).status_code == 403
    assert client.post(assess_url(patient), valid_post()).status_code == 403
    result = client.get(result_url(assessment))
    assert result.status_code == 200
    assert outcome_url(assessment) not in result.content.decode()
    today = timezone.localdate().isoformat()
    response = client.post(outcome_url(assessment), {"outcome": "confirmed", "outcome_date": today})
    assert response.status_code == 403
    assert RiskAssessment.objects.count() == 1
    assessment.refresh_from_db()
    assert assessment.outcome == ""


@pytest.mark.django_db
def test_admin_may_assess_any_patient(client, admin_user, active_risk_models, patient):
    login_verified(client, admin_user)
    assert client.get(assess_url(patient)).status_code == 200
    response = client.post(assess_url(patient), valid_post())
    assert response.status_code == 302


@pytest.mark.django_db
def test_unknown_or_inactive_disease_is_404(client, clinician, active_risk_models, patient):
    client.force_login(clinician)
    assert client.get(assess_url(patient, "influenza")).status_code == 404
    version = active_risk_models["ischemic_stroke"]
    type(version).objects.filter(pk=version.pk).update(is_active=False)
    assert client.get(assess_url(patient, "ischemic_stroke")).status_code == 404


# --- the panel on the patient page --------------------------------------------------------------


@pytest.mark.django_db
def test_patient_page_lists_the_active_models_and_previous_assessments(
    client, clinician, assessment, patient
):
    client.force_login(clinician)
    response = client.get(reverse("patients:detail", kwargs={"public_id": patient.public_id}))
    page = response.content.decode()
    for disease in DISEASES:
        assert assess_url(patient, disease) in page
    assert DISEASES["diabetes"].title in page
    assert result_url(assessment) in page
    assert assessment.model_version.version in page
    assert assessment.get_risk_band_display() in page
    assert "Not yet known" in page


@pytest.mark.django_db
def test_patient_page_says_when_no_model_is_active(client, clinician, patient):
    client.force_login(clinician)
    page = client.get(reverse("patients:detail", kwargs={"public_id": patient.public_id}))
    assert "No risk model is active yet" in page.content.decode()


# --- the form: pre-filled, asking for what is missing or stale ----------------------------------


@pytest.mark.django_db
def test_form_prefills_record_values_with_their_dates_and_asks_for_the_rest(
    client, clinician, active_risk_models, patient
):
    spec = observation_feature()
    value = float(middle(spec))
    record(patient, clinician, spec, value, days_ago=10)
    client.force_login(clinician)
    response = client.get(assess_url(patient))
    assert response.status_code == 200
    page = response.content.decode()
    form = response.context["form"]
    assert form[spec.name].initial == value
    day = (timezone.now() - dt.timedelta(days=10)).date()
    assert f"measured {day.day} {day:%b %Y} (LOINC {spec.source['code']})" in page
    assert "From the record" in page
    if spec.unit:
        assert f"({unit_label(spec.unit)})" in page
    entered = missing_feature()
    assert form[entered.name].initial is None
    assert "Please enter" in page
    rows = {row["feature"].spec.name: row["status"] for row in response.context["rows"]}
    assert rows[spec.name] == "record"
    assert rows[entered.name] == "missing"
    assert 'class="feature-row status-missing' in page
    assert "Allowed:" in page  # ranges in the help text


@pytest.mark.django_db
def test_stale_values_are_not_prefilled_but_shown_and_asked_for(
    client, clinician, active_risk_models, patient
):
    spec = observation_feature()
    max_age = DISEASES["diabetes"].max_age_days
    record(patient, clinician, spec, float(middle(spec)), days_ago=max_age + 30)
    client.force_login(clinician)
    response = client.get(assess_url(patient))
    page = response.content.decode()
    assert response.context["form"][spec.name].initial is None
    assert "Out of date" in page
    assert f"older than {max_age} days" in page


@pytest.mark.django_db
def test_submitting_assesses_and_records_which_values_were_entered(
    client, clinician, active_risk_models, patient
):
    spec = observation_feature()
    value = float(middle(spec))
    record(patient, clinician, spec, value, days_ago=3)
    client.force_login(clinician)
    data = valid_post()
    data[spec.name] = repr(value)  # the pre-filled value posted back unchanged
    response = client.post(assess_url(patient), data)
    assert response.status_code == 302
    assessment = RiskAssessment.objects.get()
    assert response["Location"] == result_url(assessment)
    assert assessment.model_version == active_risk_models["diabetes"]
    assert assessment.created_by == clinician
    assert assessment.inputs[spec.name]["entered"] is False
    assert assessment.inputs[spec.name]["source"].startswith("Observation")
    entered = missing_feature()
    assert assessment.inputs[entered.name]["entered"] is True
    assert assessment.inputs[entered.name]["value"] == float(data[entered.name])


@pytest.mark.django_db
def test_an_overridden_record_value_is_recorded_as_entered(
    client, clinician, active_risk_models, patient
):
    spec = observation_feature()
    record(patient, clinician, spec, spec.low + (spec.high - spec.low) / 4, days_ago=3)
    client.force_login(clinician)
    changed = f"{spec.low + (spec.high - spec.low) / 2:g}"
    response = client.post(assess_url(patient), valid_post(**{spec.name: changed}))
    assert response.status_code == 302
    stored = RiskAssessment.objects.get().inputs[spec.name]
    assert stored["entered"] is True
    assert stored["value"] == float(changed)


def _bad_values(spec: FeatureSpec) -> list[str]:
    if spec.kind == "binary":
        return ["2", "-1", "maybe", "nan", "1\x00", HUGE]
    bad = [
        "nan",
        "NaN",
        "inf",
        "-Infinity",
        "1e309",
        "abc",
        "12\x00",
        HUGE,
        f"{spec.high + max(1.0, spec.high):g}",
    ]
    bad.append("-1" if spec.low >= 0 else f"{spec.low - max(1.0, abs(spec.low)):g}")
    if spec.kind == "integer":
        bad.append(f"{spec.low + 0.5:g}")
    return bad


def _all_fields() -> list[tuple[str, str]]:
    return [(key, spec.name) for key, disease in DISEASES.items() for spec in disease.features]


@pytest.mark.django_db
@pytest.mark.parametrize(("disease", "feature"), _all_fields())
def test_every_field_rejects_bad_input_without_writing(
    client, clinician, active_risk_models, patient, disease, feature
):
    spec = next(s for s in DISEASES[disease].features if s.name == feature)
    client.force_login(clinician)
    for bad in _bad_values(spec):
        response = client.post(assess_url(patient, disease), valid_post(disease, **{feature: bad}))
        assert response.status_code == 400, (feature, bad[:20])
        errors = response.context["form"].errors
        assert list(errors) == [feature], (feature, bad[:20], errors)
        assert "Nothing was saved" in response.content.decode()
    assert RiskAssessment.objects.count() == 0


@pytest.mark.django_db
def test_a_missing_value_is_asked_for(client, clinician, active_risk_models, patient):
    entered = missing_feature()
    client.force_login(clinician)
    data = valid_post()
    del data[entered.name]
    response = client.post(assess_url(patient), data)
    assert response.status_code == 400
    assert entered.name in response.context["form"].errors
    assert RiskAssessment.objects.count() == 0


@pytest.mark.django_db
def test_negative_values_say_so(client, clinician, active_risk_models, patient):
    spec = next(s for s in DISEASES["diabetes"].features if s.low >= 0 and s.kind != "binary")
    client.force_login(clinician)
    response = client.post(assess_url(patient), valid_post(**{spec.name: "-3"}))
    assert "cannot be negative" in str(response.context["form"].errors[spec.name])


@pytest.mark.django_db
def test_service_errors_land_on_their_fields(
    client, clinician, active_risk_models, patient, monkeypatch
):
    spec = missing_feature()

    def refuse(**_: Any) -> None:
        raise ValidationError({spec.name: ["Refused by the service."], "__all__": ["Whole."]})

    monkeypatch.setattr("prediction.views.pages.risk_assess", refuse)
    client.force_login(clinician)
    response = client.post(assess_url(patient), valid_post())
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors[spec.name] == ["Refused by the service."]
    assert form.non_field_errors() == ["Whole."]


@pytest.mark.django_db
def test_the_form_page_read_is_audited_without_phi(client, clinician, active_risk_models, patient):
    client.force_login(clinician)
    client.get(assess_url(patient))
    event = AuditEvent.objects.filter(action=AuditAction.READ).order_by("-seq").first()
    assert event.object_id == str(patient.public_id)
    assert event.detail["page"] == "risk_assess"
    assert patient.family_name not in json.dumps(event.detail)


# --- the result ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_result_shows_probability_band_factors_and_plain_words(client, clinician, assessment):
    client.force_login(clinician)
    response = client.get(result_url(assessment))
    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["percent"] in page
    assert " %" in response.context["percent"]
    assert f"{assessment.get_risk_band_display()} risk" in page
    up, down = response.context["up"], response.context["down"]
    assert up or down
    for factor in [*up, *down]:
        assert escape(factor.label) in page
        assert factor.width % 5 == 0 and 5 <= factor.width <= 100
        assert f"w-{factor.width}" in page
    assert all(f.contribution > 0 for f in up) and all(f.contribution < 0 for f in down)
    assert "of 100 patients flagged at this level, about" in page
    assert "of every 100 who" in page
    card = reverse(
        "prediction:model_detail", kwargs={"public_id": assessment.model_version.public_id}
    )
    assert card in page
    assert assessment.model_version.version in page
    for caveat in assessment.model_version.manifest.get("caveats", []):
        assert escape(caveat[:40]) in page
    assert 'style="' not in page  # CSP: no inline styles
    assert "<script>" not in page
    event = AuditEvent.objects.filter(action=AuditAction.READ).order_by("-seq").first()
    assert event.detail["page"] == "risk_result"
    assert event.detail["assessment"] == str(assessment.public_id)


@pytest.mark.django_db
def test_result_of_a_synthetic_model_says_so(client, clinician, assessment):
    version = assessment.model_version
    type(version).objects.filter(pk=version.pk).update(is_synthetic=True)
    client.force_login(clinician)
    page = client.get(result_url(assessment)).content.decode()
    assert "trained on synthetic data, not for clinical use" in page


@pytest.mark.django_db
def test_stroke_result_carries_the_tiny_cohort_caveat(
    client, clinician, active_risk_models, patient
):
    from prediction.services import risk_assess

    overrides = {s.name: float(middle(s)) for s in DISEASES["ischemic_stroke"].features}
    assessment = risk_assess(
        by=clinician, patient=patient, disease="ischemic_stroke", overrides=overrides
    )
    client.force_login(clinician)
    page = client.get(result_url(assessment)).content.decode()
    caveats = assessment.model_version.manifest["caveats"]
    assert caveats
    for caveat in caveats:
        assert escape(caveat[:40]) in page


# --- the outcome --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_clinician_records_the_outcome(client, clinician, assessment):
    client.force_login(clinician)
    today = timezone.localdate()
    response = client.post(
        outcome_url(assessment), {"outcome": "confirmed", "outcome_date": today.isoformat()}
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#outcome")
    assessment.refresh_from_db()
    assert assessment.outcome == Outcome.CONFIRMED
    assert assessment.outcome_date == today
    assert assessment.outcome_recorded_by == clinician
    page = client.get(result_url(assessment)).content.decode()
    assert "Recorded: <strong>Confirmed</strong>" in page
    assert "Change the outcome" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"outcome": "maybe", "outcome_date": "2024-01-01"}, "outcome"),
        ({"outcome": "confirmed\x00", "outcome_date": "2024-01-01"}, "outcome"),
        ({"outcome": "ruled_out", "outcome_date": "2999-01-01"}, "outcome_date"),
        ({"outcome": "ruled_out", "outcome_date": "not a date"}, "outcome_date"),
        ({"outcome": "ruled_out", "outcome_date": HUGE}, "outcome_date"),
        ({"outcome": "ruled_out", "outcome_date": "2000-01-01"}, "outcome_date"),  # before
        ({"outcome": "ruled_out"}, "outcome_date"),
    ],
)
def test_bad_outcomes_are_field_errors(client, clinician, assessment, data, field):
    client.force_login(clinician)
    response = client.post(outcome_url(assessment), data)
    assert response.status_code == 400
    assert field in response.context["outcome_form"].errors
    assessment.refresh_from_db()
    assert assessment.outcome == ""


# --- model cards --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_model_list_shows_every_active_model_to_any_staff(client, active_risk_models):
    client.force_login(factories.ResearcherFactory())  # cards hold no PHI
    response = client.get(reverse("prediction:model_list"))
    assert response.status_code == 200
    page = response.content.decode()
    for version in active_risk_models.values():
        url = reverse("prediction:model_detail", kwargs={"public_id": version.public_id})
        assert url in page
        assert escape(version.manifest["dataset"]["name"]) in page


@pytest.mark.django_db
def test_model_list_says_when_none_is_active(client, clinician):
    client.force_login(clinician)
    assert "No active model" in client.get(reverse("prediction:model_list")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("disease", sorted(DISEASES))
def test_model_card_page_tells_a_clinician_everything(client, nurse, active_risk_models, disease):
    version = active_risk_models[disease]
    manifest = version.manifest
    client.force_login(nurse)
    response = client.get(
        reverse("prediction:model_detail", kwargs={"public_id": version.public_id})
    )
    assert response.status_code == 200
    page = response.content.decode()
    dataset = manifest["dataset"]
    for text in (dataset["name"], dataset["package"], str(dataset["rows"]), version.sha256):
        assert escape(text) in page
    assert "95 % CI" in page
    assert "AUROC" in page and "Brier score" in page and "Calibration slope" in page
    assert "of 100 patients flagged at this level" in page
    for feature in manifest["features"]:
        assert escape(feature["label"]) in page
    for row in manifest.get("comparison", []):
        assert escape(algorithm_name(row["algorithm"])) in page
    if manifest.get("subgroups"):
        assert "Per subgroup" in page
    for caveat in manifest.get("caveats", []):
        assert escape(caveat[:40]) in page
    assert "In plain words" in page
    assert 'style="' not in page


@pytest.mark.django_db
def test_inactive_version_card_says_it_is_not_in_use(client, clinician, active_risk_models):
    version = active_risk_models["diabetes"]
    type(version).objects.filter(pk=version.pk).update(is_active=False)
    client.force_login(clinician)
    url = reverse("prediction:model_detail", kwargs={"public_id": version.public_id})
    assert "not in use" in client.get(url).content.decode()


@pytest.mark.django_db
def test_unknown_model_card_is_404(client, clinician):
    client.force_login(clinician)
    url = reverse(
        "prediction:model_detail", kwargs={"public_id": "00000000-0000-0000-0000-000000000000"}
    )
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_nav_links_to_the_model_cards(client, clinician):
    client.force_login(clinician)
    page = client.get(reverse("patients:list")).content.decode()
    assert f'href="{reverse("prediction:model_list")}"' in page
