"""The figures on an imaging model's card, computed on its held-out test images.

numpy and scikit-learn only. Classification: one-vs-rest AUROC per class, their mean (macro),
accuracy of the most probable class, and the confusion matrix (rows: true class, columns:
predicted). Segmentation: Dice and IoU of the masks thresholded at 0.5, averaged over the test
images that have a lesion. Heatmaps: the pointing game, the share of lesion images whose heatmap
peaks within `tolerance_px` pixels of a lesion pixel.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score


def classification_metrics(
    probabilities: np.ndarray, labels: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """{auroc_per_class {class: AUROC or None}, macro_auroc, accuracy, confusion_matrix, n_test}.

    A class's AUROC is None when the test set lacks it (or has nothing else); the macro mean is
    over the classes that have one (None if none has)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = len(classes)
    if probabilities.shape != (len(labels), n_classes):
        raise ValueError(
            f"Expected probabilities of shape ({len(labels)}, {n_classes}); "
            f"got {probabilities.shape}."
        )
    per_class: dict[str, float | None] = {}
    for index, name in enumerate(classes):
        positive = labels == index
        if positive.all() or not positive.any():
            per_class[name] = None
        else:
            per_class[name] = float(roc_auc_score(positive, probabilities[:, index]))
    defined = [value for value in per_class.values() if value is not None]
    predicted = probabilities.argmax(axis=1) if len(labels) else np.zeros(0, np.int64)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    return {
        "auroc_per_class": per_class,
        "macro_auroc": float(np.mean(defined)) if defined else None,
        "accuracy": float(np.mean(predicted == labels)) if len(labels) else None,
        "confusion_matrix": confusion.tolist(),
        "n_test": len(labels),
    }


def dice_iou(predicted: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image Dice and IoU of boolean masks (N, H, W). Two empty masks score 1 (agreement)."""
    predicted = np.asarray(predicted, dtype=bool).reshape(len(predicted), -1)
    truth = np.asarray(truth, dtype=bool).reshape(len(truth), -1)
    overlap = (predicted & truth).sum(axis=1)
    total = predicted.sum(axis=1) + truth.sum(axis=1)
    union = (predicted | truth).sum(axis=1)
    empty = total == 0
    dice = np.where(empty, 1.0, 2 * overlap / np.maximum(total, 1))
    iou = np.where(empty, 1.0, overlap / np.maximum(union, 1))
    return dice, iou


def segmentation_metrics(
    probabilities: np.ndarray, masks: np.ndarray, *, threshold: float = 0.5
) -> dict[str, Any] | None:
    """{dice, iou, n_test}: means over the images whose true mask is not empty, of the predicted
    lesion probabilities (N, H, W) thresholded at `threshold`. None when no image has a lesion."""
    masks = np.asarray(masks).astype(bool)
    lesion = masks.reshape(len(masks), -1).any(axis=1)
    if not lesion.any():
        return None
    dice, iou = dice_iou(np.asarray(probabilities)[lesion] >= threshold, masks[lesion])
    return {"dice": float(dice.mean()), "iou": float(iou.mean()), "n_test": int(lesion.sum())}


def pointing_hits(heatmaps: np.ndarray, masks: np.ndarray, *, tolerance_px: float) -> np.ndarray:
    """Per image (N,) bool: the heatmap's highest pixel lies within `tolerance_px` (Euclidean) of
    a pixel of the mask, i.e. inside the mask dilated by that disc. False for an empty mask."""
    heatmaps = np.asarray(heatmaps)
    masks = np.asarray(masks).astype(bool)
    hits = np.zeros(len(heatmaps), dtype=bool)
    for i, (heatmap, mask) in enumerate(zip(heatmaps, masks, strict=True)):
        rows, cols = np.nonzero(mask)
        if not len(rows):
            continue
        peak_row, peak_col = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
        distance = np.hypot(rows - peak_row, cols - peak_col).min()
        hits[i] = distance <= tolerance_px
    return hits


def pointing_game(
    heatmaps: np.ndarray, masks: np.ndarray, *, tolerance_px: float
) -> dict[str, Any] | None:
    """{pointing_game, n_test, tolerance_px} over the images whose mask is not empty (None if
    none is): the share whose heatmap peaks inside the lesion dilated by `tolerance_px`."""
    masks = np.asarray(masks).astype(bool)
    lesion = masks.reshape(len(masks), -1).any(axis=1)
    if not lesion.any():
        return None
    hits = pointing_hits(np.asarray(heatmaps)[lesion], masks[lesion], tolerance_px=tolerance_px)
    return {
        "pointing_game": float(hits.mean()),
        "n_test": int(lesion.sum()),
        "tolerance_px": float(tolerance_px),
    }
