"""Writing a bundle: ONNX export, head weights, Keras files and manifest, all-or-nothing.

Everything is written into a hidden staging folder beside the final one, loaded back through
serving.ImagingBundle (which verifies every digest) and compared with Keras on real images;
only then is the folder renamed to its version. A crash leaves a `.staging-*` folder that no
reader mistakes for a bundle; a half-written bundle never carries a version's name.
"""

import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
import tf2onnx

from healthmentor.artifacts import manifest_write, sha256_file
from imaging.ml.serving import (
    CLASSIFIER_FILE,
    HEAD_FILE,
    SEGMENTER_FILE,
    ImagingBundle,
)

CLASSIFIER_KERAS = "classifier.keras"
SEGMENTER_KERAS = "segmenter.keras"
ONNX_OPSET = 17
PARITY_TOLERANCE = 1e-4
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,59}$")
SYNTHETIC_WARNING = "Demo model trained on synthetic images, not for clinical use."


class ExportError(RuntimeError):
    """The exported ONNX model does not compute what the Keras model computes."""


def name_check(name: str) -> str:
    """`name` if it can name a bundle's folder, else ValueError (checked before training)."""
    if not NAME_PATTERN.match(name):
        raise ValueError(
            f"Model name {name!r} must be 1-60 lower-case letters, digits, '.', '_' or '-'."
        )
    return name


def onnx_bytes(model: keras.Model, outputs: Callable[[Any], dict[str, Any]], size: int) -> bytes:
    """ONNX (opset ONNX_OPSET) of `model`, input "image" (N, size, size, 1) float32, outputs
    named by `outputs(model_output)`. Through a tf.function: tf2onnx's from_keras does not
    understand Keras 3 models."""
    spec = (tf.TensorSpec((None, size, size, 1), tf.float32, name="image"),)

    @tf.function(input_signature=spec)
    def serve(image: Any) -> dict[str, Any]:
        return outputs(model(image, training=False))

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=spec, opset=ONNX_OPSET)
    return bytes(proto.SerializeToString())


def packages() -> dict[str, str]:
    """Versions of the packages that made (or run) the bundle."""
    found = {}
    for name in ("tensorflow-cpu", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"):
        try:
            found[name] = package_version(name)
        except PackageNotFoundError:
            continue
    found["numpy"] = np.__version__
    return found


def _parity(
    folder: Path,
    classifier: keras.Model,
    segmenter: keras.Model | None,
    images: np.ndarray,
) -> float:
    """Largest |ONNX - Keras| over probabilities and lesion probabilities on `images`; raises
    ExportError above PARITY_TOLERANCE."""
    bundle = ImagingBundle.load(folder)
    onnx_probabilities, _ = bundle.classify(images)
    keras_probabilities = np.asarray(classifier(images[..., None], training=False)[0])
    worst = float(np.abs(onnx_probabilities - keras_probabilities).max())
    if segmenter is not None and bundle.has_segmenter:
        keras_mask = np.asarray(segmenter(images[:1, ..., None], training=False))[0, ..., 0]
        worst = max(worst, float(np.abs(bundle.segment(images[0]) - keras_mask).max()))
    if worst > PARITY_TOLERANCE:
        raise ExportError(
            f"The exported ONNX model differs from Keras by {worst:.2e} (allowed "
            f"{PARITY_TOLERANCE:.0e}); the bundle was not saved."
        )
    return worst


def bundle_write(
    root: Path,
    name: str,
    *,
    classifier: keras.Model,
    kernel: np.ndarray,
    bias: np.ndarray,
    segmenter: keras.Model | None,
    carried_segmenter: Path | None,
    manifest: dict[str, Any],
    check_images: np.ndarray,
) -> tuple[Path, dict[str, Any]]:
    """Write root/name/<version>/ (see the module docstring) and return (folder, manifest).

    `classifier` and `segmenter` are float32 Keras models; `kernel`/`bias` the classifier's
    dense head as served. `carried_segmenter` is a base bundle's folder whose segmenter files
    are copied unchanged (when this training had no masks). `manifest` holds every field but
    version, created_at, sha256 and files, which are added here."""
    parent = Path(root) / name_check(name)
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=parent))
    try:
        size = int(classifier.input.shape[1])
        (staging / CLASSIFIER_FILE).write_bytes(
            onnx_bytes(
                classifier,
                lambda out: {"probabilities": out[0], "features": out[1]},
                size,
            )
        )
        np.savez(
            staging / HEAD_FILE, kernel=kernel.astype(np.float32), bias=bias.astype(np.float32)
        )
        classifier.save(staging / CLASSIFIER_KERAS)
        if segmenter is not None:
            (staging / SEGMENTER_FILE).write_bytes(
                onnx_bytes(segmenter, lambda out: {"mask": out}, size)
            )
            segmenter.save(staging / SEGMENTER_KERAS)
        elif carried_segmenter is not None:
            for file in (SEGMENTER_FILE, SEGMENTER_KERAS):
                if (carried_segmenter / file).is_file():
                    shutil.copyfile(carried_segmenter / file, staging / file)
        files = {
            path.name: sha256_file(path)
            for path in sorted(staging.iterdir())
            if path.is_file() and path.name != "manifest.json"
        }
        created = datetime.now(UTC)
        version = f"{created:%Y%m%d-%H%M%S}-{files[CLASSIFIER_FILE][:8]}"
        complete = {
            "name": name,
            "version": version,
            "created_at": created.isoformat(timespec="seconds"),
            **manifest,
            "sha256": files[CLASSIFIER_FILE],
            "files": files,
        }
        manifest_write(staging, complete)
        complete["export"] = {
            "onnx_opset": ONNX_OPSET,
            "max_abs_difference_onnx_vs_keras": _parity(
                staging, classifier, segmenter, check_images
            ),
        }
        manifest_write(staging, complete)
        folder = parent / version
        staging.rename(folder)  # atomic on one filesystem; fails if the version exists
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder, complete
