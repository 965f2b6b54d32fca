"""What synthetic and labelled training share: the base bundle to fine-tune, predictions,
evaluation on the test images, and the manifest fields every bundle has."""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from imaging.ml import metrics as m
from imaging.ml.networks import DECODER, ENCODER, parameter_count
from imaging.ml.preprocess import CT_WINDOW, INPUT_SIZE, PERCENTILES
from imaging.ml.serving import ImagingBundle, class_activation_map
from imaging.ml.training.bundle import CLASSIFIER_KERAS, SEGMENTER_KERAS

DEFAULT_SEED = 20240601
PREDICT_BATCH = 64


@dataclass(frozen=True)
class TrainedBundle:
    """A bundle written to `folder`, its manifest, and the wall seconds the training took."""

    folder: Path
    manifest: dict[str, Any]
    seconds: float


@dataclass(frozen=True)
class Base:
    """A verified bundle to fine-tune: its folder, manifest and Keras networks (float32)."""

    folder: Path
    manifest: dict[str, Any]
    classifier: keras.Model
    segmenter: keras.Model | None


def base_load(folder: Path) -> Base:
    """A base bundle for fine-tuning: every digest verified (ImagingBundle.load), then its Keras
    files loaded."""
    bundle = ImagingBundle.load(folder)
    if bundle.input_size != INPUT_SIZE:
        raise ValueError(f"The base model takes {bundle.input_size} pixels, not {INPUT_SIZE}.")
    classifier = keras.models.load_model(folder / CLASSIFIER_KERAS, compile=False)
    segmenter = None
    if (folder / SEGMENTER_KERAS).is_file():
        segmenter = keras.models.load_model(folder / SEGMENTER_KERAS, compile=False)
    return Base(Path(folder), bundle.manifest, classifier, segmenter)


def predict(model: keras.Model, images: np.ndarray) -> Any:
    """The model's output(s) for images (N, S, S), in batches."""
    return model.predict(images[..., None], batch_size=PREDICT_BATCH, verbose=0)


def pointing_tolerance(size: int, feature_size: int) -> int:
    """The heatmap's own resolution, in pixels: it peaks on the centre of a feature cell, which
    lies up to half a cell's diagonal from any point of that cell."""
    return math.ceil(size / feature_size / math.sqrt(2))


def evaluate(
    classifier: keras.Model,
    segmenter: keras.Model | None,
    kernel: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
    masks: np.ndarray | None,
    classes: tuple[str, ...],
) -> dict[str, Any]:
    """The manifest's metrics on the test images (see imaging.ml.metrics). The heatmap of each
    lesion image is the class activation map of its TRUE class, as bundle.heatmap computes it."""
    probabilities, features = predict(classifier, images)
    result: dict[str, Any] = {
        "classifier": m.classification_metrics(probabilities, labels, classes),
        "segmenter": None,
        "heatmap": None,
    }
    if masks is None:
        return result
    if segmenter is not None:
        result["segmenter"] = m.segmentation_metrics(predict(segmenter, images)[..., 0], masks)
    lesion = np.flatnonzero(masks.reshape(len(masks), -1).any(axis=1))
    size = images.shape[1]
    heatmaps = (
        np.stack([class_activation_map(features[i], kernel, int(labels[i]), size) for i in lesion])
        if len(lesion)
        else np.zeros((0, size, size), np.float32)
    )
    tolerance = pointing_tolerance(size, features.shape[1])
    result["heatmap"] = m.pointing_game(heatmaps, masks[lesion], tolerance_px=tolerance)
    if result["heatmap"] is not None:
        result["heatmap"]["method"] = "class activation map of the true class (== Grad-CAM)"
    return result


def rounded(value: Any) -> Any:
    """Floats rounded to 4 decimals, in nested dicts and lists too (the card shows no more)."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def architecture() -> dict[str, str]:
    """The two networks in words, for the model card."""
    stages = ", ".join("x".join(str(w) for w in widths) for _, widths in ENCODER)
    return {
        "classifier": (
            f"CNN: 3x3 conv + batch norm + ReLU stages of {stages} filters with 2x2 max-pooling "
            "between them; global average pooling; dense softmax head. Outputs probabilities "
            "and the last feature maps (for class activation maps)."
        ),
        "segmenter": (
            "U-Net: the classifier's encoder; decoder upsampling twice with skip connections "
            f"({', '.join(str(width) for _, _, width in DECODER)} filters) to lesion logits at "
            "half resolution, bilinearly upsampled; sigmoid."
        ),
    }


def manifest_common(
    *,
    classes: tuple[str, ...],
    normal_class: str,
    modalities: list[str],
    classifier: keras.Model,
    segmenter_parameters: int | None,
    base: Base | None,
    training: dict[str, Any],
    metrics: dict[str, Any],
) -> dict[str, Any]:
    """The manifest fields that every bundle has, whatever it was trained on."""
    return {
        "classes": list(classes),
        "normal_class": normal_class,
        "input_size": INPUT_SIZE,
        "modalities": modalities,
        "parameters": {
            "classifier": parameter_count(classifier),
            "segmenter": segmenter_parameters,
        },
        "architecture": architecture(),
        "preprocessing": {
            "function": "imaging.ml.preprocess.model_input",
            "ct_window_center_width_hu": list(CT_WINDOW),
            "other_modalities_percentiles": list(PERCENTILES),
            "resize": f"bilinear (antialiased when shrinking) to {INPUT_SIZE} x {INPUT_SIZE}",
        },
        "base": None
        if base is None
        else {
            "name": base.manifest.get("name"),
            "version": base.manifest.get("version"),
            "sha256": base.manifest.get("sha256"),
            "is_synthetic": base.manifest.get("is_synthetic"),
            "source": (base.manifest.get("training_data") or {}).get("source"),
        },
        "metrics": rounded(metrics),
        "training": training,
    }


def normal_class_of(classes: tuple[str, ...], requested: str | None) -> str:
    """The class meaning "no finding": `requested` (which must be a class), else a class named
    "normal", else the first."""
    if requested is not None:
        if requested not in classes:
            raise ValueError(
                f"Normal class {requested!r} is not one of the classes ({', '.join(classes)})."
            )
        return requested
    return "normal" if "normal" in classes else classes[0]
