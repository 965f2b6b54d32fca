"""Findings as CDS Hooks cards: indicator, summary, markdown detail, suggestions as draft orders."""

import datetime as dt
import re
import uuid

import pytest

from recommendations.cds.cards import finding_card, md, suggestion_uuid
from recommendations.engine.facts import BenefitEstimate
from recommendations.engine.types import (
    Finding,
    Reason,
    Source,
    Suggestion,
    Suppression,
    Urgency,
)
from tests.recommendations.cds_schemas import CARD, schema_errors

CARD_UUID = uuid.UUID("7b1c4f0e-2f5b-4b8e-9a51-0c6f2f0d9a11")


def finding(**changes):
    fields = {
        "rule_id": "t2d-metformin-first-line",
        "title": "Start metformin",
        "action": "Start metformin 500 mg daily with meals.",
        "category": "diabetes",
        "urgency": Urgency.SOON,
        "strength": "strong",
        "evidence": "Grade A",
        "source": Source("ADA Standards of Care in Diabetes—2025", 2025, "9.4"),
        "reasons": (Reason("HbA1c 8.1 % (target < 7 %)", "4548-4", "8.1 %", dt.date(2026, 11, 2)),),
        "suggestions": (
            Suggestion(
                "Start metformin", "medication", "http://www.whocc.no/atc", "A10BA02", "Metformin"
            ),
            Suggestion("Diabetes education", "education"),
        ),
    }
    return Finding(**{**fields, **changes})


def card_of(found):
    card = finding_card(found, card_uuid=CARD_UUID, patient_id="pt-1")
    assert schema_errors(CARD, card) == []
    return card


@pytest.mark.parametrize(
    ("urgency", "indicator"),
    [(Urgency.URGENT, "critical"), (Urgency.SOON, "warning"), (Urgency.ROUTINE, "info")],
)
def test_urgency_sets_the_indicator(urgency, indicator):
    assert card_of(finding(urgency=urgency))["indicator"] == indicator


def test_the_detail_names_the_action_the_values_with_dates_and_the_source():
    detail = card_of(finding())["detail"]
    assert "Start metformin 500 mg daily with meals." in detail
    assert "HbA1c 8.1 % (target \\< 7 %) (on 2026-11-02)" in detail
    assert "ADA Standards of Care in Diabetes—2025 (2025), section 9.4" in detail
    assert "strong (Grade A)" in detail


def test_suppressed_options_and_the_benefit_estimate_are_in_the_detail():
    benefit = BenefitEstimate(
        rfs_with=0.78,
        rfs_without=0.66,
        difference=0.12,
        ci_with=(0.72, 0.83),
        ci_without=(0.59, 0.72),
        ci_difference=(0.05, 0.19),
        horizon_years=5,
        model="gbsg2_hormonal 1",
        cohort="GBSG2 trial, 686 patients",
    )
    card = card_of(
        finding(
            suppressed=(Suppression("Metformin", "eGFR 24 mL/min/1.73 m2 on 2026-11-01"),),
            benefit=benefit,
        )
    )
    assert "**Options left out:**\n\n- Metformin: eGFR 24" in card["detail"]
    assert (
        "Estimated benefit for patients like this one: 5-year recurrence-free survival 78%"
        in (card["detail"])
    )
    assert "GBSG2 trial, 686 patients" in card["detail"]


def test_an_illustrative_finding_says_so():
    card = card_of(finding(illustrative=True, illustrative_note="Synthetic imaging model."))
    assert card["summary"].startswith("Illustrative: ")
    assert "**Illustrative only.** Synthetic imaging model." in card["detail"]


def test_the_summary_stays_under_140_characters():
    assert len(card_of(finding(title="Start metformin " * 20))["summary"]) <= 139


def test_suggestions_are_draft_orders_with_stable_uuids():
    card = card_of(finding())
    assert card["selectionBehavior"] == "any"
    medication, education = (s["actions"][0]["resource"] for s in card["suggestions"])
    assert medication["resourceType"] == "MedicationRequest"
    assert (medication["status"], medication["intent"]) == ("draft", "proposal")
    assert medication["medicationCodeableConcept"]["coding"][0]["code"] == "A10BA02"
    assert education["resourceType"] == "ServiceRequest"
    assert "coding" not in education["code"]  # no code system given: text only
    assert card["suggestions"][0]["uuid"] == str(suggestion_uuid(CARD_UUID, 0))


def test_a_card_without_suggestions_has_no_selection_behavior():
    card = card_of(finding(suggestions=()))
    assert "suggestions" not in card and "selectionBehavior" not in card


def test_text_from_the_ehr_cannot_become_markdown_links_or_html():
    hostile = "Diabetes [click](https://evil.example) <img src=x> ![i](http://x/y.png)\n# Big"
    detail = card_of(finding(reasons=(Reason(hostile),)))["detail"]
    line = next(line for line in detail.splitlines() if "Diabetes" in line)
    assert re.search(r"(?<!\\)[\[\]<>!#]", line) is None  # every bracket, bang, hash escaped
    assert "https://evil" not in detail and "\n# Big" not in detail
    assert md("a_b*c") == "a\\_b\\*c"
