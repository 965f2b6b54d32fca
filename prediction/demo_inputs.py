"""What `seed_risk_demo` assesses a synthetic demo patient with: which disease fits whom, and the
values a demo record cannot give.

A disease is assessed only for the demo patients its intended use covers (`DEMO_FITS`). The
features a record cannot give (typed in at assessment, absent from the record, or older than the
disease's `max_age_days`, which a clinician would be asked again) are taken from ONE real row of
the disease's own training data (prediction.ml.datasets, shipped in installed packages), chosen
to match the patient: the same sex, the nearest age, then the closest values on the features the
record does give, and among the few nearest rows one drawn by a seeded generator. The whole row's
values are used together, so that typed-in values belong to one real person of the cohort rather
than being mixed or invented.
"""

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from patients.demo import BREAST, CARDIOLOGY
from patients.models import Condition, Patient
from prediction.features import FeatureValue
from prediction.ml.datasets import Dataset, dataset_load
from prediction.ml.diseases import DISEASES

NEAREST_ROWS = 5  # a row is drawn among this many nearest, so that alike patients differ


@dataclass(frozen=True)
class DemoSubject:
    """The few facts of a demo record that decide which disease fits it."""

    sex: str
    age: int | None
    teams: frozenset[str]
    conditions: tuple[str, ...]  # codes of the active conditions, upper-case

    def has_condition(self, *prefixes: str) -> bool:
        return any(code.startswith(prefixes) for code in self.conditions)

    @property
    def adult(self) -> bool:
        return self.age is not None and self.age >= 18 and self.sex in ("female", "male")


def demo_subject(*, patient: Patient, today: dt.date) -> DemoSubject:
    """`patient`'s DemoSubject (reads `care_teams` and `conditions`: prefetch them for many)."""
    dob = patient.date_of_birth
    return DemoSubject(
        sex=str(patient.sex),
        age=patient.age_on(today) if isinstance(dob, dt.date) else None,
        teams=frozenset(team.name for team in patient.care_teams.all()),
        conditions=tuple(
            c.code.strip().upper()
            for c in patient.conditions.all()
            if c.status == Condition.Status.ACTIVE
        ),
    )


@dataclass(frozen=True)
class DemoFit:
    """Whom a disease is assessed for on the demo, after its spec's `intended_use`."""

    who: str
    fits: Callable[[DemoSubject], bool]
    # The training label a matching row must have, when the record already tells it.
    label: Callable[[DemoSubject], int] | None = None


DEMO_FITS: dict[str, DemoFit] = {
    # "a woman of Pima heritage aged 21 or over"
    "diabetes": DemoFit(
        "women aged 21 or over",
        lambda s: s.sex == "female" and s.age is not None and s.age >= 21,
    ),
    # "an adult who has had an exercise test": the cardiology ward's patients.
    "heart_disease": DemoFit(
        f"adults of the {CARDIOLOGY}", lambda s: s.adult and CARDIOLOGY in s.teams
    ),
    # "a breast mass ... its fine-needle aspirate": a breast clinic lump. The record already
    # holds the aspirate's diagnosis (C50 when malignant), so the row must have the same one.
    "breast_cancer": DemoFit(
        f"{BREAST} patients with a breast lump (N63) or cancer (C50)",
        lambda s: BREAST in s.teams and s.has_condition("N63", "C50"),
        label=lambda s: int(s.has_condition("C50")),
    ),
    # "an adult admitted with acute myocardial infarction"
    "mi_mortality": DemoFit(
        "adults with an active myocardial infarction (I21, I22)",
        lambda s: s.adult and s.has_condition("I21", "I22"),
    ),
    # "a patient with carotid artery disease" (CT angiography of the plaque)
    "ischemic_stroke": DemoFit(
        "adults with carotid artery stenosis (I65.2)",
        lambda s: s.adult and s.has_condition("I65.2"),
    ),
}


def demo_fits(*, disease: str, subject: DemoSubject) -> bool:
    """Whether the demo assesses `subject` for `disease` (never for a disease without a rule)."""
    fit = DEMO_FITS.get(disease)
    return fit is not None and fit.fits(subject)


def features_to_enter(values: Sequence[FeatureValue]) -> list[str]:
    """The features a clinician would type in: entered ones, and record values missing or
    stale."""
    return [
        fv.spec.name
        for fv in values
        if fv.spec.source.get("type") == "entered" or fv.missing or fv.stale
    ]


@dataclass(frozen=True)
class DemoRow:
    """One real row of a disease's training data: its position in the loader's order."""

    disease: str
    index: int
    values: dict[str, float]

    @property
    def source(self) -> str:
        return f"SIMULATED entry (demo): row {self.index + 1} of {DISEASES[self.disease].dataset}"


class DemoRowPool:
    """The rows of `disease`'s training data whose every feature lies inside its schema's
    range (a demo input must pass the checks a typed one does); loaded on first use."""

    def __init__(self, disease: str) -> None:
        self.disease = disease

    @cached_property
    def _data(self) -> tuple[Dataset, np.ndarray]:
        data = dataset_load(self.disease)
        ok = np.ones(len(data.X), dtype=bool)
        for spec in DISEASES[self.disease].features:
            column = data.X[spec.name].to_numpy()
            ok &= (column >= spec.low) & (column <= spec.high)
            if spec.kind != "numeric":
                ok &= column == np.round(column)
        return data, np.flatnonzero(ok)

    def pick(
        self,
        *,
        subject: DemoSubject,
        wanted: Sequence[str],
        known: Mapping[str, float],
        rng: np.random.Generator,
    ) -> DemoRow:
        """A row for `subject`: same sex and label (where the data and the record have them),
        nearest age, then closest on the `known` record values (in standard deviations); one
        of the NEAREST_ROWS best, drawn with `rng`. Its values of `wanted` are returned."""
        data, rows = self._data
        fit = DEMO_FITS.get(self.disease)
        keep = np.ones(len(rows), dtype=bool)
        if data.sex is not None and subject.sex in ("female", "male"):
            keep &= data.sex[rows] == subject.sex
        if fit is not None and fit.label is not None:
            keep &= data.y[rows] == fit.label(subject)
        if keep.any():  # otherwise any row rather than none
            rows = rows[keep]
        age_gap = np.zeros(len(rows))
        if data.age is not None and subject.age is not None:
            age_gap = np.abs(data.age[rows] - subject.age)
        gap = np.zeros(len(rows))
        for name, value in known.items():
            if name in data.X.columns and name not in ("age", "sex_male"):
                column = data.X[name].to_numpy()
                gap += np.abs(column[rows] - value) / (column.std() or 1.0)
        order = np.lexsort((gap, age_gap))  # by age gap, then by the other values
        index = int(rng.choice(rows[order[:NEAREST_ROWS]]))
        return DemoRow(
            disease=self.disease,
            index=index,
            values={name: float(data.X.at[index, name]) for name in wanted},
        )
