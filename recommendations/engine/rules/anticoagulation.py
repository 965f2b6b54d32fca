"""Stroke prevention in atrial fibrillation by CHA2DS2-VASc (2023 ACC/AHA/ACCP/HRS guideline).

Section 6.3.1: anticoagulation is recommended at an annual thromboembolic risk >= 2 %/year
(CHA2DS2-VASc >= 2 in men, >= 3 in women; Class 1, LOE A) and reasonable at 1-2 %/year (1 in
men, 2 in women; Class 2a, LOE A); DOACs are recommended over warfarin except with moderate to
severe mitral stenosis or a mechanical heart valve (Class 1, LOE A). Female sex is a risk modifier,
so the thresholds are the same once the sex point is left out, which is how they are applied here.
"""

from dataclasses import dataclass

from recommendations.engine import register
from recommendations.engine.facts import AllergyFact, PatientFacts
from recommendations.engine.scores import cha2ds2_vasc
from recommendations.engine.types import (
    Finding,
    Reason,
    Rule,
    Source,
    Suggestion,
    Suppression,
    Urgency,
)

EGFR = "33914-3"
ATC_SYSTEM = "http://www.whocc.no/atc"
ORAL_ANTICOAGULANTS = ("B01AA", "B01AE", "B01AF")
OAC_NAMES = (
    "warfarin",
    "phenprocoumon",
    "acenocoumarol",
    "dabigatran",
    "apixaban",
    "rivaroxaban",
    "edoxaban",
)
# Moderate to severe mitral stenosis (ICD-10 does not grade it: a coded stenosis counts).
MECHANICAL_VALVE = ("Z95.2",)
MITRAL_STENOSIS = ("I05.0", "I05.2", "I34.2")
DIALYSIS = ("Z99.2", "N18.6")
ACTIVE_BLEEDING = ("K92.0", "K92.1", "K92.2", "I60", "I61", "I62", "D68", "R58")

SOURCE = Source(
    guideline=(
        "2023 ACC/AHA/ACCP/HRS Guideline for the Diagnosis and Management of Atrial Fibrillation "
        "(Joglar et al., Circulation 2024;149:e1-e156)"
    ),
    year=2023,
    section="6.3.1 Antithrombotic Therapy",
    url="https://doi.org/10.1161/CIR.0000000000001193",
)


@dataclass(frozen=True)
class Anticoagulant:
    name: str
    atc: str
    doac: bool
    renally_cleared: bool  # not recommended in end-stage kidney disease (eGFR < 15 or dialysis)


# DOACs first (preferred), warfarin last.
OPTIONS = (
    Anticoagulant("Apixaban", "B01AF02", doac=True, renally_cleared=False),
    Anticoagulant("Rivaroxaban", "B01AF01", doac=True, renally_cleared=True),
    Anticoagulant("Edoxaban", "B01AF03", doac=True, renally_cleared=True),
    Anticoagulant("Dabigatran", "B01AE07", doac=True, renally_cleared=True),
    Anticoagulant("Warfarin", "B01AA03", doac=False, renally_cleared=False),
)


def _dated(at: object) -> str:
    return f" on {at}" if at else ""


def allergy_to(facts: PatientFacts, option: Anticoagulant) -> AllergyFact | None:
    """A recorded allergy to the drug (ATC or name) or to its whole class (an ATC group code)."""
    direct = facts.allergy(option.atc, names=(option.name,))
    if direct is not None:
        return direct
    for allergy in facts.allergies:
        # A class-level code (e.g. "B01AF", factor Xa inhibitors) covers every drug in it.
        if len(allergy.code) >= 5 and option.atc.upper().startswith(allergy.code.upper()):
            return allergy
    return None


def _suppressions(facts: PatientFacts, option: Anticoagulant) -> list[str]:
    """Why `option` is contraindicated for this patient (empty when it is not)."""
    why: list[str] = []
    bleeding = facts.condition(*ACTIVE_BLEEDING)
    if bleeding is not None:
        why.append(
            f"active bleeding or coagulation defect: {bleeding.display} ({bleeding.code})"
            f"{_dated(bleeding.onset)}; no anticoagulant until it is addressed"
        )
    valve = facts.condition(*MECHANICAL_VALVE, *MITRAL_STENOSIS)
    if option.doac and valve is not None:
        why.append(
            f"{valve.display} ({valve.code}){_dated(valve.onset)}: DOACs are not recommended "
            "with a mechanical heart valve or moderate to severe mitral stenosis; warfarin is used"
        )
    if option.renally_cleared:
        dialysis = facts.condition(*DIALYSIS)
        egfr = facts.obs(EGFR)
        if dialysis is not None:
            why.append(
                f"end-stage kidney disease / dialysis ({dialysis.code}){_dated(dialysis.onset)}: "
                "not recommended (no evidence); apixaban or warfarin may be used"
            )
        elif egfr is not None and egfr.value < 15:
            why.append(
                f"eGFR {egfr.value:g} mL/min/1.73 m2 on {egfr.at} (< 15): not recommended in "
                "end-stage kidney disease; apixaban or warfarin may be used"
            )
    allergy = allergy_to(facts, option)
    if allergy is not None:
        why.append(f"recorded allergy to {allergy.substance} ({allergy.severity})")
    return why


def af_anticoagulation(facts: PatientFacts) -> Finding | None:
    af = facts.condition("I48")
    if af is None:
        return None
    if facts.medication(*ORAL_ANTICOAGULANTS, names=OAC_NAMES) is not None:
        return None
    score, components = cha2ds2_vasc(facts)
    # The thresholds (>= 2 men / >= 3 women; 1 men / 2 women) are the score without the sex point.
    risk_points = sum(points for letter, points, _ in components if letter != "Sc")
    if risk_points >= 2:
        recommended = True
    elif risk_points == 1:
        recommended = False
    else:
        # 0 (or a lower bound of 0 with age unknown): no anticoagulation recommendation.
        return None

    suppressed: list[Suppression] = []
    available: list[Anticoagulant] = []
    for option in OPTIONS:
        why = _suppressions(facts, option)
        if why:
            suppressed.append(Suppression(option=option.name, reason="; ".join(why)))
        else:
            available.append(option)

    reasons = [
        Reason(
            text=f"Atrial fibrillation: {af.display} ({af.code})",
            code=af.code,
            value=af.code,
            at=af.onset,
        ),
        Reason(
            text=f"CHA2DS2-VASc {score} (sex {facts.sex}); no oral anticoagulant recorded",
            code="CHA2DS2-VASc",
            value=str(score),
            at=facts.today,
        ),
        *(reason for _, _, reason in components),
    ]
    if facts.age is None:
        reasons.append(Reason(text="Age not recorded: the score is a lower bound", at=facts.today))
    egfr = facts.obs(EGFR)
    if egfr is not None:
        reasons.append(
            Reason(
                text=f"eGFR {egfr.value:g} mL/min/1.73 m2 (for DOAC choice and dose)",
                code=EGFR,
                value=f"{egfr.value:g} mL/min/1.73 m2",
                at=egfr.at,
            )
        )

    threshold = "3 or more in women, 2 or more in men" if recommended else "2 in women, 1 in men"
    if not available:
        action = (
            f"CHA2DS2-VASc {score} ({threshold}) would call for oral anticoagulation, but every "
            "option is contraindicated for this patient (see suppressed): refer to cardiology / "
            "haematology to weigh stroke prevention (e.g. left atrial appendage occlusion)."
        )
        suggestions: tuple[Suggestion, ...] = (
            Suggestion(label="Refer to cardiology for stroke prevention in AF", kind="referral"),
        )
    else:
        names = ", ".join(option.name.lower() for option in available)
        preferred = available[0]
        doac_note = (
            "a DOAC is preferred over warfarin"
            if preferred.doac
            else "warfarin (INR-guided) is the option here"
        )
        verb = "Start" if recommended else "Consider (shared decision)"
        action = (
            f"{verb} oral anticoagulation: CHA2DS2-VASc {score} ({threshold}); {doac_note}. "
            f"Options: {names}."
        )
        suggestions = tuple(
            Suggestion(
                label=f"Start {option.name.lower()}",
                kind="medication",
                system=ATC_SYSTEM,
                code=option.atc,
                display=option.name.lower(),
            )
            for option in available
        )
    if facts.obs(EGFR, max_age_days=365) is None and available:
        action += " Check renal function (eGFR) to choose and dose the anticoagulant."

    return Finding(
        rule_id="af-anticoagulation",
        title=(
            f"Oral anticoagulation for AF (CHA2DS2-VASc {score})"
            if recommended
            else f"Consider oral anticoagulation for AF (CHA2DS2-VASc {score})"
        ),
        action=action,
        category="anticoagulation",
        urgency=Urgency.SOON if recommended else Urgency.ROUTINE,
        strength="strong" if recommended else "moderate",
        evidence="Class 1, LOE A" if recommended else "Class 2a, LOE A",
        source=SOURCE,
        reasons=tuple(reasons),
        suppressed=tuple(suppressed),
        suggestions=suggestions,
        dedupe_key="anticoagulation",
        details={
            "cha2ds2_vasc": score,
            "components": {letter: points for letter, points, _ in components},
            "class": "1" if recommended else "2a",
        },
    )


register(
    Rule(
        id="af-anticoagulation",
        title="Oral anticoagulation in atrial fibrillation by CHA2DS2-VASc",
        category="anticoagulation",
        source=SOURCE,
        description=(
            "Atrial fibrillation without an oral anticoagulant: CHA2DS2-VASc >= 2 (men) / >= 3 "
            "(women) recommends anticoagulation, DOAC preferred; 1 / 2 makes it reasonable. "
            "Checks mechanical valve / mitral stenosis, end-stage kidney disease, active bleeding "
            "and allergies."
        ),
        evaluate=af_anticoagulation,
    )
)
