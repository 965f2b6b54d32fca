"""How the risk pages word and format a model's card and an assessment: percentages, figures
per 100 patients, algorithm names, where a feature comes from in the record. Presentation only:
no queries, no access checks."""

import datetime as dt
import math
from typing import Any

from django.utils.formats import date_format

from patients.catalog import OBSERVATION_TYPES
from prediction.forms import figure, lower_first, unit_text
from prediction.ml.diseases import DISEASES
from prediction.models import ModelVersion

# --- wording ----------------------------------------------------------------------------------


def percent(probability: float) -> str:
    """0.234 -> "23 %", 0.042 -> "4.2 %", 0.0004 -> "< 0.1 %" (what a clinician reads)."""
    value = probability * 100
    if value < 0.1:
        return "< 0.1 %"
    if value > 99.9:
        return "> 99.9 %"
    return f"{value:.1f} %" if value < 10 else f"{value:.0f} %"


def _per_100(fraction: Any) -> int | None:
    if not isinstance(fraction, int | float) or not math.isfinite(fraction):
        return None
    return round(fraction * 100)


def _number(value: Any, places: int = 2) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{value:.{places}f}"


def iso_day(value: Any) -> str:
    """An ISO date or datetime from a JSON column as "12 Mar 2026"; "" when there is none."""
    if not value:
        return ""
    try:
        parsed: dt.date = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)[:40]
    return date_format(parsed, "j M Y")


ALGORITHMS = {
    "logistic_regression": "Logistic regression",
    "random_forest": "Random forest",
    "decision_tree": "Decision tree",
    "gradient_boosting": "Gradient boosting",
}


def algorithm_name(key: str) -> str:
    return ALGORITHMS.get(key, key.replace("_", " ").capitalize())


def source_text(source: dict[str, Any]) -> str:
    """Where a feature comes from in the record, in words (FeatureSpec.source)."""
    kind = source.get("type")
    if kind == "observation":
        code = str(source.get("code", ""))
        obs = OBSERVATION_TYPES.get(code)
        name = lower_first(obs.display) if obs else "observation"
        return f"Latest {name} result (LOINC {code})"
    if kind == "age":
        return "Age, from the date of birth"
    if kind == "sex_male":
        return "Sex in the record (1 = male)"
    codes = ", ".join(str(c) for c in source.get("codes", ()))
    if kind == "condition":
        return f"An active condition coded {codes} (ICD-10)"
    if kind == "family_history":
        return f"Family history of {codes} (ICD-10)"
    if kind == "genetic":
        genes = ", ".join(str(g) for g in source.get("genes", ()))
        return f"A pathogenic or likely pathogenic variant in {genes}"
    if kind == "smoking":
        return "Latest lifestyle assessment: " + (
            "current or former smoker" if source.get("ever") else "current smoker"
        )
    if kind == "medication":
        names = ", ".join(str(n) for n in source.get("names", ()))
        return f"An active medication named {names}"
    return "Entered by the clinician (not kept in the record)"


def value_text(value: Any, unit: str, kind: str) -> str:
    if not isinstance(value, int | float):
        return "—"
    if kind == "binary":
        return "Yes" if value >= 0.5 else "No"
    label = unit_text(unit)
    return f"{figure(float(value))}{f' {label}' if label else ''}"


# --- the card, shared by the card page and the result page -------------------------------------


def threshold_words(manifest: dict[str, Any]) -> dict[str, Any]:
    """The operating threshold's metrics as a clinician reads them (per 100 patients)."""
    metrics = manifest.get("metrics") or {}
    threshold = metrics.get("threshold")
    return {
        "threshold": percent(threshold) if isinstance(threshold, int | float) else None,
        "threshold_value": threshold,
        "rule": str(metrics.get("threshold_rule", "")).rstrip(". "),
        "ppv": _per_100(metrics.get("ppv")),
        "sensitivity": _per_100(metrics.get("sensitivity")),
        "specificity": _per_100(metrics.get("specificity")),
        "npv": _per_100(metrics.get("npv")),
        "alert_rate": _per_100(metrics.get("alert_rate")),
        "prevalence": _per_100(metrics.get("prevalence")),
    }


_METRIC_ROWS: list[tuple[str, str, str]] = [
    (
        "auroc",
        "AUROC (discrimination)",
        "Pick one patient who had the outcome and one who did not: how often the model gives "
        "the first the higher risk. 0.5 is a coin toss, 1 is perfect.",
    ),
    (
        "auprc",
        "AUPRC (average precision)",
        "Precision averaged over every threshold; a useless model scores the prevalence.",
    ),
    ("accuracy", "Accuracy", "Share of patients the threshold classifies correctly."),
    ("precision", "Precision (PPV)", "Of the patients flagged, the share who had the outcome."),
    ("recall", "Recall (sensitivity)", "Of the patients who had the outcome, the share flagged."),
    ("specificity", "Specificity", "Of the patients without the outcome, the share not flagged."),
    ("npv", "Negative predictive value", "Of the patients not flagged, the share without it."),
    ("f1", "F1 score", "A single summary of precision and recall (their harmonic mean)."),
    (
        "brier",
        "Brier score",
        "Mean squared error of the probabilities: 0 is perfect; lower is better.",
    ),
    (
        "calibration_slope",
        "Calibration slope",
        "1 is ideal; below 1 the risks are too extreme, above 1 too timid.",
    ),
    (
        "calibration_intercept",
        "Calibration intercept",
        "0 is ideal; above 0 the model underestimates risk on average, below 0 overestimates.",
    ),
]


def _metric_rows(metrics: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for key, label, words in _METRIC_ROWS:
        if key not in metrics:
            continue
        ci = metrics.get(f"{key}_ci")
        rows.append(
            {
                "label": label,
                "value": _number(metrics[key]),
                "ci": f"{_number(ci[0])}–{_number(ci[1])}"  # noqa: RUF001 (en dash)
                if isinstance(ci, list | tuple) and len(ci) == 2
                else "",
                "words": words,
            }
        )
    return rows


def _subgroup_rows(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    names = {"sex": "Sex", "age_band": "Age band"}
    return [
        {
            "group": names.get(str(row.get("group")), str(row.get("group", ""))),
            "value": str(row.get("value", "")),
            "n": row.get("n", "—"),
            "positives": row.get("positives", "—"),
            "auroc": _number(row.get("auroc")),
            "sensitivity": _per_100(row.get("sensitivity")),
            "specificity": _per_100(row.get("specificity")),
            "ppv": _per_100(row.get("ppv")),
            "alert_rate": _per_100(row.get("alert_rate")),
        }
        for row in manifest.get("subgroups") or []
    ]


def _comparison_rows(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    chosen = str(manifest.get("algorithm", "")).lower()
    return [
        {
            "algorithm": algorithm_name(str(row.get("algorithm", ""))),
            "auroc": _number(row.get("auroc_mean")),
            "sd": _number(row.get("auroc_sd")),
            "brier": _number(row.get("brier_mean"), 3),
            "chosen": str(row.get("algorithm", "")).lower() == chosen,
        }
        for row in manifest.get("comparison") or []
    ]


def _feature_rows(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for spec in manifest.get("features") or []:
        unit = unit_text(str(spec.get("unit", "")))
        kind = spec.get("kind", "numeric")
        rows.append(
            {
                "name": spec.get("name", ""),
                "label": spec.get("label", spec.get("name", "")),
                "unit": unit,
                "range": "yes / no"
                if kind == "binary"
                else f"{spec.get('low', 0):g} to {spec.get('high', 0):g}",
                "source": source_text(spec.get("source") or {}),
                "help": spec.get("help", ""),
            }
        )
    return rows


def _published_value(value: Any) -> str:
    if isinstance(value, int | float) and math.isfinite(value):
        return f"{value:g}"
    return "" if value is None else str(value)[:40]


def card_context(version: ModelVersion) -> dict[str, Any]:
    """Everything a model card page shows of one version, worded and formatted."""
    manifest = version.manifest or {}
    metrics = manifest.get("metrics") or {}
    baseline = manifest.get("baseline") or {}
    ci = baseline.get("auroc_ci")
    auroc_ci = metrics.get("auroc_ci")
    return {
        "version": version,
        "title": title_of(version),
        "outcome": manifest.get("outcome", ""),
        "intended_use": manifest.get("intended_use", ""),
        "algorithm": algorithm_name(str(manifest.get("algorithm") or version.algorithm)),
        "created": iso_day(manifest.get("created")),
        "synthetic": version.is_synthetic or bool(manifest.get("synthetic")),
        "dataset": manifest.get("dataset") or {},
        "features": _feature_rows(manifest),
        "metrics": _metric_rows(metrics),
        "auroc": _number(metrics.get("auroc")),
        "auroc_in_100": _per_100(metrics.get("auroc")),
        "auroc_ci": [_number(x) for x in auroc_ci] if isinstance(auroc_ci, list) else None,
        "words": threshold_words(manifest),
        "subgroups": _subgroup_rows(manifest),
        "comparison": _comparison_rows(manifest),
        "baseline": {
            "name": baseline.get("name", ""),
            "auroc": _number(baseline.get("auroc")),
            "ci": [_number(x) for x in ci] if isinstance(ci, list) and len(ci) == 2 else None,
        }
        if baseline
        else None,
        "published": [
            {
                "source": str(row.get("source", "")),
                "metric": str(row.get("metric", "")),
                "value": _published_value(row.get("value")),
                "note": str(row.get("note", "")),
            }
            for row in manifest.get("published") or []
            if isinstance(row, dict)
        ],
        "caveats": manifest.get("caveats") or [],
        "bands": {
            "moderate": percent(manifest["bands"]["moderate"]),
            "high": percent(manifest["bands"]["high"]),
        }
        if isinstance(manifest.get("bands"), dict)
        and {"moderate", "high"} <= set(manifest["bands"])
        else None,
    }


def title_of(version: ModelVersion) -> str:
    spec = DISEASES.get(version.disease)
    return str((version.manifest or {}).get("title") or (spec.title if spec else version.disease))
