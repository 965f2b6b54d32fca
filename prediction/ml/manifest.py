"""The manifest.json of a trained model: the model card's content, and the artifact's identity.

Pure data assembly: training.py computes the figures, this module lays them out under the keys of
the shared contract (more keys are allowed) and derives the version, a content hash of the data,
features, results, model file and package versions, so the same training gives the same version.
"""

import hashlib
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import numpy as np

from prediction.ml import metrics as m
from prediction.ml.datasets import Dataset
from prediction.ml.diseases import DiseaseSpec
from prediction.ml.model import MODEL_FILE


def rounded(value: Any, digits: int = 4) -> Any:
    """Floats rounded to `digits` decimals, in nested dicts and lists too."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def caveats_for(spec: DiseaseSpec, metrics: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """The spec's caveats, plus what the figures themselves warn about."""
    caveats = list(spec.caveats)
    difference = baseline["model_minus_baseline"]
    low, high = baseline["difference_ci"]
    figures = (
        f"AUROC {metrics['auroc']:.3f} vs {baseline['auroc']:.3f} for the baseline, "
        f"{baseline['name']}"
    )
    if not baseline["beats_baseline"]:
        caveats.append(
            f"This model does not beat its simple baseline: {figures}. Use the single "
            "measurement, or treat this model's output with corresponding caution."
        )
    elif low <= 0:
        caveats.append(
            f"This model's advantage over its simple baseline is within the uncertainty: "
            f"{figures} (difference {difference:+.3f}, 95 % CI {low:+.3f} to {high:+.3f})."
        )
    lo, hi = metrics["auroc_ci"]
    if hi - lo > 0.15:
        caveats.append(
            f"The AUROC's 95 % confidence interval is wide ({lo:.2f} to {hi:.2f}): the "
            "data are too few for a precise estimate."
        )
    return caveats


def manifest_build(
    spec: DiseaseSpec,
    data: Dataset,
    *,
    algorithm: str,
    algorithm_label: str,
    version_prefix: str,
    score: str,
    comparison: list[dict[str, Any]],
    comparison_note: str,
    metrics: dict[str, Any],
    baseline: dict[str, Any],
    subgroups: list[dict[str, Any]],
    subgroup_note: str,
    calibration: tuple[float, float],
    sha256: str,
    curves: dict[str, Any] | None = None,
    training: dict[str, Any],
) -> dict[str, Any]:
    """The manifest of one trained model; `created` is the only field that changes between two
    identical trainings."""
    threshold = metrics["threshold"]
    body: dict[str, Any] = {
        "disease": spec.key,
        "title": spec.title,
        "outcome": spec.outcome,
        "algorithm": algorithm,
        "algorithm_label": algorithm_label,
        "model_file": MODEL_FILE,
        "sha256": sha256,
        "synthetic": False,
        "intended_use": spec.intended_use,
        "caveats": caveats_for(spec, metrics, baseline),
        "dataset": {
            "name": spec.dataset,
            "package": spec.package,
            "package_version": data.package_version,
            "loader": spec.loader,
            "licence": spec.licence,
            "citation": spec.citation,
            "rows": len(data.y),
            "positives": int(data.y.sum()),
        },
        "features": [asdict(feature) for feature in spec.features],
        "feature_selection": spec.feature_selection,
        "metrics": rounded(metrics),
        "metrics_note": (
            "Out-of-fold estimates from repeated stratified cross-validation: AUROC, AUPRC and "
            "Brier averaged over repeats; threshold figures pooled over repeats; calibration "
            "slope and intercept by logistic recalibration of the out-of-fold probabilities. "
            "Features were chosen on the same data, so these are slightly optimistic."
        ),
        "subgroups": rounded(subgroups),
        "subgroup_note": subgroup_note,
        "comparison": rounded(comparison),
        "comparison_note": comparison_note,
        "baseline": rounded(baseline),
        "published": list(spec.published),
        "bands": {"moderate": float(np.floor(threshold / 2 * 1e4) / 1e4), "high": threshold},
        "bands_rule": (
            "High: at or above the operating threshold (the patient would be flagged). "
            "Moderate: at or above half of it. Low: below."
        ),
        "reference": {
            name: rounded(m.reference_distribution(data.X[name].to_numpy()), 6)
            for name in spec.feature_names
        },
        "calibration": {
            "method": "Platt sigmoid fitted on out-of-fold scores of the chosen algorithm",
            "score": "decision_function" if score == "decision" else "predict_proba",
            "a": calibration[0],
            "b": calibration[1],
        },
        "explanation": {
            "method": "exact linear terms" if algorithm == "logistic_regression" else "TreeSHAP",
            "space": "probability" if score == "proba" else "log-odds",
        },
        "training": training,
    }
    if curves is not None:
        body["curves"] = rounded(curves)
    # Same inputs and results -> same version; any change to data, code or results -> another.
    identity = {
        k: body[k]
        for k in ("disease", "algorithm", "sha256", "features", "metrics", "comparison", "training")
    }
    if "curves" in body:
        identity["curves"] = body["curves"]
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    version = f"{version_prefix}-{digest[:10]}"
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return {"disease": spec.key, "version": version, "created": created, **body}
