"""What a demo patient's record holds, drawn before anything is written: observations around the
dataset row's values, and the history, lifestyle, family history and genetic markers that none of
the datasets hold, from rough adult-population frequencies."""

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from patients.catalog import COMMON_CONDITIONS

# LOINC codes of patients.catalog
SYSTOLIC, DIASTOLIC, BMI, SKINFOLD = "8480-6", "8462-4", "39156-5", "39106-0"
GLUCOSE, CHOLESTEROL = "2345-7", "2093-3"
_UNITS = {SYSTOLIC: "mm[Hg]", DIASTOLIC: "mm[Hg]", BMI: "kg/m2", SKINFOLD: "mm"}
_UNITS |= {GLUCOSE: "mg/dL", CHOLESTEROL: "mg/dL"}
_CONDITIONS = {c.code: c.display for c in COMMON_CONDITIONS}
_CONDITIONS["N63.0"] = "Unspecified lump in breast"

# Rough adult frequencies (US/European surveys): most adults never smoked, about one in four
# is a former smoker, one in seven a current one.
SMOKING_SHARES = {"never": 0.58, "former": 0.27, "current": 0.15}
_DIETS = ("balanced", "mediterranean", "vegetarian", "high_salt", "high_sugar", "other")
_DIET_SHARES = (0.35, 0.15, 0.08, 0.17, 0.2, 0.05)
# (substance, code, reaction, severity, share of patients): self-reported allergy frequencies.
_ALLERGIES = (
    ("Penicillin", "Z88.0", "Urticarial rash", "moderate", 0.08),
    ("Sulfonamide antibiotics", "Z88.2", "Maculopapular rash", "mild", 0.03),
    ("Codeine", "Z88.5", "Nausea and vomiting", "mild", 0.02),
    ("Aspirin / NSAIDs", "Z88.6", "Bronchospasm", "severe", 0.02),
    ("Shellfish", "Z91.013", "Angioedema", "severe", 0.02),
    ("Latex", "Z91.040", "Contact dermatitis", "mild", 0.01),
    ("Peanut", "Z91.010", "Anaphylaxis", "severe", 0.01),
)
_BRCA_VARIANTS = (
    ("BRCA1", "c.68_69del (p.Glu23ValfsTer17)"),
    ("BRCA1", "c.5266dup (p.Gln1756ProfsTer74)"),
    ("BRCA2", "c.5946del (p.Ser1982ArgfsTer22)"),
)


@dataclass(frozen=True)
class ObservationPlan:
    code: str
    value: float
    unit: str
    effective_at: dt.datetime


@dataclass
class PatientPlan:
    """Everything seed_demo writes for one patient, before anything is written."""

    mrn: str
    given_name: str
    family_name: str
    date_of_birth: dt.date
    sex: str
    phone: str
    email: str
    address: str
    profile: str  # "diabetes", "cardio" or "breast": which dataset row the patient is built on
    teams: list[str]
    observations: list[ObservationPlan] = field(default_factory=list)
    conditions: list[dict[str, Any]] = field(default_factory=list)
    medications: list[dict[str, Any]] = field(default_factory=list)
    allergies: list[dict[str, Any]] = field(default_factory=list)
    lifestyle: list[dict[str, Any]] = field(default_factory=list)
    family_history: list[dict[str, Any]] = field(default_factory=list)
    genetic_markers: list[dict[str, Any]] = field(default_factory=list)


def _day_between(rng: np.random.Generator, start: dt.date, end: dt.date) -> dt.date:
    if end <= start:
        return end
    return start + dt.timedelta(days=int(rng.integers(0, (end - start).days + 1)))


def plan_observations(
    plan: PatientPlan, rng: np.random.Generator, anchor: dict[str, float], visits: list[dt.datetime]
) -> None:
    for n, at in enumerate(visits):
        years_ago = (visits[0] - at).days / 365.25
        if n == 0:
            values = dict(anchor)
        else:
            # Earlier readings scatter around the row's values with typical within-person spread.
            dia = float(np.clip(anchor[DIASTOLIC] + rng.normal(0, 5), 40, 130))
            values = {
                DIASTOLIC: round(dia),
                SYSTOLIC: round(max(anchor[SYSTOLIC] + rng.normal(0, 8), dia + 25)),
                BMI: round(float(np.clip(anchor[BMI] + rng.normal(0, 0.6) * years_ago, 15, 70)), 1),
            }
            if rng.random() < 0.5:
                values[GLUCOSE] = round(
                    float(np.clip(anchor[GLUCOSE] * rng.lognormal(0, 0.12), 50, 400))
                )
            if rng.random() < 0.35:
                values[CHOLESTEROL] = round(anchor[CHOLESTEROL] * float(rng.lognormal(0, 0.07)))
            if rng.random() < 0.2:
                values[SKINFOLD] = round(
                    float(np.clip(anchor[SKINFOLD] + rng.normal(0, 2), 3, 100))
                )
        for code, value in values.items():
            plan.observations.append(ObservationPlan(code, float(value), _UNITS[code], at))


def _condition(code: str, onset: dt.date, **extra: Any) -> dict[str, Any]:
    return {"code": code, "display": _CONDITIONS[code], "onset_date": onset, **extra}


def plan_history(
    plan: PatientPlan,
    rng: np.random.Generator,
    anchor: dict[str, float],
    *,
    diabetic: bool,
    malignant: bool,
    today: dt.date,
    age: int,
) -> None:
    adult = plan.date_of_birth + dt.timedelta(days=int(18 * 365.25))

    def onset(max_years: float) -> dt.date:
        back = float(rng.uniform(0.3, max(0.5, min(max_years, age - 20))))
        return max(adult, today - dt.timedelta(days=int(back * 365.25)))

    def started(after: dt.date) -> dt.date:
        return min(today, after + dt.timedelta(days=int(rng.integers(0, 60))))

    if diabetic:
        day = onset(12)
        plan.conditions.append(_condition("E11", day))
        dose = 1000 if anchor[GLUCOSE] >= 160 else 500
        plan.medications.append(_drug("Metformin", "A10BA02", dose, "twice daily", started(day)))
    if anchor[SYSTOLIC] >= 140 or anchor[DIASTOLIC] >= 90:  # 140/90: the usual office threshold
        day = onset(15)
        plan.conditions.append(_condition("I10", day))
        first = started(day)
        if rng.random() < 0.2:  # a calcium-channel blocker tried first, then stopped
            stop = min(today, first + dt.timedelta(days=int(rng.integers(60, 300))))
            plan.medications.append(
                _drug("Amlodipine", "C08CA01", 5, "once daily", first, end=stop)
            )
            first = stop
        name, code, dose = [("Ramipril", "C09AA05", 5), ("Lisinopril", "C09AA03", 10)][
            int(rng.integers(2))
        ]
        plan.medications.append(_drug(name, code, dose, "once daily", first))
    if anchor[CHOLESTEROL] >= 240:  # "high" total cholesterol (NCEP ATP III)
        day = onset(10)
        plan.conditions.append(_condition("E78.5", day))
        plan.medications.append(_drug("Atorvastatin", "C10AA05", 20, "once at night", started(day)))
    if anchor[BMI] >= 30:
        plan.conditions.append(_condition("E66.9", onset(10)))
    if plan.profile == "breast":
        lump = _day_between(rng, today - dt.timedelta(days=400), today - dt.timedelta(days=30))
        plan.conditions.append(_condition("N63.0", lump))
        if malignant:
            diagnosed = min(today, lump + dt.timedelta(days=int(rng.integers(7, 30))))
            plan.conditions.append(_condition("C50.919", diagnosed))
    for substance, code, reaction, severity, share in _ALLERGIES:
        if rng.random() < share:
            plan.allergies.append(
                {
                    "substance": substance,
                    "code": code,
                    "reaction": reaction,
                    "severity": severity,
                    "noted_on": _day_between(rng, adult, today),
                }
            )


def _drug(
    name: str, code: str, dose: float, frequency: str, start: dt.date, end: dt.date | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "code": code,
        "dose": dose,
        "dose_unit": "mg",
        "frequency": frequency,
        "route": "oral",
        "start_date": start,
        "end_date": end,
        "status": "stopped" if end else "active",
    }


def plan_lifestyle(
    plan: PatientPlan, rng: np.random.Generator, *, today: dt.date, age: int
) -> None:
    smoking = str(rng.choice(list(SMOKING_SHARES), p=list(SMOKING_SHARES.values())))
    pack_years = None
    if smoking != "never":
        pack_years = round(float(np.clip(rng.gamma(2.0, 8.0), 0.5, max(1.0, (age - 15) * 1.5))), 1)
    alcohol = (
        0.0
        if rng.random() < 0.3
        else round(float(np.clip(rng.lognormal(np.log(6), 0.8), 0, 80)), 1)
    )
    activity = 0 if rng.random() < 0.15 else int(np.clip(rng.normal(150, 90), 0, 900))
    diet = str(rng.choice(_DIETS, p=_DIET_SHARES))
    latest = today - dt.timedelta(days=int(rng.integers(0, 120)))
    plan.lifestyle.append(
        {
            "assessed_on": latest,
            "smoking": smoking,
            "pack_years": pack_years,
            "alcohol_units_per_week": alcohol,
            "activity_minutes_per_week": activity,
            "diet": diet,
        }
    )
    if rng.random() < 0.6:  # an earlier assessment, a year before
        earlier = dict(plan.lifestyle[0], assessed_on=latest - dt.timedelta(days=365))
        if smoking == "former" and rng.random() < 0.3:
            earlier["smoking"] = "current"  # quit since
        if pack_years is not None and earlier["smoking"] == "current":
            earlier["pack_years"] = round(max(0.5, pack_years - 1), 1)
        plan.lifestyle.append(earlier)


def plan_family(plan: PatientPlan, rng: np.random.Generator, *, pedigree: float) -> None:
    relations = ("mother", "father", "sister", "brother")
    # Pima's diabetes pedigree function scores diabetic relatives: more of them, closer, higher.
    if rng.random() < min(0.9, pedigree / 1.2):
        plan.family_history.append(_relative(rng, relations, "E11", _CONDITIONS["E11"], (35, 70)))
    if rng.random() < 0.15:  # premature coronary disease in a first-degree relative
        plan.family_history.append(
            _relative(rng, ("father", "brother"), "I21.9", _CONDITIONS["I21.9"], (42, 55))
        )
    if rng.random() < 0.3:
        plan.family_history.append(_relative(rng, relations, "I10", _CONDITIONS["I10"], (40, 70)))
    if rng.random() < (0.3 if plan.profile == "breast" else 0.05):
        plan.family_history.append(
            _relative(
                rng, ("mother", "sister", "aunt_uncle"), "C50.919", _CONDITIONS["C50.919"], (35, 75)
            )
        )


def _relative(
    rng: np.random.Generator,
    relations: tuple[str, ...],
    code: str,
    display: str,
    ages: tuple[int, int],
) -> dict[str, Any]:
    return {
        "relation": str(rng.choice(relations)),
        "condition_code": code,
        "condition_display": display,
        "onset_age": int(rng.integers(ages[0], ages[1] + 1)),
    }


def plan_genetics(
    plan: PatientPlan,
    rng: np.random.Generator,
    *,
    cholesterol: float,
    today: dt.date,
    brca_carrier: bool,
) -> None:
    adult = plan.date_of_birth + dt.timedelta(days=int(18 * 365.25))
    tested_on = _day_between(rng, max(adult, today - dt.timedelta(days=1500)), today)
    if brca_carrier:
        gene, variant = _BRCA_VARIANTS[int(rng.integers(len(_BRCA_VARIANTS)))]
        plan.genetic_markers.append(_marker(gene, variant, "heterozygous", "pathogenic", tested_on))
        plan.family_history.append(
            _relative(rng, ("mother", "sister"), "C50.919", _CONDITIONS["C50.919"], (32, 55))
        )
    if cholesterol >= 300 and rng.random() < 0.4:  # familial hypercholesterolaemia found on testing
        plan.genetic_markers.append(
            _marker("LDLR", "c.681C>G (p.Asp227Glu)", "heterozygous", "pathogenic", tested_on)
        )
    if plan.profile == "cardio" and rng.random() < 0.15:  # an APOE e4 carrier found on testing
        # e4 is a risk allele (ClinVar: "risk factor"), a class the interpretation choices lack.
        zygosity = "homozygous" if rng.random() < 0.08 else "heterozygous"
        plan.genetic_markers.append(
            _marker("APOE", "c.388T>C (p.Cys130Arg), e4 allele", zygosity, "uncertain", tested_on)
        )


def _marker(
    gene: str, variant: str, zygosity: str, interpretation: str, tested_on: dt.date
) -> dict[str, Any]:
    return {
        "gene": gene,
        "variant": variant,
        "zygosity": zygosity,
        "interpretation": interpretation,
        "tested_on": tested_on,
    }


# Pathology of a breast cancer (LOINC, patients.catalog): what the treatment-benefit model reads.
TUMOUR_SIZE, NODES, ER, PR, GRADE = "21889-1", "21893-3", "14130-9", "14230-7", "21858-6"


@lru_cache(maxsize=1)
def _gbsg2() -> list[dict[str, float]]:
    """The GBSG2 trial's tumours (686 patients; sksurv.datasets.load_gbsg2), as plain rows."""
    from sksurv.datasets import load_gbsg2

    frame, _ = load_gbsg2()
    grades = {"I": 1.0, "II": 2.0, "III": 3.0}
    return [
        {
            "age": float(row.age),
            TUMOUR_SIZE: float(row.tsize),
            NODES: float(row.pnodes),
            ER: float(row.estrec),
            PR: float(row.progrec),
            GRADE: grades[str(row.tgrade)],
        }
        for row in frame.itertuples()
    ]


def plan_tumour(plan: PatientPlan, rng: np.random.Generator, *, age: int, at: dt.datetime) -> None:
    """A malignant breast patient's tumour pathology: a real GBSG2 tumour of a woman of about
    her age (the trial's patients were 21-80)."""
    rows = _gbsg2()
    near = [row for row in rows if abs(row["age"] - age) <= 5] or rows
    row = near[int(rng.integers(len(near)))]
    units = {TUMOUR_SIZE: "mm", NODES: "{#}", ER: "fmol/mg", PR: "fmol/mg", GRADE: "{grade}"}
    for code, unit in units.items():
        plan.observations.append(ObservationPlan(code, row[code], unit, at))
