"""How the imaging pages word and format a study and a model card: percentages, urgency levels,
waiting times, class bars, stage timings, card metrics. Presentation only: no queries, no access
checks."""

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from imaging.models import ImagingModelVersion, Study, StudyReport
from imaging.selectors import study_title

# Said on every result of a model trained on synthetic images when its manifest has no warning.
SYNTHETIC_WARNING = "Demo model trained on synthetic images, not for clinical use."
URGENCY_HIGH = 0.5
URGENCY_MODERATE = 0.2
STAGES = (
    ("queue", "Waiting in the queue"),
    ("decode", "Decoding the file"),
    ("preprocess", "Preparing the pixels"),
    ("classify", "Classification (CNN)"),
    ("heatmap", "Heatmap (Grad-CAM)"),
    ("segment", "Lesion segmentation"),
    ("render", "Rendering the images"),
    ("write", "Saving the results"),
)
CLASS_LABELS = {"normal": "No abnormal finding", "nodule": "Nodule", "opacity": "Opacity"}


def percent(probability: float | None) -> str:
    """0.234 -> "23 %", 0.042 -> "4.2 %", 0.0004 -> "< 0.1 %"; "—" for none."""
    if probability is None or not math.isfinite(probability):
        return "—"
    value = probability * 100
    if value < 0.1:
        return "< 0.1 %"
    if value > 99.9:
        return "> 99.9 %"
    return f"{value:.1f} %" if value < 10 else f"{value:.0f} %"


def urgency_level(probability: float | None) -> str:
    """ "high", "moderate", "low" (AI probability of an abnormal finding) or "" when pending."""
    if probability is None:
        return ""
    if probability >= URGENCY_HIGH:
        return "high"
    return "moderate" if probability >= URGENCY_MODERATE else "low"


def duration(seconds: float) -> str:
    """A waiting time as people say it: "40 s", "12 min", "3 h 5 min", "2 days"."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def eta(seconds: float) -> str:
    """An estimate, rounded so that it does not pretend to precision: "about 5 s", "about 2 min"."""
    if seconds < 60:
        return f"about {max(1, math.ceil(seconds))} s"
    return f"about {math.ceil(seconds / 60)} min"


def study_heading(study: Study) -> str:
    """study_title, or the file's kind ("PNG image") when the content names no modality."""
    if study.modality in ("OT", "") and not study.body_part:
        return study.get_kind_display()
    return study_title(study)


def class_label(name: str) -> str:
    return CLASS_LABELS.get(name, name.replace("_", " ").capitalize())


def warning_of(version: ImagingModelVersion | None) -> str:
    """The card's warning of a synthetic model (exactly the manifest's words), else ""."""
    if version is None:
        return ""
    warning = str((version.manifest or {}).get("card_warning", "") or "")
    if version.is_synthetic:
        return warning or SYNTHETIC_WARNING
    return warning


@dataclass(frozen=True)
class ClassBar:
    """One class's probability; `width` is its bar in steps of 5 %."""

    name: str
    label: str
    probability: float
    percent: str
    width: int
    predicted: bool
    normal: bool


def class_bars(study: Study) -> list[ClassBar]:
    """Every class, most probable first."""
    probabilities = study.probabilities or {}
    normal = study.model_version.normal_class if study.model_version else "normal"
    bars = []
    for name, raw in sorted(probabilities.items(), key=lambda kv: -float(kv[1])):
        value = float(raw)
        bars.append(
            ClassBar(
                name=name,
                label=class_label(name),
                probability=value,
                percent=percent(value),
                width=max(0, min(100, 5 * round(value * 20))),
                predicted=name == study.predicted_class,
                normal=name == normal,
            )
        )
    return bars


def finding(study: Study) -> str:
    """The AI finding in words ("Nodule", "No abnormal finding"), "" before the result."""
    if study.state != Study.State.DONE or not study.predicted_class:
        return ""
    return class_label(study.predicted_class)


def stage_rows(timings: dict[str, Any]) -> tuple[list[dict[str, str]], str]:
    """The per-stage milliseconds of a study, in pipeline order, and the analysis total (the
    queue wait excluded)."""
    rows = []
    total = 0.0
    known = {key for key, _ in STAGES}
    ordered = [*STAGES, *((k, k.capitalize()) for k in sorted(timings) if k not in known)]
    for key, label in ordered:
        value = timings.get(key)
        if key == "frames_analysed" or not isinstance(value, int | float):
            continue
        rows.append({"key": key, "label": label, "ms": _ms(float(value))})
        if key != "queue":
            total += float(value)
    return rows, _ms(total)


def _ms(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def report_state(study: Study) -> tuple[str, str]:
    """(key, words) of a study's report for lists: signed, draft, none."""
    report: StudyReport | None = getattr(study, "report", None)
    if report is None:
        return "none", "No report yet" if study.state == Study.State.DONE else "—"
    if report.status == StudyReport.Status.SIGNED:
        return "signed", "Signed"
    return "draft", "AI draft, not signed"


def waited(study: Study, now: dt.datetime) -> str:
    return duration((now - study.uploaded_at).total_seconds())


# --- model cards -------------------------------------------------------------------------------

METRIC_NAMES = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "auroc_macro": "AUROC (mean over classes)",
    "macro_auroc": "AUROC (mean over classes)",
    "auroc": "AUROC",
    "dice": "Dice (lesion mask overlap)",
    "iou": "IoU (lesion mask overlap)",
    "pointing_game": "Pointing game (heatmap peak inside the lesion)",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "f1": "F1",
    "f1_macro": "F1 (mean over classes)",
    "loss": "Loss",
}
METRIC_WORDS = {
    "accuracy": "Share of test images whose most probable class was right.",
    "dice": "Overlap of the predicted and the true lesion mask (1 = identical).",
    "iou": "Intersection over union of the predicted and the true lesion mask.",
    "pointing_game": "Share of abnormal test images whose heatmap peak lies inside the lesion.",
}


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        out.update(_flatten(value, path) if isinstance(value, dict) else {path: value})
    return out


def _figure(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.3f}"


def _metric_name(path: str) -> str:
    leaf = path.rsplit(".", 1)[-1]
    name = METRIC_NAMES.get(leaf, leaf.replace("_", " ").capitalize())
    parent = path.rsplit(".", 1)[0] if "." in path else ""
    return f"{name} ({parent.replace('_', ' ').replace('.', ', ')})" if parent else name


def _per_class(
    metrics: dict[str, Any], classes: list[str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """(column headers, rows) of per-class measures, from {"auroc": {class: value}} or
    {"per_class": {class: {measure: value}}}."""
    columns: dict[str, dict[str, Any]] = {}
    for key in ("auroc", "per_class_auroc", "auroc_per_class"):
        value = metrics.get(key)
        if isinstance(value, dict) and value and set(value) <= set(classes):
            columns["AUROC"] = value
    per_class = metrics.get("per_class")
    if isinstance(per_class, dict):
        for name, measures in per_class.items():
            if isinstance(measures, dict):
                for measure, value in measures.items():
                    label = METRIC_NAMES.get(measure, measure.replace("_", " ").capitalize())
                    columns.setdefault(label, {})[name] = value
    rows = [
        {
            "name": name,
            "label": class_label(name),
            "values": [_figure(column.get(name, "—")) for column in columns.values()],
        }
        for name in classes
    ]
    return (list(columns), rows) if columns else ([], [])


def _confusion(
    metrics: dict[str, Any], classes: list[str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """(labels, rows) of the confusion matrix: rows are the true class, columns the predicted."""
    matrix = metrics.get("confusion_matrix", metrics.get("confusion"))
    labels = list(classes)
    if isinstance(matrix, dict):
        labels = [str(x) for x in matrix.get("labels", classes)]
        matrix = matrix.get("matrix", matrix.get("counts"))
    if not isinstance(matrix, list) or not matrix or len(matrix) != len(labels):
        return [], []
    rows = []
    for i, (label, counts) in enumerate(zip(labels, matrix, strict=True)):
        if not isinstance(counts, list) or len(counts) != len(labels):
            return [], []
        numbers = [c if isinstance(c, int | float) else 0 for c in counts]
        total = sum(numbers) or 1
        rows.append(
            {
                "label": class_label(label),
                "total": _figure(sum(numbers)),
                "cells": [
                    {"count": _figure(c), "diagonal": i == j, "share": round(100 * c / total)}
                    for j, c in enumerate(numbers)
                ],
            }
        )
    return [class_label(label) for label in labels], rows


def card_metrics(metrics: dict[str, Any], classes: list[str]) -> dict[str, Any]:
    """A manifest's metrics as the card shows them: per-class rows, the confusion matrix and the
    remaining single figures (accuracy, Dice, IoU, pointing game...), whatever their nesting."""
    # train_imaging_models writes the classifier's figures under "classifier" (imaging.ml).
    classifier = metrics.get("classifier")
    classifier = classifier if isinstance(classifier, dict) else metrics
    header, per_class = _per_class(classifier, classes)
    labels, confusion = _confusion(classifier, classes)
    skip = {"confusion_matrix", "confusion", "per_class"}
    if per_class:
        skip |= {"auroc", "per_class_auroc", "auroc_per_class"}

    def kept(data: dict[str, Any]) -> dict[str, Any]:
        return {
            k: kept(v) if v is classifier and isinstance(v, dict) else v
            for k, v in data.items()
            if k not in skip
        }

    scalars = []
    for path, value in _flatten(kept(metrics)).items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        leaf = path.rsplit(".", 1)[-1]
        scalars.append(
            {
                "label": _metric_name(path),
                "value": _figure(value),
                "words": METRIC_WORDS.get(leaf, ""),
            }
        )
    return {
        "per_class_header": header,
        "per_class": per_class,
        "confusion_labels": labels,
        "confusion": confusion,
        "scalars": scalars,
    }


def kv_rows(data: Any) -> list[dict[str, str]]:
    """A manifest dict (training data, parameters) as (label, value) rows."""
    if not isinstance(data, dict):
        return [{"label": "", "value": str(data)}] if data else []
    rows = []
    for path, value in _flatten(data).items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        label = path.replace("_", " ").replace(".", " · ")
        rows.append({"label": label[:1].upper() + label[1:], "value": _figure(value)})
    return rows
