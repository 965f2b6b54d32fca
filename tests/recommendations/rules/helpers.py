"""Builders of PatientFacts for rule tests: a patient in a few keyword arguments."""

import dataclasses
import datetime as dt
from typing import Any

from recommendations.engine.facts import (
    AllergyFact,
    ConditionFact,
    ImagingFact,
    MedicationFact,
    ObservationFact,
    PatientFacts,
    RiskFact,
)
from recommendations.engine.types import Finding

TODAY = dt.date(2026, 12, 1)
RECENT = TODAY - dt.timedelta(days=20)

# LOINC codes the rules use (patients.catalog)
SBP, DBP = "8480-6", "8462-4"
HBA1C, GLUCOSE = "4548-4", "2345-7"
TOTAL_CHOL, HDL, LDL = "2093-3", "2085-9", "13457-7"
EGFR, CREATININE, POTASSIUM = "33914-3", "2160-0", "2823-3"
BMI, WEIGHT, HEIGHT, WAIST = "39156-5", "29463-7", "8302-2", "8280-0"
ESTROGEN_RECEPTOR, PROGESTERONE_RECEPTOR = "14130-9", "14230-7"

_UNITS = {
    SBP: "mm[Hg]",
    DBP: "mm[Hg]",
    HBA1C: "%",
    GLUCOSE: "mg/dL",
    TOTAL_CHOL: "mg/dL",
    HDL: "mg/dL",
    LDL: "mg/dL",
    EGFR: "mL/min/{1.73_m2}",
    CREATININE: "mg/dL",
    POTASSIUM: "mmol/L",
    BMI: "kg/m2",
    WEIGHT: "kg",
    HEIGHT: "cm",
    WAIST: "cm",
    ESTROGEN_RECEPTOR: "fmol/mg",
    PROGESTERONE_RECEPTOR: "fmol/mg",
}


def obs(code: str, value: float, at: dt.date = RECENT, unit: str | None = None) -> ObservationFact:
    return ObservationFact(code, code, float(value), unit or _UNITS.get(code, ""), at)


def facts(
    *,
    age: int | None = 55,
    sex: str = "male",
    values: dict[str, float] | None = None,
    conditions: tuple[str, ...] = (),
    medications: tuple[tuple[str, str], ...] = (),  # (name, ATC)
    allergies: tuple[tuple[str, str], ...] = (),  # (substance, ATC)
    risks: dict[str, float] | None = None,  # disease -> probability (band from 0.2 / 0.5)
    imaging: tuple[ImagingFact, ...] = (),
    **extra: Any,
) -> PatientFacts:
    """A patient on TODAY with recent observations `values` {LOINC: value in canonical unit}."""
    risk_facts = {
        disease: RiskFact(
            disease,
            disease,
            p,
            "high" if p >= 0.5 else "moderate" if p >= 0.2 else "low",
            RECENT,
            f"{disease} test",
        )
        for disease, p in (risks or {}).items()
    }
    return PatientFacts(
        today=TODAY,
        age=age,
        sex=sex,
        observations={code: obs(code, v) for code, v in (values or {}).items()},
        conditions=tuple(ConditionFact(code, code, None) for code in conditions),
        medications=tuple(MedicationFact(name, atc) for name, atc in medications),
        allergies=tuple(AllergyFact(name, atc) for name, atc in allergies),
        risks=risk_facts,
        imaging=imaging,
        **extra,
    )


def study(
    predicted_class: str = "nodule",
    abnormal: float = 0.9,
    modality: str = "CT",
    area_mm2: float | None = 40.0,
    at: dt.date = RECENT,
) -> ImagingFact:
    probabilities = {"normal": 1 - abnormal, predicted_class: abnormal}
    return ImagingFact(
        "00000000-0000-0000-0000-000000000001",
        modality,
        "CHEST",
        predicted_class,
        abnormal,
        probabilities,
        area_mm2,
        at,
        "demo-cnn 1",
    )


# --- for the cardiometabolic rule tests ----------------------------------------------------------

FASTING_GLUCOSE, LDL_MEASURED, TRIGLYCERIDES = "1558-6", "2089-1", "2571-8"
ALT, CRP = "1742-6", "1988-5"
_UNITS.update(
    {
        FASTING_GLUCOSE: "mg/dL",
        LDL_MEASURED: "mg/dL",
        TRIGLYCERIDES: "mg/dL",
        ALT: "U/L",
        CRP: "mg/L",
    }
)


def with_obs(patient: PatientFacts, *observations: ObservationFact) -> PatientFacts:
    """`patient` with `observations` added (replacing the same codes), e.g. older or dated ones."""
    return dataclasses.replace(
        patient, observations={**patient.observations, **{o.code: o for o in observations}}
    )


def reasons_text(finding: Finding) -> str:
    """Every reason of `finding` in one string, to assert on values and dates."""
    return " | ".join(reason.text for reason in finding.reasons)


def suppressed_text(finding: Finding) -> str:
    return " | ".join(f"{s.option}: {s.reason}" for s in finding.suppressed)


def evaluate_rule(rule_id: str, patient: PatientFacts) -> Finding | None:
    """The registered rule `rule_id` applied to `patient` (alone, no ranking or dedupe)."""
    from recommendations.engine import RULES, rules_all

    rules_all()  # imports the rule modules, which register their rules
    return RULES[rule_id].evaluate(patient)
