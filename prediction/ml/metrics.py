"""Numeric helpers of training and monitoring: AUROC, Platt scaling, recalibration, thresholds,
bootstrap intervals, subgroups and the population stability index. numpy and scipy only."""

from typing import Any

import numpy as np
from scipy.special import expit, logit
from scipy.stats import rankdata

AGE_BANDS = ("<50", "50-64", "65+")
_EPS = 1e-15


def age_band(age: float) -> str:
    """The subgroup label of an age in years: "<50", "50-64" or "65+"."""
    if age < 50:
        return AGE_BANDS[0]
    return AGE_BANDS[1] if age < 65 else AGE_BANDS[2]


def auroc_rows(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUROC of each row of `scores` (m x n) against the matching row of `labels` (m x n, or n
    shared), by the rank-sum formula with ties counted half. NaN where a row has one class only."""
    scores = np.atleast_2d(scores)
    labels = np.broadcast_to(np.asarray(labels, dtype=bool), scores.shape)
    ranks = rankdata(scores, axis=1)
    n_pos = labels.sum(axis=1)
    n_neg = labels.shape[1] - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        result = ((ranks * labels).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), result, np.nan)


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(auroc_rows(np.asarray(scores, dtype=float)[None, :], labels)[0])


def logistic_fit(x: np.ndarray, target: np.ndarray, *, slope: bool = True) -> tuple[float, float]:
    """(a, b) maximising the Bernoulli likelihood of target ~ expit(a*x + b), by Newton's method.
    With slope=False, a is fixed at 1 (x is an offset) and only b is fitted."""
    design = np.column_stack([x, np.ones_like(x)]) if slope else np.ones((len(x), 1))
    offset = np.zeros_like(x) if slope else x
    free = np.zeros(design.shape[1])
    for _ in range(100):
        prob = expit(offset + design @ free)
        gradient = design.T @ (target - prob)
        weight = np.maximum(prob * (1 - prob), 1e-12)
        hessian = design.T @ (design * weight[:, None]) + 1e-9 * np.eye(design.shape[1])
        step = np.linalg.solve(hessian, gradient)
        free = free + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return (float(free[0]), float(free[1])) if slope else (1.0, float(free[0]))


def platt_fit(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt (1999) sigmoid calibration: calibrated probability = expit(a*score + b), fitted with
    Platt's smoothed targets, as scikit-learn's sigmoid calibration does."""
    y = np.asarray(y, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    target = np.where(y, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    return logistic_fit(np.asarray(scores, dtype=float), target)


def calibration_slope_intercept(prob: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Logistic recalibration: slope b of logit P(y) = a + b*logit(p); intercept = calibration in
    the large, a of logit P(y) = a + logit(p) (slope fixed at 1). Ideal: slope 1, intercept 0."""
    lp = logit(np.clip(prob, _EPS, 1 - _EPS))
    y = np.asarray(y, dtype=float)
    slope, _ = logistic_fit(lp, y)
    _, intercept = logistic_fit(lp, y, slope=False)
    return slope, intercept


def threshold_for_sensitivity(prob: np.ndarray, y: np.ndarray, target: float) -> float:
    """The highest threshold t (4 decimals, rounded down) with sensitivity(prob >= t) >= target."""
    positives = np.sort(np.asarray(prob)[np.asarray(y, dtype=bool)])[::-1]
    needed = int(np.ceil(target * len(positives)))
    t = float(positives[max(needed, 1) - 1])
    return float(np.floor(t * 1e4) / 1e4)


def threshold_metrics(prob: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, Any]:
    """Confusion-matrix figures of flagging prob >= threshold (None where undefined)."""
    y = np.asarray(y, dtype=bool)
    flagged = np.asarray(prob) >= threshold
    tp = int(np.sum(flagged & y))
    fp = int(np.sum(flagged & ~y))
    fn = int(np.sum(~flagged & y))
    tn = int(np.sum(~flagged & ~y))

    def ratio(num: int, den: int) -> float | None:
        return num / den if den else None

    sensitivity, ppv = ratio(tp, tp + fn), ratio(tp, tp + fp)
    f1 = None
    if sensitivity is not None and ppv is not None and sensitivity + ppv > 0:
        f1 = 2 * sensitivity * ppv / (sensitivity + ppv)
    return {
        "accuracy": ratio(tp + tn, len(y)),
        "precision": ppv,
        "recall": sensitivity,
        "f1": f1,
        "sensitivity": sensitivity,
        "specificity": ratio(tn, tn + fp),
        "ppv": ppv,
        "npv": ratio(tn, tn + fn),
        "alert_rate": ratio(tp + fp, len(y)),
        "prevalence": ratio(tp + fn, len(y)),
    }


def average_precision(scores: np.ndarray, y: np.ndarray) -> float:
    """Area under the precision-recall curve as scikit-learn's average_precision_score computes
    it (step-wise, tied scores one threshold), without its per-call overhead."""
    order = np.argsort(-np.asarray(scores, dtype=float), kind="mergesort")
    ranked, hits = np.asarray(scores)[order], np.asarray(y, dtype=float)[order]
    last = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]
    tps = np.cumsum(hits)[last]
    if tps[-1] == 0:
        return float("nan")
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _weighted_auroc(scores: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """AUROC of one score vector (n) under each row of case weights (B x n), ties counted half."""
    order = np.argsort(scores, kind="mergesort")
    ranked = scores[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ranked)) + 1]
    pos = np.add.reduceat(positive[:, order], starts, axis=1)
    neg = np.add.reduceat(negative[:, order], starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + neg / 2)).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1))


def bootstrap_auroc(
    oof: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    n_boot: int = 1000,
    paired: np.ndarray | None = None,
) -> tuple[list[float], list[float] | None]:
    """95 % percentile intervals, over patients resampled with replacement, of the AUROC averaged
    over CV repeats (`oof`: repeats x n). With `paired` (another model's repeats x n), also the
    interval of the difference oof - paired on the same resamples."""
    y = np.asarray(y, dtype=bool)
    n = len(y)
    counts = np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=n_boot)
    positive, negative = counts * y, counts * ~y

    def resampled(scores: np.ndarray) -> np.ndarray:
        return np.mean([_weighted_auroc(row, positive, negative) for row in scores], axis=0)

    model = resampled(np.atleast_2d(oof))
    interval = [float(v) for v in np.nanpercentile(model, [2.5, 97.5])]
    if paired is None:
        return interval, None
    difference = model - resampled(np.atleast_2d(paired))
    return interval, [float(v) for v in np.nanpercentile(difference, [2.5, 97.5])]


def reference_distribution(values: np.ndarray) -> dict[str, list[float]]:
    """The training distribution of one feature for drift monitoring: about ten quantile bins (one
    per value for features with 10 or fewer distinct values). `edges` has one more entry than
    `proportions`: training minimum, inner cut points, training maximum. A value v falls in bin
    searchsorted(edges[1:-1], v, side="right"); the first and last bins are open-ended."""
    values = np.asarray(values, dtype=float)
    distinct = np.unique(values)
    if len(distinct) <= 10:
        cuts = (distinct[:-1] + distinct[1:]) / 2
    else:
        cuts = np.unique(np.quantile(values, np.linspace(0.1, 0.9, 9)))
    counts = np.bincount(np.searchsorted(cuts, values, side="right"), minlength=len(cuts) + 1)
    return {
        "edges": [float(values.min()), *map(float, cuts), float(values.max())],
        "proportions": [float(c) for c in counts / len(values)],
    }


def population_stability_index(
    reference: dict[str, list[float]], values: np.ndarray, *, floor: float = 1e-4
) -> float:
    """PSI = sum over bins of (actual - expected) * ln(actual / expected), with the bins of
    `reference` (see reference_distribution) and proportions floored at `floor`. Rule of thumb:
    < 0.1 stable, 0.1-0.25 some shift, > 0.25 a large shift."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("No values to compare with the reference distribution.")
    cuts = np.asarray(reference["edges"][1:-1], dtype=float)
    expected = np.maximum(np.asarray(reference["proportions"], dtype=float), floor)
    counts = np.bincount(np.searchsorted(cuts, values, side="right"), minlength=len(expected))
    actual = np.maximum(counts / values.size, floor)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def roc_points(prob: np.ndarray, y: np.ndarray, *, max_points: int = 60) -> list[dict[str, Any]]:
    """The ROC curve of flagging prob >= threshold, thinned to at most `max_points` points spread
    evenly along the curve (its first point, nobody flagged, and its last, everybody flagged, are
    always kept): [{"fpr", "tpr", "threshold"}], threshold None at the origin. [] with one class."""
    prob = np.asarray(prob, dtype=float)
    y = np.asarray(y, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return []
    order = np.argsort(-prob, kind="mergesort")
    ranked, hits = prob[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # end of each tied group
    tpr = np.r_[0.0, np.cumsum(hits)[last] / n_pos]
    fpr = np.r_[0.0, np.cumsum(~hits)[last] / n_neg]
    thresholds: list[float | None] = [None, *map(float, ranked[last])]
    if len(tpr) > max_points:
        travelled = np.r_[0.0, np.cumsum(np.abs(np.diff(fpr)) + np.abs(np.diff(tpr)))]
        targets = np.linspace(0.0, travelled[-1], max_points)
        keep = np.unique(np.r_[0, np.searchsorted(travelled, targets), len(tpr) - 1])
        keep = keep[keep < len(tpr)][:max_points]
        keep[-1] = len(tpr) - 1
    else:
        keep = np.arange(len(tpr))
    return [{"fpr": float(fpr[i]), "tpr": float(tpr[i]), "threshold": thresholds[i]} for i in keep]


def calibration_bins(
    prob: np.ndarray, y: np.ndarray, *, bins: int = 10, keep_empty: bool = True
) -> list[dict[str, Any]]:
    """Predicted against observed in `bins` equal-width bins of predicted probability:
    [{"lower", "upper", "n", "mean_predicted", "observed"}]; an empty bin has n 0 and None means
    (or is left out with keep_empty=False)."""
    prob = np.asarray(prob, dtype=float)
    y = np.asarray(y, dtype=float)
    index = np.minimum((prob * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        if not count and not keep_empty:
            continue
        rows.append(
            {
                "lower": b / bins,
                "upper": (b + 1) / bins,
                "n": count,
                "mean_predicted": float(prob[mask].mean()) if count else None,
                "observed": float(y[mask].mean()) if count else None,
            }
        )
    return rows


def confusion_counts(prob: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, int]:
    """True/false positives and negatives of flagging prob >= threshold."""
    y = np.asarray(y, dtype=bool)
    flagged = np.asarray(prob, dtype=float) >= threshold
    return {
        "tp": int(np.sum(flagged & y)),
        "fp": int(np.sum(flagged & ~y)),
        "fn": int(np.sum(~flagged & y)),
        "tn": int(np.sum(~flagged & ~y)),
    }


def psi_from_counts(
    reference: dict[str, list[float]], counts: Any, *, floor: float = 1e-4
) -> float:
    """PSI (see population_stability_index) from the number of values in each bin of
    `reference`, as a database counts them."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    if total <= 0:
        raise ValueError("No values to compare with the reference distribution.")
    expected = np.maximum(np.asarray(reference["proportions"], dtype=float), floor)
    actual = np.maximum(counts / total, floor)
    return float(np.sum((actual - expected) * np.log(actual / expected)))
