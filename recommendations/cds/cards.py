"""A Finding as a CDS Hooks 2.0 card.

The card says what the rule recommends (`summary`, under 140 characters), and in its markdown
`detail` why (this patient's values with their dates), which options were left out and why, the
estimated treatment benefit for patients like this one when the benefit model speaks for the
patient, the strength of evidence and the guideline; an illustrative finding says so. Suggestions
become draft orders (MedicationRequest / ServiceRequest, intent "proposal") the clinician may
accept. Cards link to nothing outside the EHR.

Text that came from the EHR (condition or drug names a rule quotes) is escaped before it goes into
markdown, so a name cannot turn into a link, an image or HTML in the clinician's view.
"""

import datetime as dt
import re
import uuid
from typing import Any

from recommendations.engine.facts import BenefitEstimate
from recommendations.engine.types import Finding, Suggestion, Urgency
from recommendations.models import DeclineReason

SERVICE_ID = "health-mentor-recommendations"
SUMMARY_MAX = 139
OVERRIDE_REASON_SYSTEM = "urn:healthmentor:recommendations:decline-reason"
TOPIC_SYSTEM = "urn:healthmentor:recommendations:category"
SUGGESTION_NAMESPACE = uuid.UUID("5d0a8f36-43c1-4c1e-9d3f-1f0f6a3c2b71")

INDICATORS: dict[Urgency, str] = {
    Urgency.URGENT: "critical",
    Urgency.SOON: "warning",
    Urgency.ROUTINE: "info",
}
CATEGORY_TITLES: dict[str, str] = {
    "diabetes": "Diabetes",
    "blood_pressure": "Blood pressure",
    "lipids": "Lipids and cardiovascular risk",
    "smoking": "Smoking cessation",
    "anticoagulation": "Anticoagulation",
    "lifestyle": "Weight and activity",
    "breast": "Breast findings",
    "imaging": "Imaging follow-up",
}
_EDUCATION = {"system": "http://snomed.info/sct", "code": "409073007", "display": "Education"}

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#!])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def plain(text: str) -> str:
    """One line of text: control characters and line breaks become a single space."""
    return _CONTROL.sub(" ", text).strip()


def md(text: str) -> str:
    """`text` as literal markdown: no emphasis, link, image, HTML or table can come out of it,
    and a bare URL is not turned into a link."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", plain(text)).replace("://", ":\\/\\/")


def _summary(finding: Finding) -> str:
    text = plain(finding.title)
    if finding.illustrative:
        text = f"Illustrative: {text}"
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def benefit_sentence(benefit: BenefitEstimate) -> str:
    """ "Estimated benefit for patients like this one: …" in one paragraph."""
    low, high = benefit.ci_difference
    return (
        f"Estimated benefit for patients like this one: {benefit.horizon_years:g}-year "
        f"recurrence-free survival {_percent(benefit.rfs_with)} with hormonal therapy "
        f"(95% CI {_percent(benefit.ci_with[0])} to {_percent(benefit.ci_with[1])}) against "
        f"{_percent(benefit.rfs_without)} without "
        f"(95% CI {_percent(benefit.ci_without[0])} to {_percent(benefit.ci_without[1])}), "
        f"a difference of {benefit.difference * 100:+.0f} points "
        f"(95% CI {low * 100:+.0f} to {high * 100:+.0f}). Model {benefit.model}, trained on "
        f"{benefit.cohort}."
    )


def _day(at: dt.date | None, text: str) -> str:
    """ " (on 2026-10-02)" unless the reason's text already gives the date."""
    return f" (on {at.isoformat()})" if at and at.isoformat() not in text else ""


def card_detail(finding: Finding) -> str:
    """The card's markdown: action, reasons, left-out options, benefit, evidence, source."""
    parts = [f"**Recommendation.** {md(finding.action)}"]
    reasons = []
    for reason in finding.reasons:
        value = f": {md(reason.value)}" if reason.value and reason.value not in reason.text else ""
        reasons.append(f"- {md(reason.text)}{value}{_day(reason.at, reason.text)}")
    if reasons:
        parts.append("**Why, for this patient:**\n\n" + "\n".join(reasons))
    if finding.suppressed:
        parts.append(
            "**Options left out:**\n\n"
            + "\n".join(f"- {md(s.option)}: {md(s.reason)}" for s in finding.suppressed)
        )
    if finding.benefit is not None:
        parts.append(md(benefit_sentence(finding.benefit)))
    parts.append(
        f"**Evidence:** {md(finding.strength)} ({md(finding.evidence)}). "
        f"**Source:** {md(finding.source.label())}."
    )
    if finding.illustrative:
        note = finding.illustrative_note or "Based on a demonstration model, not a clinical one."
        parts.append(f"**Illustrative only.** {md(note)}")
    parts.append(f"Rule `{finding.rule_id}`.")
    return "\n\n".join(parts)


def _concept(suggestion: Suggestion) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": plain(suggestion.display or suggestion.label)}
    if suggestion.system and suggestion.code:
        coding = {"system": suggestion.system, "code": suggestion.code}
        if suggestion.display:
            coding["display"] = plain(suggestion.display)
        concept["coding"] = [coding]
    return concept


def _draft_order(suggestion: Suggestion, patient_id: str) -> dict[str, Any]:
    """The FHIR resource a suggestion proposes: a draft order the clinician signs or not."""
    common: dict[str, Any] = {
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    if suggestion.kind == "medication":
        return {
            "resourceType": "MedicationRequest",
            **common,
            "medicationCodeableConcept": _concept(suggestion),
        }
    resource = {"resourceType": "ServiceRequest", **common, "code": _concept(suggestion)}
    if suggestion.kind == "education":
        resource["category"] = [{"coding": [_EDUCATION]}]
    return resource


def suggestion_uuid(card_uuid: uuid.UUID, index: int) -> uuid.UUID:
    """A suggestion's uuid, derived from its card's: feedback can name it without a table."""
    return uuid.uuid5(SUGGESTION_NAMESPACE, f"{card_uuid}:{index}")


def override_reasons() -> list[dict[str, str]]:
    return [
        {"system": OVERRIDE_REASON_SYSTEM, "code": str(value), "display": str(label)}
        for value, label in DeclineReason.choices
    ]


def finding_card(finding: Finding, *, card_uuid: uuid.UUID, patient_id: str) -> dict[str, Any]:
    """The CDS Hooks card of one finding (optional members with no value are left out, as the
    specification asks)."""
    source: dict[str, Any] = {
        "label": plain(finding.source.label()),
        "topic": {
            "system": TOPIC_SYSTEM,
            "code": finding.category,
            "display": CATEGORY_TITLES.get(finding.category, finding.category.title()),
        },
    }
    if finding.source.url:
        source["url"] = finding.source.url
    card: dict[str, Any] = {
        "uuid": str(card_uuid),
        "summary": _summary(finding),
        "detail": card_detail(finding),
        "indicator": INDICATORS.get(finding.urgency, "info"),
        "source": source,
    }
    suggestions = [
        {
            "label": plain(s.label),
            "uuid": str(suggestion_uuid(card_uuid, index)),
            "actions": [
                {
                    "type": "create",
                    "description": plain(s.label),
                    "resource": _draft_order(s, patient_id),
                }
            ],
        }
        for index, s in enumerate(finding.suggestions)
        if plain(s.label)
    ]
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    card["overrideReasons"] = override_reasons()
    return card
