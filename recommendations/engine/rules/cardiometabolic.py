"""What the cardiometabolic rules (diabetes, blood pressure, lipids, smoking, lifestyle) share:
code sets, how a patient value reads in a reason, and the 10-year ASCVD risk from the Pooled
Cohort Equations with the values it came from. Registers no rule itself."""

import datetime as dt
from dataclasses import dataclass

from recommendations.engine import pce
from recommendations.engine.facts import (
    ConditionFact,
    MedicationFact,
    ObservationFact,
    PatientFacts,
)
from recommendations.engine.types import Reason, Suggestion, Suppression

ATC_SYSTEM = "http://www.whocc.no/atc"

# How old a value may be and still count (days): labs about a year, blood pressure six months.
LAB_MAX_AGE = 365
BP_MAX_AGE = 183

# LOINC
SBP, DBP = "8480-6", "8462-4"
HBA1C, GLUCOSE, FASTING_GLUCOSE = "4548-4", "2345-7", "1558-6"
TOTAL_CHOLESTEROL, HDL, LDL_CALCULATED, LDL_MEASURED = "2093-3", "2085-9", "13457-7", "2089-1"
TRIGLYCERIDES, CRP = "2571-8", "1988-5"
EGFR, POTASSIUM, ALT = "33914-3", "2823-3", "1742-6"
BMI, WEIGHT, HEIGHT = "39156-5", "29463-7", "8302-2"

# ICD-10 prefixes
TYPE_1_DIABETES = ("E10",)
TYPE_2_DIABETES = ("E11",)
DIABETES = ("E08", "E09", "E10", "E11", "E13")
# Clinical ASCVD (2018 AHA/ACC cholesterol guideline): coronary heart disease, ischaemic stroke,
# TIA, atherosclerotic peripheral arterial disease (I70; I73.9 as peripheral vascular disease is
# usually coded).
ASCVD = ("I20", "I21", "I22", "I23", "I24", "I25", "I63", "G45", "I70", "I73.9")
HEART_FAILURE = ("I50",)
CKD = ("N18",)
PREGNANCY = ("O09", "Z33")

# ATC prefixes
ANTIHYPERTENSIVES = ("C02", "C03", "C07", "C08", "C09")
# Name fragments of antihypertensives recorded without an ATC code.
ANTIHYPERTENSIVE_NAMES = (
    "pril",
    "sartan",
    "dipine",
    "thiazide",
    "chlorthalidone",
    "indapamide",
    "lol",
    "verapamil",
    "diltiazem",
    "spironolactone",
    "eplerenone",
    "amiloride",
    "furosemide",
    "torsemide",
    "bumetanide",
    "hydralazine",
    "clonidine",
    "doxazosin",
    "methyldopa",
    "minoxidil",
)
STATINS = ("C10AA", "C10B")
STATIN_NAMES = (
    "atorvastatin",
    "rosuvastatin",
    "simvastatin",
    "pravastatin",
    "lovastatin",
    "fluvastatin",
    "pitavastatin",
)

_UNIT_LABELS = {
    "mm[Hg]": "mmHg",
    "kg/m2": "kg/m²",
    "mL/min/{1.73_m2}": "mL/min/1.73 m²",
}


def day(date: dt.date | None) -> str:
    return date.isoformat() if date else "an unrecorded date"


def number(value: float) -> str:
    """8.14 -> "8.1", 213.0 -> "213"."""
    return f"{round(value, 1):g}"


def value_text(fact: ObservationFact) -> str:
    return f"{number(fact.value)} {_UNIT_LABELS.get(fact.unit, fact.unit)}".strip()


def obs_reason(fact: ObservationFact, name: str, note: str = "") -> Reason:
    """A reason that reads like "HbA1c 8.1 % on 2026-11-11 (goal < 7 %)"."""
    value = value_text(fact)
    text = f"{name} {value} on {day(fact.at)}" + (f" ({note})" if note else "")
    return Reason(text=text, code=fact.code, value=value, at=fact.at)


def condition_reason(fact: ConditionFact, name: str, note: str = "") -> Reason:
    """A reason that reads like "Type 2 diabetes recorded (E11.9, since 2020-03-01)"."""
    since = f", since {fact.onset.isoformat()}" if fact.onset else ""
    text = f"{name} recorded ({fact.code}{since})" + (f"; {note}" if note else "")
    return Reason(text=text, code=fact.code, value=fact.code, at=fact.onset)


def medication_reason(fact: MedicationFact, text: str) -> Reason:
    return Reason(text=text, code=fact.code, value=fact.name, at=fact.since)


def drug(label: str, atc: str, display: str = "") -> Suggestion:
    return Suggestion(
        label=label, kind="medication", system=ATC_SYSTEM, code=atc, display=display or label
    )


def allergy_suppression(
    facts: PatientFacts, option: str, *atc: str, names: tuple[str, ...] = ()
) -> Suppression | None:
    allergy = facts.allergy(*atc, names=names)
    if allergy is None:
        return None
    return Suppression(option, f"recorded allergy to {allergy.substance} ({allergy.severity})")


def pregnancy_suppression(facts: PatientFacts, option: str, why: str) -> Suppression | None:
    pregnant = facts.condition(*PREGNANCY)
    if pregnant is None:
        return None
    return Suppression(option, f"pregnancy recorded ({pregnant.code}): {why}")


def ascvd_reasons(facts: PatientFacts) -> list[Reason]:
    return [
        condition_reason(c, "Clinical ASCVD")
        for c in facts.conditions
        if c.code.upper().startswith(ASCVD)
    ]


def ckd_reasons(facts: PatientFacts) -> list[Reason]:
    """Chronic kidney disease: a recorded N18 diagnosis or an eGFR below 60 in the past year."""
    reasons: list[Reason] = []
    condition = facts.condition(*CKD)
    if condition is not None:
        reasons.append(condition_reason(condition, "Chronic kidney disease"))
    egfr = facts.obs(EGFR, LAB_MAX_AGE)
    if egfr is not None and egfr.value < 60:
        reasons.append(obs_reason(egfr, "eGFR", "below 60: chronic kidney disease range"))
    return reasons


def on_antihypertensive(facts: PatientFacts) -> MedicationFact | None:
    return next((m for m in facts.medications if is_antihypertensive(m)), None)


def is_antihypertensive(medication: MedicationFact) -> bool:
    if medication.code:
        return medication.code.upper().startswith(ANTIHYPERTENSIVES)
    name = medication.name.lower()
    return any(fragment in name for fragment in ANTIHYPERTENSIVE_NAMES)


def on_statin(facts: PatientFacts) -> MedicationFact | None:
    return facts.medication(*STATINS, names=STATIN_NAMES)


def ldl(facts: PatientFacts) -> ObservationFact | None:
    """The newer of calculated and measured LDL cholesterol from the past year."""
    found = [f for f in (facts.obs(c, LAB_MAX_AGE) for c in (LDL_CALCULATED, LDL_MEASURED)) if f]
    return max(found, key=lambda f: f.at) if found else None


@dataclass(frozen=True)
class AscvdRisk:
    """A 10-year ASCVD risk from the Pooled Cohort Equations and the values it was computed from."""

    risk: float
    reasons: tuple[Reason, ...]

    @property
    def percent(self) -> str:
        return f"{self.risk * 100:.1f} %"


PCE_CODE = "pce-ascvd-10y"


def ascvd_risk(facts: PatientFacts) -> AscvdRisk | None:
    """The patient's 10-year ASCVD risk, or None when a value is missing, stale, or outside the
    equations' range (age 40-79 among them), or with clinical ASCVD (the equations estimate a
    first event). Race is not recorded: the white equations are used, as the guideline advises
    for other races, and the reason says so."""
    if facts.age is None or ascvd_reasons(facts):
        return None
    tc = facts.obs(TOTAL_CHOLESTEROL, LAB_MAX_AGE)
    hdl = facts.obs(HDL, LAB_MAX_AGE)
    sbp = facts.obs(SBP, BP_MAX_AGE)
    if tc is None or hdl is None or sbp is None:
        return None
    treated = on_antihypertensive(facts) is not None
    smoker = facts.smoking == "current"
    diabetes = facts.condition(*DIABETES)
    risk = pce.ascvd_10y(
        age=facts.age,
        sex=facts.sex,
        total_cholesterol=tc.value,
        hdl=hdl.value,
        systolic_bp=sbp.value,
        on_bp_treatment=treated,
        smoker=smoker,
        diabetes=diabetes is not None,
    )
    if risk is None:
        return None
    inputs = (
        f"age {facts.age}, {facts.sex}, total cholesterol {value_text(tc)} and HDL "
        f"{value_text(hdl)} on {day(tc.at)}, systolic BP {value_text(sbp)} on {day(sbp.at)} "
        f"({'treated' if treated else 'untreated'}), {'smoker' if smoker else 'non-smoker'}, "
        f"{'diabetes' if diabetes else 'no diabetes'}"
    )
    summary = Reason(
        text=(
            f"10-year ASCVD risk {risk * 100:.1f} % by the Pooled Cohort Equations ({inputs}); "
            "race is not recorded, so the white/other equations were used"
        ),
        code=PCE_CODE,
        value=f"{risk * 100:.1f} %",
        at=max(tc.at, hdl.at, sbp.at),
    )
    return AscvdRisk(risk, (summary,))
