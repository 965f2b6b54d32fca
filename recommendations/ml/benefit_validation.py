"""Honest validation of the benefit model: every figure is measured on patients the fit did not
see (k-fold cross-validation, stratified by event, each fold standardized and fitted on its own
training part). The score of a patient is the out-of-fold predicted 5-year risk (1 - RFS) under
the treatment she actually had, which is what the observed outcome can be compared with.

Reported: Harrell's and Uno's C-index (Uno's truncated at 5 years), time-dependent AUC at 1, 3
and 5 years (cumulative cases / dynamic controls), and calibration at 5 years: predicted RFS
against Kaplan-Meier observed RFS per quintile of predicted risk, the calibration slope (Cox
regression of the outcome on the complementary log-log of the predicted risk; 1 is ideal) and
the mean absolute difference over the quintiles. The apparent C-index (fit and score on all
patients) is given beside them to show the optimism.
"""

from typing import Any

import numpy as np

from recommendations.ml.benefit import (
    DAYS_PER_YEAR,
    HORIZON_DAYS,
    Cohort,
    cox_fit,
    design_matrix,
    fit_cohort,
)

AUC_YEARS = (1, 3, 5)
GROUPS = 5


def _km_at(event: np.ndarray, time_days: np.ndarray, days: float) -> tuple[float, float, float]:
    """Kaplan-Meier survival at `days` with its 95% log-log interval."""
    from sksurv.nonparametric import kaplan_meier_estimator

    times, survival, interval = kaplan_meier_estimator(event, time_days, conf_type="log-log")
    index = int(np.searchsorted(times, days, side="right")) - 1
    if index < 0:
        return 1.0, 1.0, 1.0
    return float(survival[index]), float(interval[0][index]), float(interval[1][index])


def out_of_fold_rfs(cohort: Cohort, *, alpha: float, folds: int, seed: int) -> np.ndarray:
    """Each patient's predicted RFS at the horizon from the fold model that did not see her."""
    from sklearn.model_selection import StratifiedKFold

    rfs = np.empty(len(cohort))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(cohort)), cohort.event):
        standardizer, fit = fit_cohort(cohort.take(train), alpha)
        held_out = cohort.take(test)
        design = design_matrix(standardizer.apply(held_out.covariates()), held_out.treated)
        rfs[test] = fit.survival(design, HORIZON_DAYS)
    return rfs


def _r(value: Any, digits: int = 4) -> float:
    return round(float(value), digits)


def benefit_validate(cohort: Cohort, *, alpha: float, folds: int, seed: int) -> dict[str, Any]:
    """The validation figures for the manifest (plain JSON types)."""
    from sksurv.metrics import (
        concordance_index_censored,
        concordance_index_ipcw,
        cumulative_dynamic_auc,
    )
    from sksurv.util import Surv

    outcome = Surv.from_arrays(event=cohort.event, time=cohort.time)
    rfs = out_of_fold_rfs(cohort, alpha=alpha, folds=folds, seed=seed)
    risk = 1.0 - rfs
    harrell = concordance_index_censored(cohort.event, cohort.time, risk)[0]
    uno = concordance_index_ipcw(outcome, outcome, risk, tau=HORIZON_DAYS)[0]
    times = np.array([years * DAYS_PER_YEAR for years in AUC_YEARS])
    auc, mean_auc = cumulative_dynamic_auc(outcome, outcome, risk, times)

    standardizer, fit = fit_cohort(cohort, alpha)
    design = design_matrix(standardizer.apply(cohort.covariates()), cohort.treated)
    apparent = concordance_index_censored(cohort.event, cohort.time, design @ fit.coef)[0]

    groups: list[dict[str, Any]] = []
    differences: list[float] = []
    order = np.argsort(risk, kind="stable")
    for number, members in enumerate(np.array_split(order, GROUPS), start=1):
        observed, low, high = _km_at(cohort.event[members], cohort.time[members], HORIZON_DAYS)
        differences.append(abs(float(rfs[members].mean()) - observed))
        groups.append(
            {
                "group": number,
                "n": len(members),
                "events": int(cohort.event[members].sum()),
                "predicted_rfs": _r(rfs[members].mean()),
                "observed_rfs": _r(observed),
                "observed_ci": [_r(low), _r(high)],
            }
        )
    cloglog = np.log(-np.log(np.clip(rfs, 1e-9, 1 - 1e-9))).reshape(-1, 1)
    slope_fit = cox_fit(cloglog, cohort.event, cohort.time, 0.0)
    overall, overall_low, overall_high = _km_at(cohort.event, cohort.time, HORIZON_DAYS)
    return {
        "n_patients": len(cohort),
        "n_events": int(cohort.event.sum()),
        "n_events_by_horizon": int((cohort.event & (cohort.time <= HORIZON_DAYS)).sum()),
        "n_treated": int(cohort.treated.sum()),
        "validation": (
            f"{folds}-fold cross-validation stratified by event (seed {seed}); pooled "
            "out-of-fold predicted 5-year risk under the treatment received"
        ),
        "c_index_harrell": _r(harrell),
        "c_index_uno": _r(uno),
        "c_index_uno_tau_days": HORIZON_DAYS,
        "c_index_apparent": _r(apparent),
        "time_dependent_auc": {
            f"{years}y": _r(value) for years, value in zip(AUC_YEARS, auc, strict=True)
        },
        "time_dependent_auc_mean": _r(mean_auc),
        "calibration_5y": {
            "groups": groups,
            "slope": _r(slope_fit.coef[0]),
            "mean_absolute_difference": _r(sum(differences) / len(differences)),
            "predicted_rfs_mean": _r(rfs.mean()),
            "observed_rfs_km": _r(overall),
            "observed_rfs_km_ci": [_r(overall_low), _r(overall_high)],
        },
    }
