"""Train, compare, calibrate and document one disease model on its real dataset.

For disease `key`: logistic regression, decision tree, gradient boosting and random forest are
compared by 5-fold stratified cross-validation repeated 3 times (fixed seed; the same folds for
every algorithm and for the single-feature baselines). The one-standard-error rule picks the
simplest algorithm whose mean AUROC is within one standard error of the best: simpler models
explain themselves better, and smaller differences are noise. The winner is refitted on all rows
and calibrated with one Platt sigmoid fitted on its out-of-fold scores. Every metric of the
manifest is out-of-fold: each repeat's scores are calibrated with a sigmoid fitted on the other
folds of that repeat, so no row is calibrated on itself. The manifest's "curves" (ROC points,
calibration bins, confusion counts at the operating threshold) come from the same out-of-fold
probabilities. Everything is deterministic for a given seed: the same metrics, curves, model
bytes, sha256 and version.
"""

import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from healthmentor.artifacts import ArtifactIntegrityError, manifest_read_verified, manifest_write
from prediction.ml import metrics as m
from prediction.ml.datasets import Dataset, dataset_load
from prediction.ml.diseases import DISEASES
from prediction.ml.manifest import manifest_build
from prediction.ml.model import MODEL_FILE, PAYLOAD_FORMAT, estimator_score
from prediction.ml.persist import model_dumps

DEFAULT_SEED = 20240601
N_SPLITS, N_REPEATS = 5, 3
N_BOOTSTRAP = 1000
CALIBRATION_BINS = 10
MIN_SUBGROUP_EVENTS = 10
TRAINING_FORMAT = 2  # 2: the manifest records "curves"
ROC_POINTS = 60

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Candidate:
    """An algorithm tried. `complexity` orders ties (lower = simpler); `score` says which output
    the calibration maps: "decision" (log-odds) or "proba"."""

    name: str
    short: str
    label: str
    complexity: int
    score: str
    build: Callable[[int], Any]


CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in (
        Candidate(
            "logistic_regression",
            "lr",
            "Logistic regression (standardised inputs, L2 penalty, C=1)",
            1,
            "decision",
            lambda seed: Pipeline(
                [("scale", StandardScaler()), ("model", LogisticRegression(max_iter=5000))]
            ),
        ),
        Candidate(
            "decision_tree",
            "dt",
            "Decision tree (depth <= 4, >= 10 patients per leaf)",
            2,
            "proba",
            lambda seed: DecisionTreeClassifier(
                max_depth=4, min_samples_leaf=10, random_state=seed
            ),
        ),
        Candidate(
            "gradient_boosting",
            "gb",
            "Gradient boosting (50 trees of depth 2, learning rate 0.1, subsample 0.8)",
            3,
            "decision",
            lambda seed: GradientBoostingClassifier(
                n_estimators=50, max_depth=2, learning_rate=0.1, subsample=0.8, random_state=seed
            ),
        ),
        Candidate(
            "random_forest",
            "rf",
            "Random forest (60 trees, >= 3 patients per leaf)",
            4,
            "proba",
            lambda seed: RandomForestClassifier(
                n_estimators=60, min_samples_leaf=3, random_state=seed, n_jobs=1
            ),
        ),
    )
}


@dataclass(frozen=True)
class TrainedModel:
    """A trained, calibrated model: its skops bytes and the manifest that describes them."""

    key: str
    version: str
    algorithm: str
    manifest: dict[str, Any]
    model_bytes: bytes
    seconds: float

    @property
    def sha256(self) -> str:
        return str(self.manifest["sha256"])


def _cross_validate(
    build: Callable[[int], Any],
    score: str,
    seed: int,
    X: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Out-of-fold scores (repeats x n). Sequential on purpose: these fits are dominated by
    scikit-learn's per-tree Python overhead, so threads gain nothing and processes cost more to
    start than they save."""
    oof = np.empty((N_REPEATS, len(y)))
    for i, (train, test) in enumerate(folds):
        estimator = build(seed).fit(X[train], y[train])
        oof[i // N_SPLITS, test] = estimator_score(estimator, X[test], score)
    return oof


def _single_feature_oof(x: np.ndarray, y: np.ndarray, folds: list) -> np.ndarray:
    """Out-of-fold log-odds of an unpenalised logistic regression on one standardised feature."""
    oof = np.empty((N_REPEATS, len(y)))
    for i, (train, test) in enumerate(folds):
        mean, sd = x[train].mean(), x[train].std() or 1.0
        slope, intercept = m.logistic_fit((x[train] - mean) / sd, y[train].astype(float))
        oof[i // N_SPLITS, test] = slope * (x[test] - mean) / sd + intercept
    return oof


def _fold_summary(scores: np.ndarray, y: np.ndarray, folds: list, score: str) -> dict[str, float]:
    """Mean and SD over the folds of AUROC, and mean Brier and AUPRC (uncalibrated)."""
    aurocs, briers, auprcs = [], [], []
    for i, (_, test) in enumerate(folds):
        s = scores[i // N_SPLITS, test]
        prob = expit(s) if score == "decision" else s
        aurocs.append(m.auroc(s, y[test]))
        briers.append(float(np.mean((prob - y[test]) ** 2)))
        auprcs.append(m.average_precision(s, y[test]))
    return {
        "auroc_mean": float(np.mean(aurocs)),
        "auroc_sd": float(np.std(aurocs, ddof=1)),
        "brier_mean": float(np.mean(briers)),
        "auprc_mean": float(np.mean(auprcs)),
    }


def _cross_calibrated(scores: np.ndarray, y: np.ndarray, folds: list) -> np.ndarray:
    """Out-of-fold probabilities: each fold's scores mapped by a Platt sigmoid fitted on the
    other folds of the same repeat."""
    prob = np.empty_like(scores)
    for i, (train, test) in enumerate(folds):
        r = i // N_SPLITS
        a, b = m.platt_fit(scores[r, train], y[train])
        prob[r, test] = expit(a * scores[r, test] + b)
    return prob


def _performance(prob: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, Any]:
    """AUROC, AUPRC and Brier averaged over repeats; threshold figures over pooled repeats."""
    pooled, labels = prob.ravel(), np.tile(y, prob.shape[0])
    return {
        "auroc": float(np.nanmean(m.auroc_rows(prob, y))),
        "auprc": float(np.mean([m.average_precision(p, y) for p in prob])),
        "brier": float(np.mean((prob - y) ** 2)),
        **m.threshold_metrics(pooled, labels, threshold),
    }


def _subgroups(data: Dataset, prob: np.ndarray, threshold: float) -> list[dict[str, Any]]:
    groups: list[tuple[str, str, np.ndarray]] = []
    if data.sex is not None and len(set(data.sex)) > 1:
        groups += [("sex", value, data.sex == value) for value in ("female", "male")]
    if data.age is not None:
        bands = np.array([m.age_band(a) for a in data.age])
        groups += [("age_band", band, bands == band) for band in m.AGE_BANDS]
    rows = []
    for group, value, mask in groups:
        y = data.y[mask]
        row: dict[str, Any] = {"group": group, "value": value, "n": int(mask.sum())}
        row["positives"] = int(y.sum())
        if row["n"] == 0:
            continue
        if min(row["positives"], row["n"] - row["positives"]) < MIN_SUBGROUP_EVENTS:
            row.update(
                dict.fromkeys(("auroc", "sensitivity", "specificity", "ppv", "npv", "alert_rate")),
                brier=None,
                mean_predicted=None,
                note=f"Fewer than {MIN_SUBGROUP_EVENTS} patients with or without the outcome: "
                "not estimated.",
            )
        else:
            figures = _performance(prob[:, mask], y, threshold)
            row.update({k: figures[k] for k in ("auroc", "sensitivity", "specificity", "ppv")})
            row.update(npv=figures["npv"], alert_rate=figures["alert_rate"])
            row.update(brier=figures["brier"], mean_predicted=float(prob[:, mask].mean()))
        row["observed_rate"] = row["positives"] / row["n"]
        rows.append(row)
    return rows


def _subgroup_note(data: Dataset) -> str:
    if data.sex is None and data.age is None:
        return "The dataset records neither sex nor age: no subgroup figures."
    single_sex = data.sex is not None and len(set(data.sex)) == 1
    groups = "age band" if single_sex else "sex and age band"
    note = (
        f"By {groups} ({', '.join(m.AGE_BANDS)}), at the overall threshold; groups with fewer "
        f"than {MIN_SUBGROUP_EVENTS} patients with or without the outcome are listed but not "
        "estimated."
    )
    return (
        f"All patients are {data.sex[0]}. {note}" if single_sex and data.sex is not None else note
    )


def _curves(prob: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, Any]:
    """The out-of-fold curves the model-quality dashboard draws (`prob`: repeats x n calibrated
    out-of-fold probabilities): ROC and calibration pooled over the repeats, and the confusion
    counts at the operating threshold averaged over the repeats."""
    pooled, labels = prob.ravel(), np.tile(y, prob.shape[0])
    repeats = prob.shape[0]
    calibration = m.calibration_bins(pooled, labels, bins=CALIBRATION_BINS)
    for row in calibration:  # patients, not patient-repeats
        row["n"] = round(row["n"] / repeats)
    counts = [m.confusion_counts(row, y, threshold) for row in prob]
    confusion = {k: round(float(np.mean([c[k] for c in counts]))) for k in counts[0]}
    return {
        "roc": m.roc_points(pooled, labels, max_points=ROC_POINTS),
        "roc_note": (
            f"Out-of-fold calibrated probabilities pooled over the {repeats} CV repeats, at most "
            f"{ROC_POINTS} points spread along the curve."
        ),
        "calibration": calibration,
        "calibration_note": (
            f"{CALIBRATION_BINS} equal-width bins of out-of-fold calibrated probability, pooled "
            f"over the {repeats} CV repeats; n is patients per bin (pooled count / {repeats})."
        ),
        "confusion": {"threshold": threshold, **confusion},
        "confusion_note": (
            f"Out-of-fold counts at the operating threshold {threshold:.4f}, averaged over the "
            f"{repeats} CV repeats and rounded, so they may not add up to the {len(y)} patients "
            "exactly."
        ),
    }


def _packages() -> dict[str, str]:
    return {name: package_version(name) for name in ("scikit-learn", "numpy", "scipy", "skops")}


def train_disease(
    key: str,
    *,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    algorithms: Sequence[str] | None = None,
) -> TrainedModel:
    """Train disease `key` (see module docstring). `algorithms` limits the candidates (tests use
    it to train a tree model); by default all four are compared."""
    # Tiny problems: BLAS/OpenMP threads only add overhead (lbfgs ~9x slower with 2 threads).
    with threadpool_limits(limits=1):
        return _train(key, seed=seed, progress=progress, algorithms=algorithms)


def _train(
    key: str, *, seed: int, progress: Progress | None, algorithms: Sequence[str] | None
) -> TrainedModel:
    started = time.perf_counter()
    spec = DISEASES[key]
    names = list(algorithms or CANDIDATES)
    unknown = sorted(set(names) - set(CANDIDATES))
    if unknown:
        raise ValueError(f"Unknown algorithms {unknown}; known: {', '.join(CANDIDATES)}.")
    steps = len(names) + 6
    counter = iter(range(1, steps + 1))

    def report(text: str) -> None:
        step = next(counter)
        if progress is not None:
            progress(f"{key} [{step}/{steps}] {text}")

    report(f"loading {spec.loader}")
    data = dataset_load(key)
    X, y = data.X.to_numpy(dtype=float), data.y
    folds = list(
        RepeatedStratifiedKFold(n_splits=N_SPLITS, n_repeats=N_REPEATS, random_state=seed).split(
            X, y
        )
    )
    oof = {}
    for name in names:
        report(f"cross-validating {name} ({N_SPLITS}-fold x {N_REPEATS} repeats)")
        candidate = CANDIDATES[name]
        oof[name] = _cross_validate(candidate.build, candidate.score, seed, X, y, folds)
    report(f"cross-validating {len(spec.feature_names)} single-feature baselines")
    for j, feature in enumerate(spec.feature_names):
        oof[f"baseline:{feature}"] = _single_feature_oof(X[:, j], y, folds)
    summaries = {n: _fold_summary(oof[n], y, folds, CANDIDATES[n].score) for n in names}
    leader = max(names, key=lambda n: summaries[n]["auroc_mean"])
    # One-standard-error rule: the simplest algorithm within one SE of the best mean AUROC.
    floor = summaries[leader]["auroc_mean"] - summaries[leader]["auroc_sd"] / np.sqrt(len(folds))
    chosen = CANDIDATES[
        min(
            (n for n in names if summaries[n]["auroc_mean"] >= floor),
            key=lambda n: CANDIDATES[n].complexity,
        )
    ]
    baseline_feature = max(
        spec.feature_names,
        key=lambda f: np.mean(
            [
                m.auroc(oof[f"baseline:{f}"][i // N_SPLITS, t], y[t])
                for i, (_, t) in enumerate(folds)
            ]
        ),
    )

    report(f"calibrating {chosen.name} (Platt sigmoid on out-of-fold scores)")
    scores = oof[chosen.name]
    prob = _cross_calibrated(scores, y, folds)
    a, b = m.platt_fit(scores.ravel(), np.tile(y, N_REPEATS))

    report(f"metrics, {N_BOOTSTRAP} bootstrap resamples and subgroups")
    pooled, labels = prob.ravel(), np.tile(y, N_REPEATS)
    threshold = m.threshold_for_sensitivity(pooled, labels, spec.target_sensitivity)
    slope, intercept = m.calibration_slope_intercept(pooled, labels)
    baseline_oof = oof[f"baseline:{baseline_feature}"]
    ci, difference_ci = m.bootstrap_auroc(
        prob, y, seed=seed, n_boot=N_BOOTSTRAP, paired=baseline_oof
    )
    baseline_ci, _ = m.bootstrap_auroc(baseline_oof, y, seed=seed, n_boot=N_BOOTSTRAP)
    performance = _performance(prob, y, threshold)
    metrics = {
        **performance,
        "auroc_ci": ci,
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "threshold": threshold,
        "threshold_rule": (
            f"Highest threshold at which the out-of-fold sensitivity (pooled over the "
            f"{N_REPEATS} CV repeats) is at least {spec.target_sensitivity:.2f}."
        ),
    }
    baseline_auroc = float(np.nanmean(m.auroc_rows(baseline_oof, y)))
    label_of = {f.name: f.label for f in spec.features}
    baseline = {
        "name": f"Logistic regression on {label_of[baseline_feature]} alone",
        "feature": baseline_feature,
        "auroc": baseline_auroc,
        "auroc_ci": baseline_ci,
        "model_minus_baseline": performance["auroc"] - baseline_auroc,
        "difference_ci": difference_ci,
        "beats_baseline": performance["auroc"] > baseline_auroc,
    }

    report(f"fitting {chosen.name} on all {len(y)} patients")
    estimator = chosen.build(seed).fit(X, y)
    payload = {
        "format": PAYLOAD_FORMAT,
        "disease": key,
        "algorithm": chosen.name,
        "feature_names": spec.feature_names,
        "estimator": estimator,
        "score": chosen.score,
        "calibration": {"a": a, "b": b},
    }
    model_bytes = model_dumps(payload)
    sha256 = hashlib.sha256(model_bytes).hexdigest()

    report("writing the manifest")
    comparison = [
        {"algorithm": n, "label": CANDIDATES[n].label, **summaries[n], "chosen": n == chosen.name}
        for n in names
    ]
    training = {
        "seed": seed,
        "cv": f"stratified {N_SPLITS}-fold, repeated {N_REPEATS} times",
        "selection_rule": (
            "One-standard-error rule: the simplest algorithm (logistic regression < decision "
            "tree < gradient boosting < random forest) whose mean CV AUROC is within one "
            "standard error (SD over folds / sqrt(number of folds)) of the best mean."
        ),
        "bootstrap": f"{N_BOOTSTRAP} resamples of patients, percentile 95 % intervals",
        "dataset_sha256": data.sha256,
        "packages": _packages(),
        "format": TRAINING_FORMAT,
    }
    manifest = manifest_build(
        spec,
        data,
        algorithm=chosen.name,
        algorithm_label=chosen.label,
        version_prefix=chosen.short,
        score=chosen.score,
        comparison=comparison,
        comparison_note=(
            f"Every algorithm on the same {N_SPLITS}-fold x {N_REPEATS} folds: mean and SD over "
            "folds of the AUROC; Brier score and AUPRC of the uncalibrated scores."
        ),
        metrics=metrics,
        baseline=baseline,
        subgroups=_subgroups(data, prob, threshold),
        subgroup_note=_subgroup_note(data),
        calibration=(a, b),
        curves=_curves(prob, y, threshold),
        sha256=sha256,
        training=training,
    )
    return TrainedModel(
        key=key,
        version=manifest["version"],
        algorithm=chosen.name,
        manifest=manifest,
        model_bytes=model_bytes,
        seconds=time.perf_counter() - started,
    )


def save_trained(trained: TrainedModel, root: Path) -> Path:
    """Write root/<key>/<version>/{model.skops, manifest.json} and return that folder. A folder
    already holding this exact model (same sha256, verified) is kept as it is."""
    folder = Path(root) / trained.key / trained.version

    def already_saved() -> bool:
        try:
            return manifest_read_verified(folder, MODEL_FILE)["sha256"] == trained.sha256
        except ArtifactIntegrityError:
            return False

    if already_saved():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed into place: no reader sees half an artifact.
    staging = Path(tempfile.mkdtemp(prefix=f".{trained.version}-", dir=folder.parent))
    try:
        (staging / MODEL_FILE).write_bytes(trained.model_bytes)
        manifest_write(staging, trained.manifest)
        if folder.exists():  # damaged or foreign: replace it
            shutil.rmtree(folder)
        try:
            staging.rename(folder)
        except OSError:
            if not already_saved():  # not another process saving the same model meanwhile
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder
