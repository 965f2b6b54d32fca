"""The recommendation pages: the record's panel (ranked cards with reasons, source, suppressed
options, the benefit estimate, the illustrative warning, "Being worked out" before the first run),
accept and decline (plain posts that redirect, htmx posts that swap the card, errors next to the
field), what awaits a decision, the rule catalogue and the benefit model card. Every page has an
allowed and a denied case; another care team gets a 404 wherever a patient is named."""

import datetime as dt
import hashlib
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent
from patients.services import care_team_add_member
from recommendations.models import (
    EvaluationRun,
    Feedback,
    Recommendation,
)
from recommendations.views.wording import benefit_words
from tests import factories
from tests.accounts.helpers import login_verified

pytestmark = pytest.mark.django_db

BENEFIT = {
    "rfs_with": 0.712,
    "rfs_without": 0.618,
    "difference": 0.094,
    "ci_with": [0.66, 0.76],
    "ci_without": [0.56, 0.67],
    "ci_difference": [0.041, 0.147],
    "horizon_years": 5.0,
    "model": "gbsg2_hormonal 2026.1",
    "cohort": "GBSG2 trial cohort",
    "inputs": {"age": 62},
}


def recommendation_make(patient: Any, **overrides: Any) -> Recommendation:
    """A current recommendation row, as recommendations_refresh would write it."""
    rule_id = overrides.get("rule_id", "t2d-metformin-first-line")
    fields: dict[str, Any] = {
        "patient": patient,
        "rule_id": rule_id,
        "title": "Start metformin",
        "action": "Start metformin 500 mg once daily with food, titrating to 1 g twice daily.",
        "category": "diabetes",
        "urgency": 2,
        "strength": "strong",
        "evidence": "Grade A",
        "source": {
            "guideline": "ADA Standards of Care in Diabetes—2025",
            "year": 2025,
            "section": "9.4",
            "url": "",
        },
        "reasons": [
            {
                "text": "HbA1c 8.5 % (target < 7 %)",
                "code": "4548-4",
                "value": "8.5 %",
                "at": "2026-03-02",
            },
            {"text": "Type 2 diabetes", "code": "E11.9", "value": "", "at": None},
        ],
        "suppressed": [],
        "fingerprint": hashlib.sha256(rule_id.encode()).hexdigest(),
    }
    fields.update(overrides)
    return Recommendation.objects.create(**fields)


def evaluated(patient: Any, when: dt.datetime | None = None) -> EvaluationRun:
    return EvaluationRun.objects.create(
        patient=patient, evaluated_at=when or timezone.now(), findings=1
    )


def signed_in(user: Any) -> Client:
    client = Client()
    login_verified(client, user)
    return client


def on_team(factory: Any, team: Any) -> Any:
    user = factory()
    care_team_add_member(team=team, user=user)
    return user


def patient_page(client: Client, patient: Any) -> str:
    response = client.get(reverse("patients:detail", kwargs={"public_id": patient.public_id}))
    assert response.status_code == 200
    return response.content.decode()


def url(name: str, rec: Recommendation) -> str:
    return reverse(f"recommendations:{name}", kwargs={"public_id": rec.public_id})


HTMX = {"HTTP_HX_REQUEST": "true"}


# --- the panel ------------------------------------------------------------------------------------


def test_the_panel_shows_ranked_recommendations_with_their_reasons_and_source(clinician, patient):
    evaluated(patient, timezone.make_aware(dt.datetime(2026, 3, 3, 9, 15)))
    recommendation_make(patient, rank=1)
    recommendation_make(
        patient,
        rule_id="smoking-cessation",
        title="Offer smoking cessation support",
        action="Advise stopping smoking; offer varenicline and behavioural support.",
        category="smoking",
        urgency=3,
        evidence="Class I, LOE A",
        rank=0,
        reasons=[{"text": "Current smoker", "code": "72166-2", "value": "", "at": "2026-02-01"}],
        suppressed=[{"option": "Bupropion", "reason": "Seizure disorder G40.9 recorded"}],
        source={
            "guideline": "USPSTF Tobacco Smoking Cessation",
            "year": 2021,
            "section": "R1",
            "url": "https://example.org/uspstf",
        },
    )
    html = patient_page(signed_in(clinician), patient)
    panel = html[html.index('id="recommendations"') :]
    assert "Evaluated at" in panel and "3 Mar 2026, 09:15" in panel
    assert panel.index("Offer smoking cessation support") < panel.index("Start metformin")
    assert "Urgent" in panel and "Soon" in panel
    assert "<strong>Strong</strong> recommendation · Grade A" in panel
    assert "HbA1c 8.5 % (target &lt; 7 %)" in panel and "2 Mar 2026" in panel
    assert "ADA Standards of Care in Diabetes—2025 (2025), section 9.4" in panel
    assert "Not offered for this patient" in panel
    assert "<strong>Bupropion</strong>: Seizure disorder G40.9 recorded" in panel
    assert 'href="https://example.org/uspstf"' in panel
    assert "Awaiting decision" in panel and "2 awaiting decision" in panel
    assert panel.count('class="btn-accept"') == 2
    assert 'href="/static/css/recommendations.css"' in panel


def test_the_benefit_estimate_and_the_illustrative_warning_are_shown(clinician, patient):
    evaluated(patient)
    recommendation_make(
        patient,
        rule_id="breast-hormonal-therapy",
        title="Discuss adjuvant hormonal therapy",
        category="breast",
        benefit=BENEFIT,
    )
    recommendation_make(
        patient,
        rule_id="imaging-followup-nodule",
        title="Follow up the lung nodule",
        category="imaging",
        illustrative=True,
        illustrative_note="Imaging model trained on synthetic images: illustrative only.",
    )
    panel = patient_page(signed_in(clinician), patient)
    assert (
        "Estimated benefit for patients like this one: 5-year recurrence-free survival 71 % with "
        "hormonal therapy vs 62 % without (difference 9.4 points, 95% CI 4.1\u201314.7); "
        "GBSG2 trial cohort, gbsg2_hormonal 2026.1" in panel
    )
    assert f'href="{reverse("recommendations:benefit_model")}"' in panel
    assert "Illustrative only." in panel
    assert "Imaging model trained on synthetic images: illustrative only." in panel


def test_benefit_words_are_empty_without_an_estimate_or_with_a_broken_one():
    assert benefit_words(None) == ""
    assert benefit_words({"rfs_with": 0.7}) == ""


def test_before_the_first_evaluation_the_panel_says_so_and_polls(clinician, patient):
    html = patient_page(signed_in(clinician), patient)
    panel = html[html.index('id="recommendations"') :]
    assert "Being worked out" in panel
    poll = reverse("recommendations:panel", kwargs={"public_id": patient.public_id})
    assert f'hx-get="{poll}"' in panel
    assert not Recommendation.objects.filter(patient=patient).exists(), "the view evaluated"

    client = signed_in(clinician)
    assert "Being worked out" in client.get(poll, **HTMX).content.decode()
    evaluated(patient)
    recommendation_make(patient)
    fragment = client.get(poll, **HTMX).content.decode()
    assert "Start metformin" in fragment and "hx-get" not in fragment
    assert "Evaluated at" in fragment


def test_an_evaluated_patient_without_findings_says_no_rule_applies(clinician, patient):
    evaluated(patient)
    assert "no rule applies to the record" in patient_page(signed_in(clinician), patient)


def test_a_nurse_sees_the_recommendations_but_no_decision_buttons(team, patient):
    evaluated(patient)
    recommendation_make(patient)
    panel = patient_page(signed_in(on_team(factories.NurseFactory, team)), patient)
    assert "Start metformin" in panel
    assert "btn-accept" not in panel and "Decline…" not in panel
    assert "Clinicians accept or decline them." in panel


def test_the_panel_fragment_is_a_404_for_another_care_team(other_clinician, patient):
    poll = reverse("recommendations:panel", kwargs={"public_id": patient.public_id})
    assert signed_in(other_clinician).get(poll).status_code == 404


def test_an_expired_session_makes_the_poll_reload_the_page(patient):
    poll = reverse("recommendations:panel", kwargs={"public_id": patient.public_id})
    response = Client().get(poll, **HTMX)
    assert response.status_code == 204 and response["HX-Refresh"] == "true"


# --- accept and decline ---------------------------------------------------------------------------


def test_accept_without_javascript_redirects_back_to_the_card(clinician, patient):
    rec = recommendation_make(patient)
    response = signed_in(clinician).post(url("accept", rec))
    detail = reverse("patients:detail", kwargs={"public_id": patient.public_id})
    assert response.status_code == 302
    assert response["Location"] == f"{detail}#rec-{rec.public_id}"
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.ACCEPTED and rec.decided_by == clinician
    assert Feedback.objects.get(recommendation=rec).outcome == Feedback.Outcome.ACCEPTED


def test_accept_with_htmx_answers_the_card_alone(clinician, patient):
    clinician.full_name = "Dr Ada Byron"
    clinician.save()
    rec = recommendation_make(patient)
    response = signed_in(clinician).post(url("accept", rec), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith("<article") or "<article" in html[:600]
    assert "<html" not in html
    today = timezone.localdate().strftime("%-d %b %Y")
    assert f"Accepted by Dr Ada Byron on {today}" in html
    assert 'data-status="accepted"' in html


def test_decline_with_a_reason_shows_who_when_and_why(clinician, patient):
    clinician.full_name = "Dr Ada Byron"
    clinician.save()
    rec = recommendation_make(patient)
    client = signed_in(clinician)
    response = client.post(url("decline", rec), {"reason": "patient_declined"}, **HTMX)
    today = timezone.localdate().strftime("%-d %b %Y")
    assert f"Declined by Dr Ada Byron on {today}: Patient declined" in response.content.decode()
    feedback = Feedback.objects.get(recommendation=rec)
    assert feedback.outcome == Feedback.Outcome.DECLINED
    assert feedback.reason_code == "patient_declined" and feedback.user == clinician
    assert "Patient declined" in patient_page(client, patient)


def test_decline_without_a_reason_is_refused_next_to_the_field(clinician, patient):
    rec = recommendation_make(patient)
    response = signed_in(clinician).post(url("decline", rec), {"reason": ""})
    html = response.content.decode()
    assert response.status_code == 400
    assert f'id="id_reason_{rec.public_id.hex[:12]}_error"' in html
    assert "Choose a reason for declining." in html
    assert '<details class="rec-decline" open>' in html
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING
    assert not Feedback.objects.exists()


def test_other_needs_a_note_and_htmx_gets_the_card_with_the_error(clinician, patient):
    rec = recommendation_make(patient)
    client = signed_in(clinician)
    response = client.post(url("decline", rec), {"reason": "other", "note": "  "}, **HTMX)
    html = response.content.decode()
    # htmx swaps only 2xx answers: the refused card comes back as 200, with its errors.
    assert response.status_code == 200
    assert "Say why in the note when the reason is “Other”." in html
    assert f'id="id_note_{rec.public_id.hex[:12]}_error"' in html
    response = client.post(
        url("decline", rec), {"reason": "other", "note": "Seen by endocrinology today."}, **HTMX
    )
    html = response.content.decode()
    assert "Other (say why)" in html and "Seen by endocrinology today." in html
    assert Feedback.objects.get(recommendation=rec).reason_text == "Seen by endocrinology today."


def test_a_second_decision_replaces_the_first_and_both_are_kept(clinician, patient):
    rec = recommendation_make(patient)
    client = signed_in(clinician)
    client.post(url("accept", rec))
    client.post(url("decline", rec), {"reason": "already_done"})
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.DECLINED and rec.decline_reason == "already_done"
    assert Feedback.objects.filter(recommendation=rec).count() == 2


def test_a_replaced_recommendation_is_not_decided(clinician, patient):
    rec = recommendation_make(patient, is_current=False, retired_at=timezone.now())
    response = signed_in(clinician).post(url("accept", rec))
    assert response.status_code == 400
    assert "replaced by a newer one" in response.content.decode()
    assert not Feedback.objects.exists()


def test_a_nurse_may_not_decide(team, patient):
    rec = recommendation_make(patient)
    client = signed_in(on_team(factories.NurseFactory, team))
    assert client.post(url("accept", rec)).status_code == 403
    assert client.post(url("decline", rec), {"reason": "deferred"}).status_code == 403
    rec.refresh_from_db()
    assert rec.status == Recommendation.Status.PENDING


def test_another_care_team_gets_404_everywhere(other_clinician, patient):
    rec = recommendation_make(patient)
    client = signed_in(other_clinician)
    assert client.get(url("detail", rec)).status_code == 404
    assert client.post(url("accept", rec)).status_code == 404
    assert client.post(url("decline", rec), {"reason": "deferred"}).status_code == 404
    assert AuditEvent.objects.filter(
        action=AuditAction.DENIED, object_id=str(rec.public_id)
    ).exists()
    assert not Feedback.objects.exists()


def test_decisions_need_a_post_and_a_signed_in_user(clinician, patient):
    rec = recommendation_make(patient)
    assert signed_in(clinician).get(url("accept", rec)).status_code == 405
    response = Client().post(url("accept", rec))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_the_recommendation_page_shows_its_card_and_links_to_the_patient(clinician, patient):
    rec = recommendation_make(patient)
    response = signed_in(clinician).get(url("detail", rec))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Start metformin" in html and patient.family_name in html
    assert AuditEvent.objects.filter(
        action=AuditAction.READ, object_id=str(patient.public_id)
    ).exists()


def test_researchers_never_see_recommendations(patient):
    rec = recommendation_make(patient)
    client = signed_in(factories.ResearcherFactory())
    assert client.get(url("detail", rec)).status_code == 403
    assert client.get(reverse("recommendations:awaiting")).status_code == 403
    assert client.get(reverse("recommendations:rules")).status_code == 403


# --- across patients ------------------------------------------------------------------------------


def test_awaiting_lists_the_undecided_recommendations_of_my_patients(
    team, clinician, patient, other_clinician
):
    mine = recommendation_make(patient)
    decided = recommendation_make(patient, rule_id="smoking-cessation", title="Stop smoking")
    signed_in(clinician).post(url("accept", decided))
    theirs_patient = factories.patient_make(
        team=factories.care_team_make(members=[other_clinician]), by=other_clinician
    )
    recommendation_make(theirs_patient, title="Their patient's advice")
    response = signed_in(clinician).get(reverse("recommendations:awaiting"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Start metformin" in html and f"#rec-{mine.public_id}" in html
    assert f"{patient.given_name} {patient.family_name}" in html and patient.mrn in html
    assert "Stop smoking" not in html and "Their patient" not in html


def test_awaiting_is_empty_for_a_clinician_without_patients():
    response = signed_in(factories.ClinicianFactory()).get(reverse("recommendations:awaiting"))
    assert response.status_code == 200
    assert "Nothing awaits a decision" in response.content.decode()


def test_the_rule_catalogue_shows_each_rule_with_its_acceptance_rate(clinician, patient):
    rec = recommendation_make(patient, rule_id="smoking-cessation-advice")
    client = signed_in(clinician)
    rules = __import__("recommendations.selectors", fromlist=["rule_catalogue"]).rule_catalogue()
    assert rules, "no rule is registered"
    rule = rules[0]
    rec.rule_id = rule["id"]
    rec.save()
    client.post(url("decline", rec), {"reason": "patient_declined"})
    response = client.get(reverse("recommendations:rules"))
    html = response.content.decode()
    assert response.status_code == 200
    assert rule["title"] in html and rule["source"]["guideline"] in html
    row = html[html.index(f'id="rule-{rule["id"]}"') :]
    row = row[: row.index("</tr>")]
    assert "0 %" in row and "0 of 1" in row and "Patient declined (1)" in row


def test_the_rule_catalogue_is_for_clinicians_and_admins(team, admin_user):
    nurse = on_team(factories.NurseFactory, team)
    assert signed_in(nurse).get(reverse("recommendations:rules")).status_code == 403
    assert signed_in(admin_user).get(reverse("recommendations:rules")).status_code == 200


def test_without_an_active_benefit_model_the_card_says_how_to_train_one(clinician):
    response = signed_in(clinician).get(reverse("recommendations:benefit_model"))
    assert response.status_code == 200
    assert "No treatment-benefit model is active yet" in response.content.decode()


@pytest.mark.slow
def test_the_benefit_model_card_shows_cohort_validation_and_limits(
    clinician,
    benefit_model,
):
    manifest = benefit_model.manifest
    metrics = manifest["metrics"]
    response = signed_in(clinician).get(reverse("recommendations:benefit_model"))
    html = response.content.decode()
    assert response.status_code == 200
    assert manifest["title"] in html and benefit_model.version in html
    assert "GBSG2 (German Breast Cancer Study Group 2)" in html and ">686<" in html
    assert "C-index (Harrell), cross-validated" in html
    assert f"{metrics['c_index_harrell']:.3f}" in html
    assert "Time-dependent AUC at 5 years" in html
    assert f"{metrics['time_dependent_auc']['5y']:.3f}" in html
    assert "Calibration at 5 years" in html and "Calibration slope" in html
    first = metrics["calibration_5y"]["groups"][0]
    assert f"{100 * first['predicted_rfs']:.1f} %" in html
    assert "Hazard ratio" in html and "Hormonal therapy" in html
    assert "Limits" in html and "1984-1989" in html
    assert "Age: 21\u201380" in html


def test_the_benefit_model_card_needs_a_signed_in_user():
    response = Client().get(reverse("recommendations:benefit_model"))
    assert response.status_code == 302


def record_that_triggers_rules(patient: Any, by: Any) -> None:
    """Type 2 diabetes, HbA1c 8.5 % ten days ago, a current smoker: several rules fire."""
    recent = timezone.now() - dt.timedelta(days=10)
    factories.record_entry_make(
        "conditions",
        patient=patient,
        by=by,
        code="E11.9",
        display="Type 2 diabetes mellitus",
        onset_date="2019-01-01",
    )
    factories.record_entry_make(
        "observations",
        patient=patient,
        by=by,
        code="4548-4",
        value=8.5,
        unit="%",
        effective_at=recent.isoformat(),
    )
    factories.record_entry_make(
        "lifestyle",
        patient=patient,
        by=by,
        smoking="current",
        pack_years=20,
        assessed_on=recent.date().isoformat(),
    )


def test_the_panel_shows_what_the_rules_worked_out_for_the_record(clinician, patient):
    from recommendations.services import recommendations_refresh

    record_that_triggers_rules(patient, clinician)
    recs = recommendations_refresh(patient=patient)
    assert len(recs) >= 2
    html = patient_page(signed_in(clinician), patient)
    panel = html[html.index('id="recommendations"') :]
    assert "Evaluated at" in panel
    positions = [panel.index(f'id="rec-{rec.public_id}"') for rec in recs]
    assert positions == sorted(positions), "not in rank order"
    assert "HbA1c 8.5 %" in panel
