"""First-line antihypertensive classes (2017 ACC/AHA BP guideline, section 8.1.6: thiazide-type
diuretics, calcium channel blockers, ACE inhibitors, ARBs) and their contraindications for a
patient (Table 18 and section 8.1.6). Registers no rule; blood_pressure uses it."""

from dataclasses import dataclass

from recommendations.engine.facts import PatientFacts
from recommendations.engine.rules.cardiometabolic import (
    LAB_MAX_AGE,
    POTASSIUM,
    PREGNANCY,
    allergy_suppression,
    day,
    drug,
    value_text,
)
from recommendations.engine.types import Suggestion, Suppression

ANGIOEDEMA = ("T78.3",)
GOUT = ("M10",)
HYPERKALAEMIA = 5.5  # mmol/L


@dataclass(frozen=True)
class DrugClass:
    name: str
    atc: tuple[str, ...]  # ATC prefixes of the class, fixed-dose combinations included
    names: tuple[str, ...]  # name fragments, for medications and allergies recorded without ATC
    suggestion: Suggestion

    def taken_by(self, facts: PatientFacts) -> bool:
        return facts.medication(*self.atc, names=self.names) is not None


THIAZIDE = DrugClass(
    "Thiazide-type diuretic",
    ("C03A", "C03B", "C03EA", "C09BA", "C09DA"),
    ("thiazide", "chlorthalidone", "indapamide"),
    drug("Chlorthalidone 12.5 mg", "C03BA04"),
)
CCB = DrugClass(
    "Dihydropyridine calcium channel blocker",
    ("C08C", "C09BB", "C09DB"),
    ("dipine", "calcium channel blocker"),
    drug("Amlodipine 5 mg", "C08CA01"),
)
ACE_INHIBITOR = DrugClass(
    "ACE inhibitor",
    ("C09A", "C09B"),
    ("pril", "ace inhibitor"),
    drug("Lisinopril 10 mg", "C09AA03"),
)
ARB = DrugClass(
    "Angiotensin receptor blocker",
    ("C09C", "C09D"),
    ("sartan", "angiotensin receptor", "angiotensin ii receptor"),
    drug("Losartan 50 mg", "C09CA01"),
)
FIRST_LINE = (THIAZIDE, CCB, ACE_INHIBITOR, ARB)


def class_suppressions(facts: PatientFacts, cls: DrugClass) -> list[Suppression]:
    out: list[Suppression] = []
    allergy = allergy_suppression(facts, cls.name, *cls.atc, names=cls.names)
    if allergy is not None:
        out.append(allergy)
    if cls in (ACE_INHIBITOR, ARB):
        pregnant = facts.condition(*PREGNANCY)
        if pregnant is not None:
            out.append(
                Suppression(
                    cls.name, f"pregnancy recorded ({pregnant.code}): fetotoxic, contraindicated"
                )
            )
        angioedema = facts.condition(*ANGIOEDEMA)
        if angioedema is not None:
            out.append(Suppression(cls.name, f"history of angioedema ({angioedema.code})"))
        potassium = facts.obs(POTASSIUM, LAB_MAX_AGE)
        if potassium is not None and potassium.value > HYPERKALAEMIA:
            out.append(
                Suppression(
                    cls.name,
                    f"potassium {value_text(potassium)} on {day(potassium.at)}: hyperkalaemia "
                    f"(> {HYPERKALAEMIA})",
                )
            )
    if cls is THIAZIDE:
        gout = facts.condition(*GOUT)
        if gout is not None:
            out.append(
                Suppression(
                    cls.name,
                    f"gout recorded ({gout.code}): thiazides can precipitate gout (caution: "
                    "only with urate-lowering therapy)",
                )
            )
    return out


def drug_options(
    facts: PatientFacts, skip: tuple[DrugClass, ...] = ()
) -> tuple[tuple[Suggestion, ...], tuple[Suppression, ...]]:
    """First-line classes (thiazide, CCB, ACE inhibitor, ARB; section 8.1.6) the patient may
    start, and those suppressed with the reason. Classes in `skip` are not offered."""
    suggestions: list[Suggestion] = []
    suppressed: list[Suppression] = []
    for cls in FIRST_LINE:
        if cls in skip:
            continue
        off = class_suppressions(facts, cls)
        if off:
            suppressed.extend(off)
        else:
            suggestions.append(cls.suggestion)
    return tuple(suggestions), tuple(suppressed)
