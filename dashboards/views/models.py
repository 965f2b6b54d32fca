"""The model-quality dashboard: every risk-model version worth watching, and for one version its
ROC and calibration curves, confusion at the operating threshold, subgroup figures and input
drift, from training (the manifest's out-of-fold figures) and from live recorded outcomes side
by side on the same chart; and, per version, how many of its results staff reported as wrong
("This result looks wrong" tickets, read through support.selectors).

Live figures are version-wide aggregates over every patient the version assessed, whoever's
care team they belong to: they identify nobody, and everyone but an administrator gets them
with cells of fewer than 5 patients suppressed (and the next smallest with them, so that no
suppressed cell can be derived from a total). Training figures come from public research
datasets and are shown as recorded.
"""

from typing import Any, ClassVar
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse

from accounts.models import User
from dashboards.charts import Chart, Table, axis, colour, rounded, series_style
from dashboards.privacy import SMALL_CELL, suppress_small
from dashboards.views.base import ALL_ROLES, ChartView
from dashboards.views.tabs import dashboard_tabs
from prediction.models import ModelVersion
from prediction.selectors import (
    MIN_OUTCOMES,
    disease_title,
    input_drift_by_period,
    live_auroc_by_version,
    live_performance,
    model_threshold,
    model_version_get,
    model_versions_monitored,
)
from support.selectors import ai_feedback_for_risk_version, ai_feedback_summary

# Below this many assessments in a month, empty bins (floored) inflate the PSI.
PSI_STEADY_N = 100
SMALL_CELL_NOTE = "Fewer than 5 patients: not shown."
NOT_RECORDED = "Training curves were not recorded for this version; retrain to see them."
GUIDE_COLOUR = "#6b7280"
PSI_GUIDES = ((0.1, "Some shift (PSI 0.1)"), (0.25, "Large shift (PSI 0.25)"))
SUBGROUP_LABELS = {"sex": "Sex", "age_band": "Age band"}
CHART_TITLES = {
    "roc": "ROC curve: training and live",
    "calibration": "Calibration: training and live",
    "confusion": "Confusion at the operating threshold",
    "subgroups": "Subgroups: AUROC and sensitivity",
    "drift": "Input drift by month (PSI)",
}


# --- small cells --------------------------------------------------------------------------------


def _deidentified(user: User) -> bool:
    return not user.is_portal_admin


# --- wording ------------------------------------------------------------------------------------


def version_title(version: ModelVersion) -> str:
    manifest = version.manifest or {}
    return f"{manifest.get('title') or disease_title(version.disease)} risk model"


def version_synthetic(version: ModelVersion) -> bool:
    return version.is_synthetic or bool((version.manifest or {}).get("synthetic"))


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _base_notes(version: ModelVersion) -> list[str]:
    notes = []
    if version_synthetic(version):
        notes.append("Synthetic model: trained on generated data, not for clinical use.")
    return notes


def _live_notes(live: dict[str, Any]) -> list[str]:
    notes = []
    if live["n"] < MIN_OUTCOMES:
        notes.append(
            f"Live figures appear once {MIN_OUTCOMES} outcomes are recorded for this version "
            f"({live['n']} so far): the chart shows the training side alone."
        )
    if live["simulated_outcomes"]:
        notes.append(
            f"{live['simulated_outcomes']} of the recorded outcomes are SIMULATED for synthetic "
            "demo patients (seed_risk_demo draws them with P(confirmed) = the model's "
            "probability): on the demo, live figures show the method, not real performance."
        )
    return notes


def _curves(version: ModelVersion) -> dict[str, Any] | None:
    curves = (version.manifest or {}).get("curves")
    return curves if isinstance(curves, dict) else None


# --- pages --------------------------------------------------------------------------------------


def _live_auroc_text(auroc: float | None, outcomes: int, hide_small: bool) -> str:
    if auroc is not None:
        return f"{auroc:.3f}"
    if hide_small and 0 < outcomes < SMALL_CELL:
        return f"fewer than {MIN_OUTCOMES} outcomes"
    return f"{outcomes} of {MIN_OUTCOMES} outcomes needed"


@login_required
def models_page(request: HttpRequest) -> HttpResponse:
    """/dashboards/models/: the active versions, then older ones that made assessments."""
    user = request.user
    assert isinstance(user, User)
    versions = model_versions_monitored()
    live = live_auroc_by_version(versions=versions)
    # Staff reports of "this result looks wrong", per version (counts of tickets, not patients).
    feedback = ai_feedback_summary(risk_version_ids=[v.pk for v in versions])
    hide_small = _deidentified(user)
    rows = []
    for version in versions:
        metrics = (version.manifest or {}).get("metrics") or {}
        assessments = getattr(version, "assessment_count", 0)
        outcomes = getattr(version, "outcome_count", 0)
        if hide_small:
            (assessments, outcomes), _ = suppress_small([assessments, outcomes])
        rows.append(
            {
                "version": version,
                "title": version_title(version),
                "synthetic": version_synthetic(version),
                "training_auroc": metrics.get("auroc"),
                "live_auroc": _live_auroc_text(
                    live.get(version.pk), getattr(version, "outcome_count", 0), hide_small
                ),
                "assessments": assessments,
                "outcomes": outcomes,
                "feedback": feedback.for_risk_version(version.pk),
                "curves": _curves(version) is not None,
                "quality_url": reverse("dashboards:model_quality", args=[version.public_id]),
                "card_url": reverse("prediction:model_detail", args=[version.public_id]),
            }
        )
    return render(
        request,
        "dashboards/models.html",
        {
            "dashboard_tabs": dashboard_tabs(user, "dashboards:models"),
            "rows": rows,
            "imaging_feedback": feedback.imaging,
            "min_outcomes": MIN_OUTCOMES,
            "hide_small": hide_small,
        },
    )


@login_required
def model_quality_page(request: HttpRequest, version_id: UUID) -> HttpResponse:
    """/dashboards/models/<id>/: one version's quality charts (404 for an unknown id)."""
    user = request.user
    assert isinstance(user, User)
    version = model_version_get(public_id=version_id)
    manifest = version.manifest or {}
    metrics = manifest.get("metrics") or {}
    threshold = model_threshold(version)
    charts = [
        {
            "url": reverse(f"dashboards:data_model_{kind}", args=[version.public_id]),
            "title": title,
            "id": f"chart-model-{kind}",
            "wide": kind == "drift",
        }
        for kind, title in CHART_TITLES.items()
    ]
    return render(
        request,
        "dashboards/model_quality.html",
        {
            "dashboard_tabs": dashboard_tabs(user, "dashboards:models"),
            "version": version,
            "title": version_title(version),
            "synthetic": version_synthetic(version),
            "curves_recorded": _curves(version) is not None,
            "not_recorded": NOT_RECORDED,
            "training_auroc": metrics.get("auroc"),
            "threshold_percent": f"{threshold:.1%}".replace("%", " %") if threshold else None,
            "dataset": manifest.get("dataset") or {},
            "charts": charts,
            "card_url": reverse("prediction:model_detail", args=[version.public_id]),
            "min_outcomes": MIN_OUTCOMES,
            "feedback": ai_feedback_for_risk_version(version_id=version.pk),
        },
    )


# --- chart endpoints ----------------------------------------------------------------------------


class ModelChartView(ChartView):
    """A chart of one model version (any role: aggregates only, small cells hidden from all but
    administrators, so two cache scopes)."""

    roles: ClassVar[frozenset[str]] = ALL_ROLES
    version: ModelVersion

    def cache_scope(self) -> str | None:
        return "admin" if self.user.is_portal_admin else "deidentified"

    def chart(self) -> Chart:
        self.version = model_version_get(public_id=self.kwargs["version_id"])
        return self.version_chart()

    def version_chart(self) -> Chart:
        raise NotImplementedError

    @property
    def hide_small(self) -> bool:
        return _deidentified(self.user)

    def described(self, what: str) -> str:
        version = self.version
        return (
            f"{what} of the {version_title(version)} (version {version.version}): out-of-"
            "fold cross-validation on its training data, and the outcomes recorded for the "
            "patients it assessed, to date."
        )


def _xy(points: list[dict[str, Any]], x: str, y: str) -> list[dict[str, float]]:
    return [{"x": p[x], "y": p[y]} for p in points if p.get(x) is not None and p.get(y) is not None]


def _scatter_line(label: str, index: int, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "label": label,
        "data": data,
        "showLine": True,
        "fill": False,
        "pointRadius": 2,
        "borderWidth": 2,
        **series_style(index),
    }


def _diagonal(label: str) -> dict[str, Any]:
    return {
        "label": label,
        "data": [{"x": 0, "y": 0}, {"x": 1, "y": 1}],
        "showLine": True,
        "pointRadius": 0,
        "borderColor": GUIDE_COLOUR,
        "backgroundColor": GUIDE_COLOUR,
        "borderDash": [4, 4],
        "borderWidth": 1,
    }


def _unit_axes(x_title: str, y_title: str) -> dict[str, Any]:
    return {
        "scales": {
            "x": {"type": "linear", **axis(x_title, minimum=0, maximum=1)},
            "y": {"type": "linear", **axis(y_title, minimum=0, maximum=1)},
        },
    }


class RocChart(ModelChartView):
    def version_chart(self) -> Chart:
        version, curves = self.version, _curves(self.version)
        live = live_performance(version=version)
        notes = _base_notes(version)
        metrics = (version.manifest or {}).get("metrics") or {}
        datasets: list[dict[str, Any]] = []
        rows: list[list[Any]] = []
        if curves and curves.get("roc"):
            auroc = metrics.get("auroc")
            label = "Training (out-of-fold)" + (f", AUROC {auroc:.3f}" if auroc else "")
            datasets.append(_scatter_line(label, 0, _xy(curves["roc"], "fpr", "tpr")))
            rows += [["Training", p["threshold"], p["fpr"], p["tpr"]] for p in curves["roc"]]
            notes.append(curves.get("roc_note", ""))
        else:
            notes.append(NOT_RECORDED)
        live_roc = live["roc"]
        if (
            self.hide_small
            and live_roc
            and min(live["positives"], live["n"] - live["positives"]) < SMALL_CELL
        ):
            live_roc = []
            notes.append(
                "Live curve: fewer than 5 patients with (or without) the outcome: not shown."
            )
        if live_roc:
            label = f"Live ({live['n']} outcomes), AUROC {live['auroc']:.3f}"
            datasets.append(_scatter_line(label, 1, _xy(live_roc, "fpr", "tpr")))
            rows += [
                ["Live", rounded(p["threshold"], 4), rounded(p["fpr"], 4), rounded(p["tpr"], 4)]
                for p in live_roc
            ]
        notes += _live_notes(live)
        if datasets:
            datasets.append(_diagonal("Chance (AUROC 0.5)"))
        return Chart(
            type="scatter",
            title=CHART_TITLES["roc"],
            description=self.described(
                "Sensitivity against false positive rate at every threshold"
            ),
            datasets=datasets,
            options=_unit_axes(
                "False positive rate (1 - specificity)", "Sensitivity (true positive rate)"
            ),
            table=Table(
                ["Source", "Threshold (flag at or above)", "False positive rate", "Sensitivity"],
                rows,
                "ROC points (threshold — is the point where nobody is flagged).",
            ),
            notes=[n for n in notes if n],
            empty_text=NOT_RECORDED + f" Live figures need {MIN_OUTCOMES} recorded outcomes.",
        )


class CalibrationChart(ModelChartView):
    def version_chart(self) -> Chart:
        version, curves = self.version, _curves(self.version)
        live = live_performance(version=version)
        notes = _base_notes(version)
        datasets: list[dict[str, Any]] = []
        training_bins = (curves or {}).get("calibration") or []
        if training_bins:
            datasets.append(
                _scatter_line(
                    "Training (out-of-fold)", 0, _xy(training_bins, "mean_predicted", "observed")
                )
            )
            notes.append(curves.get("calibration_note", "") if curves else "")
        else:
            notes.append(NOT_RECORDED)
        live_bins = [dict(b) for b in live["calibration"]]
        if self.hide_small and live_bins:
            shown, hidden = suppress_small([b["n"] for b in live_bins])
            for b, n in zip(live_bins, shown, strict=True):
                if n is None:
                    b.update(n=None, observed=None)
            if hidden:
                notes.append(f"Live bins: {SMALL_CELL_NOTE[0].lower()}{SMALL_CELL_NOTE[1:]}")
        if live_bins:
            label = f"Live ({live['n']} outcomes)"
            datasets.append(_scatter_line(label, 1, _xy(live_bins, "mean_predicted", "observed")))
        notes += _live_notes(live)
        if datasets:
            datasets.append(_diagonal("Perfect calibration"))
        by_bin: dict[float, list[Any]] = {}
        for b in training_bins:
            by_bin.setdefault(b["lower"], [None] * 6)[0:3] = [
                b["n"],
                b["mean_predicted"],
                b["observed"],
            ]
        for b in live_bins:
            by_bin.setdefault(b["lower"], [None] * 6)[3:6] = [
                b["n"],
                rounded(b["mean_predicted"], 4),
                rounded(b["observed"], 4),
            ]
        rows = [
            [f"{round(lower * 100)}-{round(lower * 100) + 10} %", *cells]
            for lower, cells in sorted(by_bin.items())
        ]
        return Chart(
            type="scatter",
            title=CHART_TITLES["calibration"],
            description=self.described(
                "Observed outcome rate against mean predicted probability, per tenth of "
                "predicted probability"
            ),
            datasets=datasets,
            options=_unit_axes("Mean predicted probability", "Observed outcome rate"),
            table=Table(
                [
                    "Predicted",
                    "Training n",
                    "Training mean predicted",
                    "Training observed",
                    "Live n",
                    "Live mean predicted",
                    "Live observed",
                ],
                rows,
                "Calibration bins.",
            ),
            notes=[n for n in notes if n],
            empty_text=NOT_RECORDED + f" Live figures need {MIN_OUTCOMES} recorded outcomes.",
        )


CONFUSION_CELLS = (
    ("tp", "True positives"),
    ("fp", "False positives"),
    ("fn", "False negatives"),
    ("tn", "True negatives"),
)


class ConfusionChart(ModelChartView):
    def version_chart(self) -> Chart:
        version, curves = self.version, _curves(self.version)
        live = live_performance(version=version)
        notes = _base_notes(version)
        threshold = model_threshold(version)
        datasets: list[dict[str, Any]] = []
        columns: list[list[Any]] = [[label] for _, label in CONFUSION_CELLS]
        heads = ["Cell"]
        training = (curves or {}).get("confusion")
        if training:
            counts = [training[key] for key, _ in CONFUSION_CELLS]
            total = sum(counts) or 1
            datasets.append(
                {
                    "label": "Training (out-of-fold)",
                    "data": [c / total for c in counts],
                    **series_style(0, fill=True),
                }
            )
            for column, count in zip(columns, counts, strict=True):
                column += [count, _pct(count / total)]
            heads += ["Training patients", "Training %"]
            notes.append(curves.get("confusion_note", "") if curves else "")
        else:
            notes.append(NOT_RECORDED)
        confusion = live["confusion"]
        if confusion:
            counts_or_none: list[int | None] = [confusion[key] for key, _ in CONFUSION_CELLS]
            total = sum(c for c in counts_or_none if c is not None) or 1
            if self.hide_small:
                counts_or_none, hidden = suppress_small(counts_or_none)
                if hidden:
                    notes.append(f"Live cells: {SMALL_CELL_NOTE[0].lower()}{SMALL_CELL_NOTE[1:]}")
            shares = [None if c is None else c / total for c in counts_or_none]
            datasets.append(
                {
                    "label": f"Live ({live['n']} outcomes)",
                    "data": shares,
                    **series_style(1, fill=True),
                }
            )
            for column, count, share in zip(columns, counts_or_none, shares, strict=True):
                column += [count, _pct(share)]
            heads += ["Live patients", "Live %"]
        notes += _live_notes(live)
        where = (
            f"probability ≥ {threshold:.1%}" if threshold is not None else "the operating threshold"
        )
        return Chart(
            type="bar",
            title=CHART_TITLES["confusion"],
            description=self.described(f"Share of patients in each cell when flagging {where}"),
            labels=[label for _, label in CONFUSION_CELLS],
            datasets=datasets,
            options={
                "scales": {
                    "x": axis("Cell of the confusion matrix"),
                    "y": axis("Share of patients", minimum=0, percent=True),
                }
            },
            table=Table(heads, columns, f"Counts and shares at {where}."),
            notes=[n for n in notes if n],
            empty_text=NOT_RECORDED + f" Live figures need {MIN_OUTCOMES} recorded outcomes.",
        )


def _subgroup_order(key: tuple[str, str]) -> tuple[int, int, str]:
    """Sex first, then age bands youngest first ("<50", "50-64", "65+": by their lower age)."""
    group, value = key
    if group == "age_band":
        digits = "".join(c for c in value.split("-")[0] if c.isdigit())
        lower = 0 if value.startswith("<") or not digits else int(digits)
        return (1, lower, value)
    return (0, 0, value)


def _sensitivity(row: dict[str, Any]) -> float | None:
    confusion = row.get("confusion")
    if not confusion:
        return None
    positives = confusion["tp"] + confusion["fn"]
    return confusion["tp"] / positives if positives else None


class SubgroupChart(ModelChartView):
    def version_chart(self) -> Chart:
        version = self.version
        manifest = version.manifest or {}
        live = live_performance(version=version)
        notes = _base_notes(version)
        training = {(g["group"], g["value"]): g for g in manifest.get("subgroups") or []}
        live_groups = {(g["group"], g["value"]): dict(g) for g in live["subgroups"]}
        if self.hide_small:
            hidden_any = False
            for family in ("sex", "age_band"):
                keys = [k for k in live_groups if k[0] == family]
                shown, hidden = suppress_small([live_groups[k]["n"] for k in keys])
                hidden_any |= hidden
                for key, n in zip(keys, shown, strict=True):
                    g = live_groups[key]
                    negatives = g["n"] - g["positives"]
                    if n is None or min(g["positives"], negatives) < SMALL_CELL:
                        g.update(positives=None, confusion=None)
                        hidden_any |= (
                            n is None or 0 < min(g["positives"] or 0, negatives) < SMALL_CELL
                        )
                    if n is None:
                        g.update(n=None, auroc=None)
            if hidden_any:
                notes.append(f"Live subgroups: {SMALL_CELL_NOTE[0].lower()}{SMALL_CELL_NOTE[1:]}")
        keys = sorted(set(training) | set(live_groups), key=_subgroup_order)
        labels = [f"{SUBGROUP_LABELS.get(g, g)}: {v}" for g, v in keys]
        series = (
            ("Training AUROC", [training.get(k, {}).get("auroc") for k in keys]),
            ("Live AUROC", [live_groups.get(k, {}).get("auroc") for k in keys]),
            ("Training sensitivity", [training.get(k, {}).get("sensitivity") for k in keys]),
            (
                "Live sensitivity",
                [_sensitivity(live_groups[k]) if k in live_groups else None for k in keys],
            ),
        )
        datasets = [
            {"label": label, "data": [rounded(v, 4) for v in values], **series_style(i, fill=True)}
            for i, (label, values) in enumerate(series)
            if any(v is not None for v in values)
        ]
        rows = []
        for i, key in enumerate(keys):
            rows.append(
                [
                    labels[i],
                    training.get(key, {}).get("n"),
                    series[0][1][i],
                    series[2][1][i],
                    live_groups.get(key, {}).get("n"),
                    rounded(series[1][1][i], 4),
                    rounded(series[3][1][i], 4),
                ]
            )
        if manifest.get("subgroup_note"):
            notes.append(f"Training: {manifest['subgroup_note']}")
        notes.append(
            f"Live subgroups come from the sex and age each assessment recorded; AUROC needs "
            f"{MIN_OUTCOMES} outcomes of both kinds in the group."
        )
        notes += _live_notes(live)
        return Chart(
            type="bar",
            title=CHART_TITLES["subgroups"],
            description=self.described(
                "AUROC and sensitivity at the operating threshold by sex and age band"
            ),
            labels=labels,
            datasets=datasets,
            options={
                "scales": {
                    "x": axis("Subgroup"),
                    "y": axis("AUROC / sensitivity", minimum=0, maximum=1),
                }
            },
            table=Table(
                [
                    "Subgroup",
                    "Training n",
                    "Training AUROC",
                    "Training sensitivity",
                    "Live n",
                    "Live AUROC",
                    "Live sensitivity",
                ],
                rows,
                "Subgroup figures; — where too few patients to estimate.",
            ),
            notes=[n for n in notes if n],
            empty_text=(
                "No subgroup figures were recorded for this version, and no live outcomes yet."
            ),
        )


class DriftChart(ModelChartView):
    def version_chart(self) -> Chart:
        version = self.version
        periods = input_drift_by_period(version=version, period="month")
        notes = _base_notes(version)
        if self.hide_small:
            small = [p for p in periods if p["n"] < SMALL_CELL]
            periods = [{**p, "n": None, "psi": {}} if p["n"] < SMALL_CELL else p for p in periods]
            if small:
                notes.append(f"Months with {SMALL_CELL_NOTE[0].lower()}{SMALL_CELL_NOTE[1:]}")
        labels = [p["period"] for p in periods]
        features = list((version.manifest or {}).get("reference") or {})
        titles = {
            f["name"]: f.get("label") or f["name"]
            for f in (version.manifest or {}).get("features") or []
            if isinstance(f, dict) and "name" in f
        }
        datasets = []
        for i, name in enumerate(features):
            values = [rounded(p["psi"].get(name), 4) for p in periods]
            if any(v is not None for v in values):
                datasets.append(
                    {
                        "label": titles.get(name, name),
                        "data": values,
                        "fill": False,
                        "spanGaps": True,
                        "borderWidth": 2,
                        **series_style(i),
                    }
                )
        if datasets:
            for value, label in PSI_GUIDES:
                datasets.append(
                    {
                        "label": label,
                        "data": [value] * len(labels),
                        "pointRadius": 0,
                        "borderDash": [6, 4],
                        "borderWidth": 1,
                        "borderColor": GUIDE_COLOUR if value < 0.2 else colour(7),
                        "backgroundColor": GUIDE_COLOUR,
                        "fill": False,
                    }
                )
        notes.append(
            "Population stability index of each input against its training distribution, per "
            "month the assessments were made: below 0.1 stable, 0.1 to 0.25 some shift, above 0.25 "
            "a large shift worth looking into (the dashed guide lines)."
        )
        thin = [p["period"] for p in periods if p["n"] is not None and p["n"] < PSI_STEADY_N]
        if thin:
            notes.append(
                f"{len(thin)} month(s) with fewer than {PSI_STEADY_N} assessments: with so few, "
                "empty bins inflate the PSI (it starts well above 0.25 from chance alone); read "
                "those months with caution."
            )
        every = periods[0]["every"] if periods else 1
        if every > 1:
            notes.append(
                f"Estimated on a systematic sample: every {every}th of the version's assessments."
            )
        rows = [
            [p["period"], p["n"], *[rounded(p["psi"].get(name), 4) for name in features]]
            for p in periods
        ]
        return Chart(
            type="line",
            title=CHART_TITLES["drift"],
            description=(
                f"How far the inputs of the {version_title(version)} (version "
                f"{version.version}) moved from its training data, per month of assessment."
            ),
            labels=labels,
            datasets=datasets,
            options={"scales": {"x": axis("Month of assessment"), "y": axis("PSI", minimum=0)}},
            table=Table(
                ["Month", "Assessments read", *[titles.get(n, n) for n in features]],
                rows,
                "PSI per input per month.",
            ),
            notes=notes,
            empty_text="This version has made no assessment yet: drift appears once it has.",
        )


CHARTS: tuple[tuple[str, type[ModelChartView]], ...] = (
    ("roc", RocChart),
    ("calibration", CalibrationChart),
    ("confusion", ConfusionChart),
    ("subgroups", SubgroupChart),
    ("drift", DriftChart),
)

urlpatterns: list[URLPattern] = [
    path("models/", models_page, name="models"),
    path("models/<uuid:version_id>/", model_quality_page, name="model_quality"),
    *[
        path(f"data/models/<uuid:version_id>/{kind}/", view.as_view(), name=f"data_model_{kind}")
        for kind, view in CHARTS
    ],
]
