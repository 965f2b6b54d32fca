"""Benefit of adjuvant hormonal therapy (tamoxifen) for one breast-cancer patient, from the GBSG2
trial cohort: the 5-year recurrence-free survival with and without the therapy, their difference,
and 95% bootstrap intervals.

The model is a Cox proportional-hazards model (scikit-survival, Breslow ties, a small ridge
penalty on standardized terms) of recurrence-free survival on the prognostic factors, hormonal
therapy, and hormonal therapy x {progesterone receptor, estrogen receptor, menopausal status}: the
therapy's effect may differ with those, the rest shifts both arms alike. The artifact holds plain
arrays (skops, trusted defaults only): the fit's coefficients and baseline cumulative hazard, and
the same for `n_boot` refits on bootstrap resamples drawn with a fixed seed. An estimate is a few
vector products over those arrays: deterministic, and well under a millisecond.

Training lives in benefit_training, validation in benefit_validation. Django-free (the
import-linter contract): the web side (recommendations.benefit) reads the patient's record, this
module does the numbers. scikit-survival and skops are imported when first needed, not with it.
"""

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from healthmentor.artifacts import ArtifactIntegrityError, manifest_read_verified
from recommendations.ml.persist import payload_load

NAME = "gbsg2_hormonal"
MODEL_FILE = "model.skops"
FORMAT = 1
DAYS_PER_YEAR = 365.25
HORIZON_DAYS = 5 * DAYS_PER_YEAR  # 1826.25
DEFAULT_SEED = 1984
N_BOOT = 200
ALPHA = 1.0  # ridge on standardized terms: steadies the interaction terms of small resamples
FOLDS = 5
COHORT = "GBSG2 trial, 686 patients"
COHORT_SIZE = 686

# Transformed covariates, in the column order of the design matrix.
COVARIATES = (
    "age",
    "postmenopausal",
    "tumour_size",
    "grade_2",
    "grade_3",
    "log1p_positive_nodes",
    "log1p_progesterone",
    "log1p_estrogen",
)
# Plausible modifiers of the effect of endocrine therapy.
MODIFIERS = ("log1p_progesterone", "log1p_estrogen", "postmenopausal")
TREATMENT = "hormonal_therapy"
TERMS = (*COVARIATES, TREATMENT, *(f"{TREATMENT}:{name}" for name in MODIFIERS))
_MODIFIER_INDEX = [COVARIATES.index(name) for name in MODIFIERS]


class OutsideCohortError(ValueError):
    """A patient the trial cohort does not describe (a value outside its observed range)."""


@dataclass(frozen=True)
class BenefitInputs:
    """One patient's values, in the units of the trial."""

    age: float  # years
    postmenopausal: bool
    tumour_size_mm: float
    grade: int  # histological grade 1..3
    positive_nodes: float  # positive regional lymph nodes
    progesterone_fmol_mg: float  # progesterone receptor, fmol/mg
    estrogen_fmol_mg: float  # estrogen receptor, fmol/mg


# Input name -> (label, unit) for the card and error messages.
INPUT_FIELDS: dict[str, tuple[str, str]] = {
    "age": ("Age", "years"),
    "tumour_size_mm": ("Tumour size", "mm"),
    "grade": ("Histological grade", "1-3"),
    "positive_nodes": ("Positive lymph nodes", "count"),
    "progesterone_fmol_mg": ("Progesterone receptor", "fmol/mg"),
    "estrogen_fmol_mg": ("Estrogen receptor", "fmol/mg"),
}


@dataclass(frozen=True)
class Benefit:
    """Recurrence-free survival at `horizon_days` with and without hormonal therapy, with 95%
    percentile bootstrap intervals."""

    rfs_with: float
    rfs_without: float
    difference: float  # rfs_with - rfs_without
    ci_with: tuple[float, float]
    ci_without: tuple[float, float]
    ci_difference: tuple[float, float]
    horizon_days: float

    @property
    def horizon_years(self) -> float:
        return self.horizon_days / DAYS_PER_YEAR


@dataclass(frozen=True)
class Cohort:
    """GBSG2 as arrays (one entry per patient)."""

    age: np.ndarray
    postmenopausal: np.ndarray
    tumour_size: np.ndarray
    grade: np.ndarray
    positive_nodes: np.ndarray
    progesterone: np.ndarray
    estrogen: np.ndarray
    treated: np.ndarray
    event: np.ndarray  # recurrence or death
    time: np.ndarray  # days

    def __len__(self) -> int:
        return len(self.time)

    def covariates(self) -> np.ndarray:
        return covariate_matrix(
            age=self.age,
            postmenopausal=self.postmenopausal,
            tumour_size=self.tumour_size,
            grade=self.grade,
            positive_nodes=self.positive_nodes,
            progesterone=self.progesterone,
            estrogen=self.estrogen,
        )

    def take(self, index: np.ndarray) -> "Cohort":
        return Cohort(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})

    def ranges(self) -> dict[str, list[float]]:
        """The observed [min, max] of each input: an estimate outside them is refused."""
        columns = {
            "age": self.age,
            "tumour_size_mm": self.tumour_size,
            "grade": self.grade,
            "positive_nodes": self.positive_nodes,
            "progesterone_fmol_mg": self.progesterone,
            "estrogen_fmol_mg": self.estrogen,
        }
        return {name: [float(v.min()), float(v.max())] for name, v in columns.items()}


def gbsg2_cohort() -> Cohort:
    """The 686 patients of GBSG2 as shipped with scikit-survival (no download)."""
    from sksurv.datasets import load_gbsg2

    frame, outcome = load_gbsg2()
    if len(frame) != COHORT_SIZE:
        raise ValueError(f"GBSG2 has {len(frame)} rows, expected {COHORT_SIZE}.")
    grade = frame["tgrade"].astype(str).map({"I": 1, "II": 2, "III": 3})
    if grade.isna().any():
        raise ValueError("GBSG2: unexpected tumour grade values.")
    return Cohort(
        age=frame["age"].to_numpy(float),
        postmenopausal=(frame["menostat"].astype(str) == "Post").to_numpy(float),
        tumour_size=frame["tsize"].to_numpy(float),
        grade=grade.to_numpy(float),
        positive_nodes=frame["pnodes"].to_numpy(float),
        progesterone=frame["progrec"].to_numpy(float),
        estrogen=frame["estrec"].to_numpy(float),
        treated=(frame["horTh"].astype(str) == "yes").to_numpy(float),
        event=np.asarray(outcome["cens"], dtype=bool),
        time=np.asarray(outcome["time"], dtype=float),
    )


def covariate_matrix(
    *,
    age: np.ndarray,
    postmenopausal: np.ndarray,
    tumour_size: np.ndarray,
    grade: np.ndarray,
    positive_nodes: np.ndarray,
    progesterone: np.ndarray,
    estrogen: np.ndarray,
) -> np.ndarray:
    """The COVARIATES columns (untransformed inputs in, one row per patient out)."""
    grade = np.asarray(grade, dtype=float)
    return np.column_stack(
        [
            np.asarray(age, dtype=float),
            np.asarray(postmenopausal, dtype=float),
            np.asarray(tumour_size, dtype=float),
            (grade == 2).astype(float),
            (grade == 3).astype(float),
            np.log1p(np.asarray(positive_nodes, dtype=float)),
            np.log1p(np.asarray(progesterone, dtype=float)),
            np.log1p(np.asarray(estrogen, dtype=float)),
        ]
    )


def design_matrix(standardized: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """TERMS columns: standardized covariates, treatment, treatment x modifiers."""
    treated = np.asarray(treated, dtype=float).reshape(-1, 1)
    return np.hstack([standardized, treated, treated * standardized[:, _MODIFIER_INDEX]])


@dataclass(frozen=True)
class CoxFit:
    coef: np.ndarray  # per TERMS
    baseline_times: np.ndarray  # event times (days)
    baseline_cumhaz: np.ndarray  # Breslow cumulative baseline hazard at those times

    def cumhaz_at(self, days: float) -> float:
        """H0(days): the step function's value (0 before the first event time)."""
        index = int(np.searchsorted(self.baseline_times, days, side="right")) - 1
        return float(self.baseline_cumhaz[index]) if index >= 0 else 0.0

    def survival(self, design: np.ndarray, days: float) -> np.ndarray:
        return np.asarray(np.exp(-self.cumhaz_at(days) * np.exp(design @ self.coef)))


def cox_fit(design: np.ndarray, event: np.ndarray, time_days: np.ndarray, alpha: float) -> CoxFit:
    """Penalized Cox fit (maximizes log partial likelihood - alpha/2 ||coef||^2)."""
    from sklearn.exceptions import ConvergenceWarning
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.util import Surv

    model = CoxPHSurvivalAnalysis(alpha=alpha, ties="breslow", n_iter=100, tol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # an unconverged fit is not used
        model.fit(design, Surv.from_arrays(event=event, time=time_days))
    baseline = model.cum_baseline_hazard_
    return CoxFit(
        coef=np.asarray(model.coef_, dtype=float),
        baseline_times=np.asarray(baseline.x, dtype=float),
        baseline_cumhaz=np.asarray(baseline.y, dtype=float),
    )


@dataclass(frozen=True)
class Standardizer:
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def of(cls, covariates: np.ndarray) -> "Standardizer":
        scale = covariates.std(axis=0)
        return cls(mean=covariates.mean(axis=0), scale=np.where(scale > 0, scale, 1.0))

    def apply(self, covariates: np.ndarray) -> np.ndarray:
        return np.asarray((covariates - self.mean) / self.scale)


def fit_cohort(cohort: Cohort, alpha: float) -> tuple[Standardizer, CoxFit]:
    """Standardize on `cohort` and fit: the model a training (or a fold) produces."""
    covariates = cohort.covariates()
    standardizer = Standardizer.of(covariates)
    design = design_matrix(standardizer.apply(covariates), cohort.treated)
    return standardizer, cox_fit(design, cohort.event, cohort.time, alpha)


# --- the loaded model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BenefitModel:
    """A loaded artifact: the fit, its bootstrap refits and the cohort's input ranges."""

    name: str
    version: str
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    h0_horizon: float
    boot_coef: np.ndarray  # (n_boot, len(TERMS))
    boot_h0_horizon: np.ndarray  # (n_boot,)
    horizon_days: float
    ranges: dict[str, list[float]]
    manifest: dict[str, Any] = field(default_factory=dict)

    def check(self, inputs: BenefitInputs) -> None:
        """OutsideCohortError naming the first value the trial cohort does not cover."""
        for name, (low, high) in self.ranges.items():
            value = float(getattr(inputs, name))
            if not np.isfinite(value) or not low <= value <= high:
                label, unit = INPUT_FIELDS[name]
                raise OutsideCohortError(
                    f"{label} {value:g} {unit} is outside the trial cohort's range "
                    f"{low:g} to {high:g} {unit}."
                )

    def _designs(self, inputs: BenefitInputs) -> tuple[np.ndarray, np.ndarray]:
        covariates = covariate_matrix(
            age=np.array([inputs.age]),
            postmenopausal=np.array([1.0 if inputs.postmenopausal else 0.0]),
            tumour_size=np.array([inputs.tumour_size_mm]),
            grade=np.array([round(inputs.grade)]),
            positive_nodes=np.array([inputs.positive_nodes]),
            progesterone=np.array([inputs.progesterone_fmol_mg]),
            estrogen=np.array([inputs.estrogen_fmol_mg]),
        )
        standardized = (covariates - self.mean) / self.scale
        treated = design_matrix(standardized, np.ones(1))[0]
        untreated = design_matrix(standardized, np.zeros(1))[0]
        return treated, untreated

    def estimate(self, inputs: BenefitInputs) -> Benefit:
        """RFS at the horizon with and without therapy; OutsideCohortError for a patient the
        cohort does not describe."""
        self.check(inputs)
        with_, without = self._designs(inputs)
        rfs_with = float(np.exp(-self.h0_horizon * np.exp(with_ @ self.coef)))
        rfs_without = float(np.exp(-self.h0_horizon * np.exp(without @ self.coef)))
        boot_with = np.exp(-self.boot_h0_horizon * np.exp(self.boot_coef @ with_))
        boot_without = np.exp(-self.boot_h0_horizon * np.exp(self.boot_coef @ without))
        return Benefit(
            rfs_with=rfs_with,
            rfs_without=rfs_without,
            difference=rfs_with - rfs_without,
            ci_with=_interval(boot_with),
            ci_without=_interval(boot_without),
            ci_difference=_interval(boot_with - boot_without),
            horizon_days=self.horizon_days,
        )


def _interval(values: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


# --- loading --------------------------------------------------------------------------------------


def benefit_load(folder: Path) -> BenefitModel:
    """The model in `folder`, after its file matched the manifest's sha256
    (ArtifactIntegrityError otherwise, or when the file names an untrusted type)."""
    manifest = manifest_read_verified(folder, MODEL_FILE)
    payload = payload_load(Path(folder) / MODEL_FILE)
    try:
        if payload["format"] != FORMAT or list(payload["terms"]) != list(TERMS):
            raise ArtifactIntegrityError(f"{folder}: a benefit model of another format.")
        return BenefitModel(
            name=str(payload["name"]),
            version=str(manifest.get("version", "")),
            mean=np.asarray(payload["mean"], dtype=float),
            scale=np.asarray(payload["scale"], dtype=float),
            coef=np.asarray(payload["coef"], dtype=float),
            h0_horizon=float(payload["h0_horizon"]),
            boot_coef=np.asarray(payload["boot_coef"], dtype=float),
            boot_h0_horizon=np.asarray(payload["boot_h0_horizon"], dtype=float),
            horizon_days=float(payload["horizon_days"]),
            ranges={str(k): [float(v[0]), float(v[1])] for k, v in payload["ranges"].items()},
            manifest=manifest,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ArtifactIntegrityError(
            f"{folder}: the benefit model is incomplete ({error})."
        ) from None
