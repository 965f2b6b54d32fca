"""The Pooled Cohort Equations: 10-year risk of a first hard ASCVD event. Django-free.

Goff DC Jr, et al. 2013 ACC/AHA Guideline on the Assessment of Cardiovascular Risk. Circulation
2014;129(suppl 2):S49-S73, Table A (equation parameters) of the Full Work Group Report supplement.
Risk = 1 - S10 ** exp(sum(coefficient * value) - mean), with sex- and race-specific coefficients.

The record does not hold race, so the rules use the white equations, which the guideline itself
recommends for "other" races (with the caveat that they may over- or underestimate risk); the
African American equations are here for completeness and for the worked examples.
"""

import math
from dataclasses import dataclass
from typing import Literal

Race = Literal["white", "african_american"]

# Ranges the equations were derived in (Goff 2013); outside them the estimate is not valid.
AGE_RANGE = (40, 79)
TOTAL_CHOLESTEROL_RANGE = (130.0, 320.0)  # mg/dL
HDL_RANGE = (20.0, 100.0)  # mg/dL
SBP_RANGE = (90.0, 200.0)  # mm Hg


@dataclass(frozen=True)
class _Equation:
    ln_age: float
    ln_age_sq: float
    ln_tc: float
    ln_age_ln_tc: float
    ln_hdl: float
    ln_age_ln_hdl: float
    ln_treated_sbp: float
    ln_age_ln_treated_sbp: float
    ln_untreated_sbp: float
    ln_age_ln_untreated_sbp: float
    smoker: float
    ln_age_smoker: float
    diabetes: float
    baseline_survival: float
    mean: float


_EQUATIONS: dict[tuple[str, Race], _Equation] = {
    ("female", "white"): _Equation(
        -29.799, 4.884, 13.540, -3.114, -13.578, 3.149, 2.019, 0.0, 1.957, 0.0, 7.574, -1.665,
        0.661, 0.9665, -29.18,
    ),
    ("female", "african_american"): _Equation(
        17.114, 0.0, 0.940, 0.0, -18.920, 4.475, 29.291, -6.432, 27.820, -6.087, 0.691, 0.0,
        0.874, 0.9533, 86.61,
    ),
    ("male", "white"): _Equation(
        12.344, 0.0, 11.853, -2.664, -7.990, 1.769, 1.797, 0.0, 1.764, 0.0, 7.837, -1.795,
        0.658, 0.9144, 61.18,
    ),
    ("male", "african_american"): _Equation(
        2.469, 0.0, 0.302, 0.0, -0.307, 0.0, 1.916, 0.0, 1.809, 0.0, 0.549, 0.0,
        0.645, 0.8954, 19.54,
    ),
}  # fmt: skip


def _within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def ascvd_10y(
    *,
    age: int,
    sex: str,
    total_cholesterol: float,
    hdl: float,
    systolic_bp: float,
    on_bp_treatment: bool,
    smoker: bool,
    diabetes: bool,
    race: Race = "white",
) -> float | None:
    """The 10-year risk (0-1) of a first hard ASCVD event, or None where the equations do not
    apply: sex other than female/male, or a value outside the range they were derived in
    (age 40-79, total cholesterol 130-320 mg/dL, HDL 20-100 mg/dL, SBP 90-200 mm Hg)."""
    equation = _EQUATIONS.get((sex, race))
    if equation is None:
        return None
    if not (
        _within(age, AGE_RANGE)
        and _within(total_cholesterol, TOTAL_CHOLESTEROL_RANGE)
        and _within(hdl, HDL_RANGE)
        and _within(systolic_bp, SBP_RANGE)
    ):
        return None
    ln_age = math.log(age)
    ln_tc = math.log(total_cholesterol)
    ln_hdl = math.log(hdl)
    ln_sbp = math.log(systolic_bp)
    e = equation
    total = (
        e.ln_age * ln_age
        + e.ln_age_sq * ln_age * ln_age
        + e.ln_tc * ln_tc
        + e.ln_age_ln_tc * ln_age * ln_tc
        + e.ln_hdl * ln_hdl
        + e.ln_age_ln_hdl * ln_age * ln_hdl
    )
    if on_bp_treatment:
        total += e.ln_treated_sbp * ln_sbp + e.ln_age_ln_treated_sbp * ln_age * ln_sbp
    else:
        total += e.ln_untreated_sbp * ln_sbp + e.ln_age_ln_untreated_sbp * ln_age * ln_sbp
    if smoker:
        total += e.smoker + e.ln_age_smoker * ln_age
    if diabetes:
        total += e.diabetes
    return 1.0 - e.baseline_survival ** math.exp(total - e.mean)
