"""Training the benefit model (recommendations.ml.benefit): the fit on GBSG2, bootstrap refits
with a fixed seed, cross-validated validation figures (benefit_validation) and the card, saved as
a skops file of plain arrays plus the manifest.json that names its sha256. The same seed gives
the same bytes, hence the same sha256 and version.
"""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from healthmentor.artifacts import manifest_write
from recommendations.ml.benefit import (
    ALPHA,
    COHORT,
    DEFAULT_SEED,
    FOLDS,
    FORMAT,
    HORIZON_DAYS,
    INPUT_FIELDS,
    MODEL_FILE,
    N_BOOT,
    NAME,
    TERMS,
    TREATMENT,
    Cohort,
    Standardizer,
    cox_fit,
    design_matrix,
    fit_cohort,
    gbsg2_cohort,
)
from recommendations.ml.benefit_validation import benefit_validate
from recommendations.ml.persist import payload_dumps


@dataclass(frozen=True)
class TrainedBenefit:
    version: str
    payload: bytes  # the skops file
    sha256: str
    manifest: dict[str, Any]


def _bootstrap(
    cohort: Cohort, standardizer: Standardizer, alpha: float, n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and H0(horizon) of `n_boot` refits on resamples (same standardization, so
    the coefficients are comparable). A resample whose fit fails is redrawn."""
    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(seed)
    design = design_matrix(standardizer.apply(cohort.covariates()), cohort.treated)
    coefs: list[np.ndarray] = []
    hazards: list[float] = []
    attempts = 0
    while len(coefs) < n_boot:
        attempts += 1
        if attempts > 3 * n_boot:
            raise ValueError("Too many bootstrap refits failed to converge.")
        index = rng.integers(0, len(cohort), len(cohort))
        try:
            fit = cox_fit(design[index], cohort.event[index], cohort.time[index], alpha)
        except (ArithmeticError, ValueError, ConvergenceWarning, np.linalg.LinAlgError):
            continue
        coefs.append(fit.coef)
        hazards.append(fit.cumhaz_at(HORIZON_DAYS))
    return np.array(coefs), np.array(hazards)


def _card(cohort: Cohort, alpha: float, n_boot: int, seed: int) -> dict[str, Any]:
    treated_post = int(cohort.treated[cohort.postmenopausal == 1].sum())
    treated_pre = int(cohort.treated[cohort.postmenopausal == 0].sum())
    n_post = int(cohort.postmenopausal.sum())
    n_pre = len(cohort) - n_post
    return {
        "title": "Benefit of adjuvant hormonal therapy (tamoxifen) on 5-year recurrence-free "
        "survival",
        "intended_use": (
            "Estimated benefit for patients like this one: the 5-year recurrence-free survival "
            "with and without adjuvant hormonal therapy of trial patients with similar age, "
            "menopausal status, tumour size and grade, positive lymph nodes and receptor levels, "
            "to inform a clinician's discussion with the patient. Decision support, not a "
            "prescription; withheld for patients outside the trial's ranges (for example "
            "node-negative disease)."
        ),
        "dataset": {
            "name": "GBSG2 (German Breast Cancer Study Group 2)",
            "patients": len(cohort),
            "events": int(cohort.event.sum()),
            "treated": int(cohort.treated.sum()),
            "outcome": "recurrence-free survival (recurrence or death), days",
            "recruitment": "1984-1989, 41 German institutions",
            "reference": (
                "Schumacher M, Bastert G, Bojar H, Hübner K, Olschewski M, Sauerbrei W, "
                "Schmoor C, Beyerle C, Neumann RLA, Rauschecker HF, for the German Breast "
                "Cancer Study Group. Randomized 2 x 2 trial evaluating hormonal treatment and "
                "the duration of chemotherapy in node-positive breast cancer patients. "
                "J Clin Oncol 1994;12(10):2086-2093."
            ),
            "data_source": (
                "sksurv.datasets.load_gbsg2 (scikit-survival, GPL-3; the data set of R's "
                "TH.data, from Sauerbrei W, Royston P. J R Stat Soc A 1999;162:71-94). "
                "Loaded from the installed package, not copied into this repository."
            ),
        },
        "model": (
            f"Cox proportional hazards (scikit-survival, Breslow ties, ridge alpha={alpha:g} on "
            "standardized terms) with hormonal therapy x progesterone receptor, estrogen "
            "receptor and menopausal status interactions; 95% percentile intervals from "
            f"{n_boot} bootstrap refits (seed {seed})."
        ),
        "limits": [
            "Patients were treated 1984-1989: adjuvant therapy has changed since (5-10 years "
            "of endocrine therapy, aromatase inhibitors, ovarian function suppression, "
            "anthracycline/taxane chemotherapy, HER2-targeted therapy).",
            "Hormonal therapy was tamoxifen for 2 years (3 x 10 mg/day in the protocol): the "
            "estimate says nothing about aromatase inhibitors or longer durations.",
            "Node-positive patients only, all treated with mastectomy and CMF chemotherapy "
            "(3 or 6 cycles): the benefit is that of tamoxifen added to chemotherapy, and "
            "node-negative patients are outside the model.",
            "Hormonal therapy was randomized for only part of the cohort (473 patients "
            "randomized in the 2 x 2 design, by Schumacher et al.); in this data set "
            f"{treated_post} of {n_post} postmenopausal but {treated_pre} of {n_pre} "
            "premenopausal women received it. The comparison is partly observational: adjusted "
            "for the recorded factors only, so unrecorded reasons for treatment may bias it.",
            "The treatment interactions rest on "
            f"{int(cohort.treated.sum())} treated patients and {int(cohort.event.sum())} "
            "events: they are imprecise, as the intervals show.",
            "Receptor levels are ligand-binding assays of that era in fmol/mg protein; today's "
            "immunohistochemistry (% positive cells) does not convert to them.",
            "No HER2, Ki-67, histological type, lymphovascular invasion, comorbidity or "
            "adherence recorded; no race or ethnicity; women from one country.",
            "Proportional hazards assumed; follow-up up to 2,659 days, so the horizon is 5 years.",
            "A patient's menopausal status comes from the record (N95.1 or Z78.0) or, when not "
            "recorded, from age (50 or older counts as postmenopausal).",
        ],
    }


def benefit_train(
    *,
    seed: int = DEFAULT_SEED,
    n_boot: int = N_BOOT,
    alpha: float = ALPHA,
    folds: int = FOLDS,
    progress: Callable[[str], None] | None = None,
) -> TrainedBenefit:
    """Fit on GBSG2, bootstrap, validate by cross-validation; the artifact's bytes depend only
    on (seed, n_boot, alpha) and the library versions."""
    say = progress or (lambda _: None)
    started = time.monotonic()
    cohort = gbsg2_cohort()
    say(f"GBSG2: {len(cohort)} patients, {int(cohort.event.sum())} events; fitting")
    standardizer, fit = fit_cohort(cohort, alpha)
    say(f"bootstrap: {n_boot} refits")
    boot_coef, boot_h0 = _bootstrap(cohort, standardizer, alpha, n_boot, seed)
    say(f"validation: {folds}-fold cross-validation")
    metrics = benefit_validate(cohort, alpha=alpha, folds=folds, seed=seed)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "name": NAME,
        "terms": list(TERMS),
        "mean": standardizer.mean,
        "scale": standardizer.scale,
        "coef": fit.coef,
        "h0_horizon": fit.cumhaz_at(HORIZON_DAYS),
        "baseline_times": fit.baseline_times,
        "baseline_cumhaz": fit.baseline_cumhaz,
        "boot_coef": boot_coef,
        "boot_h0_horizon": boot_h0,
        "horizon_days": HORIZON_DAYS,
        "ranges": cohort.ranges(),
        "seed": seed,
        "alpha": alpha,
    }
    data = payload_dumps(payload)
    sha256 = hashlib.sha256(data).hexdigest()
    version = f"s{seed}-{sha256[:12]}"
    metrics["effects"] = _effects(fit.coef, boot_coef)
    card = _card(cohort, alpha, n_boot, seed)
    # Flat keys, as the model-card page reads them: title, intended_use, dataset, metrics, limits.
    manifest = {
        "name": NAME,
        "version": version,
        "title": card["title"],
        "intended_use": card["intended_use"],
        "dataset": card["dataset"],
        "metrics": metrics,
        "limits": card["limits"],
        "model": card["model"],
        "model_file": MODEL_FILE,
        "sha256": sha256,
        "algorithm": "Cox PH with treatment interactions",
        "cohort_label": COHORT,
        "horizon_days": HORIZON_DAYS,
        "seed": seed,
        "n_bootstrap": n_boot,
        "alpha": alpha,
        "terms": list(TERMS),
        "inputs": {
            name: {"label": label, "unit": unit, "range": cohort.ranges()[name]}
            for name, (label, unit) in INPUT_FIELDS.items()
        },
        "training_seconds": round(time.monotonic() - started, 2),
    }
    return TrainedBenefit(version=version, payload=data, sha256=sha256, manifest=manifest)


def _effects(coef: np.ndarray, boot_coef: np.ndarray) -> dict[str, Any]:
    """Hazard ratios of the treatment terms (per SD of the modifier) with bootstrap intervals."""
    out: dict[str, Any] = {}
    for index, term in enumerate(TERMS):
        if term.startswith(TREATMENT):
            low, high = np.exp(np.percentile(boot_coef[:, index], [2.5, 97.5]))
            out[term] = {
                "hazard_ratio": round(float(np.exp(coef[index])), 4),
                "ci": [round(float(low), 4), round(float(high), 4)],
            }
    return out


def benefit_save(trained: TrainedBenefit, root: Path) -> Path:
    """Write the artifact to root/NAME/<version>/ (model file, then its manifest)."""
    folder = Path(root) / NAME / trained.version
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MODEL_FILE).write_bytes(trained.payload)
    manifest_write(folder, trained.manifest)
    return folder
