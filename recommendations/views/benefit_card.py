"""The treatment-benefit model card: the active BenefitModelVersion's manifest (written by
recommendations.ml.benefit at training, copied at registration) as a page: what it estimates, the
trial cohort it learnt from, how it was validated (C-index, time-dependent AUC, calibration at 5
years), the treatment effects, its method and its limits. It holds no PHI.

The manifest is read as data: its known figures get their words, anything else in `dataset` or
`metrics` is listed as it is, so a manifest that grows a figure shows it without a change here.
"""

from typing import Any

from recommendations.models import BenefitModelVersion

EN_DASH, TIMES, MINUS = "\u2013", "\u00d7", "\u2212"

DATASET_LABELS = {
    "name": "Trial",
    "patients": "Patients",
    "events": "Events (recurrence or death)",
    "treated": "With hormonal therapy",
    "outcome": "Outcome",
    "recruitment": "Recruitment",
    "reference": "Reference",
    "data_source": "Data source",
}
# Figures of `metrics` shown in their own tables (the rest are listed under "Other figures").
SHOWN_METRICS = {
    "validation",
    "c_index_harrell",
    "c_index_uno",
    "c_index_uno_tau_days",
    "c_index_apparent",
    "time_dependent_auc",
    "time_dependent_auc_mean",
    "calibration_5y",
    "effects",
    "n_patients",
    "n_events",
    "n_events_by_horizon",
    "n_treated",
}
TERM_WORDS = {
    "hormonal_therapy": "Hormonal therapy",
    "hormonal_therapy:log1p_progesterone": f"… {TIMES} progesterone receptor (log, per SD)",
    "hormonal_therapy:log1p_estrogen": f"… {TIMES} estrogen receptor (log, per SD)",
    "hormonal_therapy:postmenopausal": f"… {TIMES} postmenopausal",
}


def _number(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _percent(value: Any) -> str:
    return f"{100 * float(value):.1f} %" if isinstance(value, int | float) else "—"


def _interval(pair: Any, as_percent: bool = False, plain: bool = False) -> str:
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return ""
    if as_percent:
        low, high = (_percent(v).removesuffix(" %") for v in pair)
        return f"{low}{EN_DASH}{high} %"
    low, high = (f"{v:g}" if plain else _number(v) for v in pair)
    return f"{low}{EN_DASH}{high}"


def _years(horizon: str) -> str:
    """ "1y" -> "1 year", "5y" -> "5 years"."""
    number = horizon.removesuffix("y")
    return f"{number} year" if number == "1" else f"{number} years"


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{_label(str(k))}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    return _number(value)


def _figures(metrics: dict[str, Any]) -> list[dict[str, str]]:
    """The headline validation figures, each with a word on what it measures."""
    rows = []
    if "c_index_harrell" in metrics:
        rows.append(
            {
                "label": "C-index (Harrell), cross-validated",
                "value": _number(metrics["c_index_harrell"]),
                "words": "How often, of two patients, the one predicted at higher risk recurred "
                "first (0.5 chance, 1 perfect).",
            }
        )
    if "c_index_uno" in metrics:
        tau = metrics.get("c_index_uno_tau_days")
        rows.append(
            {
                "label": "C-index (Uno)",
                "value": _number(metrics["c_index_uno"]),
                "words": "Weighted for censoring"
                + (
                    f", up to {round(tau / 365.25)} years." if isinstance(tau, int | float) else "."
                ),
            }
        )
    if "c_index_apparent" in metrics:
        rows.append(
            {
                "label": "C-index on the training data",
                "value": _number(metrics["c_index_apparent"]),
                "words": "Optimistic: for comparison with the cross-validated figure.",
            }
        )
    for horizon, value in (metrics.get("time_dependent_auc") or {}).items():
        rows.append(
            {
                "label": f"Time-dependent AUC at {_years(horizon)}",
                "value": _number(value),
                "words": "Recurred by then vs still free of recurrence.",
            }
        )
    if "time_dependent_auc_mean" in metrics:
        rows.append(
            {
                "label": "Mean time-dependent AUC",
                "value": _number(metrics["time_dependent_auc_mean"]),
                "words": "",
            }
        )
    return rows


def _calibration(calibration: dict[str, Any]) -> dict[str, Any]:
    groups = [
        {
            "group": g.get("group", ""),
            "n": g.get("n", ""),
            "events": g.get("events", ""),
            "predicted": _percent(g.get("predicted_rfs")),
            "observed": _percent(g.get("observed_rfs")),
            "observed_ci": _interval(g.get("observed_ci"), as_percent=True),
        }
        for g in calibration.get("groups") or []
        if isinstance(g, dict)
    ]
    summary = []
    if "slope" in calibration:
        summary.append(
            {"label": "Calibration slope (1 ideal)", "value": _number(calibration["slope"])}
        )
    if "mean_absolute_difference" in calibration:
        summary.append(
            {
                "label": f"Mean |predicted {MINUS} observed| over the groups",
                "value": f"{100 * float(calibration['mean_absolute_difference']):.1f} points",
            }
        )
    if "predicted_rfs_mean" in calibration:
        observed = _percent(calibration.get("observed_rfs_km"))
        ci = _interval(calibration.get("observed_rfs_km_ci"), as_percent=True)
        summary.append(
            {
                "label": f"Mean predicted vs observed (Kaplan{EN_DASH}Meier)",
                "value": f"{_percent(calibration['predicted_rfs_mean'])} vs {observed}"
                + (f" (95% CI {ci})" if ci else ""),
            }
        )
    return {"groups": groups, "summary": summary}


def _effects(effects: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "label": TERM_WORDS.get(term, term),
            "hr": _number(effect.get("hazard_ratio")),
            "ci": _interval(effect.get("ci")),
        }
        for term, effect in effects.items()
        if isinstance(effect, dict)
    ]


def benefit_card(version: BenefitModelVersion) -> dict[str, Any]:
    manifest = version.manifest or {}
    metrics = manifest.get("metrics") or {}
    dataset = manifest.get("dataset") or {}
    limits = manifest.get("limits") or manifest.get("limitations") or []
    inputs = manifest.get("inputs") or {}
    return {
        "version": version,
        "title": manifest.get("title") or version.name,
        "intended_use": manifest.get("intended_use", ""),
        "algorithm": manifest.get("algorithm", ""),
        "model": manifest.get("model", ""),
        "cohort_label": manifest.get("cohort_label", ""),
        "dataset": [
            {"label": DATASET_LABELS.get(k, _label(k)), "value": _plain(v), "key": k}
            for k, v in dataset.items()
        ],
        "validation_method": metrics.get("validation", ""),
        "figures": _figures(metrics),
        "calibration": _calibration(metrics.get("calibration_5y") or {}),
        "effects": _effects(metrics.get("effects") or {}),
        "other_figures": [
            {"label": _label(k), "value": _plain(v)}
            for k, v in metrics.items()
            if k not in SHOWN_METRICS
        ],
        "inputs": [
            {
                "label": spec.get("label", name) if isinstance(spec, dict) else name,
                "unit": spec.get("unit", "") if isinstance(spec, dict) else "",
                "range": _interval(spec.get("range"), plain=True) if isinstance(spec, dict) else "",
            }
            for name, spec in inputs.items()
        ],
        "bootstrap": manifest.get("n_bootstrap"),
        "seed": manifest.get("seed"),
        "limits": [limits] if isinstance(limits, str) else [str(item) for item in limits],
    }


def benefit_card_context() -> dict[str, Any]:
    """The active benefit models' cards (none until `manage.py train_benefit_models` ran)."""
    versions = BenefitModelVersion.objects.filter(is_active=True).order_by("name")
    return {"cards": [benefit_card(v) for v in versions]}
