"""A rule and what it returns. Django-free.

A Rule is one recommendation: `evaluate(facts)` returns a Finding when it applies, else None.
A Finding says what to do (`action`), why (`reasons`: the patient's values, with dates), how
strong the evidence is, and where it comes from (`source`). An option the rule would have offered
but that is contraindicated for this patient is listed in `suppressed` with the reason, never
dropped silently.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal

from recommendations.engine.facts import BenefitEstimate, PatientFacts

Strength = Literal["strong", "moderate", "weak"]
STRENGTH_ORDER: dict[str, int] = {"strong": 3, "moderate": 2, "weak": 1}


class Urgency(IntEnum):
    ROUTINE = 1  # at the next routine visit
    SOON = 2  # within weeks
    URGENT = 3  # now / within days


@dataclass(frozen=True)
class Source:
    guideline: str  # e.g. "2017 ACC/AHA Guideline for High Blood Pressure in Adults"
    year: int
    section: str  # e.g. "8.1.2"
    url: str = ""

    def label(self) -> str:
        return f"{self.guideline} ({self.year}), section {self.section}"


@dataclass(frozen=True)
class Reason:
    """One patient value behind a finding: "HbA1c 8.1 % on 2026-10-02"."""

    text: str  # a sentence a clinician reads, e.g. "HbA1c 8.1 % (target < 7 %)"
    code: str = ""  # LOINC / ICD-10 / ATC / risk model key it came from
    value: str = ""  # "8.1 %"
    at: dt.date | None = None


@dataclass(frozen=True)
class Suppression:
    option: str  # e.g. "Metformin"
    reason: str  # e.g. "eGFR 24 mL/min/1.73 m2 on 2026-11-01 (contraindicated below 30)"


@dataclass(frozen=True)
class Suggestion:
    """A concrete action a CDS client may offer as a one-click suggestion (an order)."""

    label: str
    kind: Literal["medication", "referral", "order", "education"] = "medication"
    system: str = ""  # "http://www.whocc.no/atc" or "http://snomed.info/sct" or ""
    code: str = ""
    display: str = ""


@dataclass(frozen=True)
class Finding:
    rule_id: str
    title: str  # short: "Start metformin"
    action: str  # the recommendation, one or two sentences
    # diabetes, blood_pressure, lipids, smoking, anticoagulation, lifestyle, breast, imaging
    category: str
    urgency: Urgency
    strength: Strength
    evidence: str  # e.g. "Class I, level A" / "Grade A"
    source: Source
    reasons: tuple[Reason, ...]
    suppressed: tuple[Suppression, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    # Findings sharing a dedupe_key say the same thing (two rules recommending a statin): only the
    # highest ranked is kept and the others' reasons are merged into it.
    dedupe_key: str = ""
    # Shown with a warning: based on a demo/synthetic model (imaging follow-up today).
    illustrative: bool = False
    illustrative_note: str = ""
    benefit: BenefitEstimate | None = None
    details: dict[str, Any] = field(
        default_factory=dict
    )  # computed scores, e.g. {"ascvd_10y": 0.12}

    @property
    def key(self) -> str:
        return self.dedupe_key or self.rule_id


@dataclass(frozen=True)
class Rule:
    id: str  # stable, e.g. "t2d-metformin-first-line"; stored with every recommendation
    title: str
    category: str
    source: Source
    description: str  # when it applies, in a sentence (shown in the rule catalogue)
    evaluate: Callable[[PatientFacts], Finding | None]
