"""A classifier trained (or fine-tuned) on a hospital's own labelled images."""

import time
from pathlib import Path
from typing import TextIO

import numpy as np

from imaging.ml.datasets import LabelledImages
from imaging.ml.networks import classifier_build, head_weights, joint_build, weights_copy
from imaging.ml.preprocess import INPUT_SIZE
from imaging.ml.training import fitting
from imaging.ml.training.bundle import bundle_write, name_check, packages
from imaging.ml.training.common import (
    DEFAULT_SEED,
    TrainedBundle,
    base_load,
    evaluate,
    manifest_common,
    normal_class_of,
)
from imaging.ml.training.runtime import (
    Progress,
    numpy_copy_warning_silenced,
    seed_all,
    tf_configure,
    training_dtype,
)

DEFAULT_LABELLED_EPOCHS = 10


@numpy_copy_warning_silenced
def train_labelled(
    data: LabelledImages,
    *,
    root: Path,
    name: str,
    epochs: int = DEFAULT_LABELLED_EPOCHS,
    seed: int = DEFAULT_SEED,
    base: Path | None = None,
    normal_class: str | None = None,
    progress: bool = True,
    stream: TextIO | None = None,
) -> TrainedBundle:
    """Train a classifier on a hospital's labelled images (no masks) and write its bundle.

    From scratch, or fine-tuned from `base` (its head replaced when the classes differ). The
    segmenter, which needs masks, is carried over unchanged from the base (with the base's
    segmentation metrics, marked as such); without a base the bundle has none. Metrics are on
    the data's test split; the validation split picks the best epoch."""
    started = time.monotonic()
    name_check(name)
    show = Progress(progress, stream)
    if epochs < 1:
        raise ValueError("Training needs at least 1 epoch.")
    if data.images.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
        raise ValueError(f"Images must be {INPUT_SIZE} x {INPUT_SIZE} model inputs.")
    x_train, y_train = data.part("train")
    x_test, y_test = data.part("test")
    if len(np.unique(y_train)) < 2 or not len(x_test):
        raise ValueError(
            "The data need training images of at least two classes and some test images."
        )
    classes = data.classes
    normal = normal_class_of(classes, normal_class)
    threads = tf_configure()
    seed_all(seed)
    dtype = training_dtype()
    prior = base_load(Path(base)) if base is not None else None
    seconds: dict[str, float] = {}

    verb = f"fine-tuning {prior.manifest.get('name')}" if prior else "training a classifier"
    show.stage(f"{verb} on {len(x_train)} images ({dtype}, {threads} threads)")
    mark = time.monotonic()
    model = joint_build(len(classes), dtype=dtype, with_decoder=False)
    if prior is not None:
        same = tuple(prior.manifest["classes"]) == classes
        weights_copy(prior.classifier, model, skip=() if same else ("logits",))
    history = fitting.fit_whole_images(
        model,
        x_train,
        y_train,
        epochs=epochs,
        fine_tune=prior is not None,
        progress=show,
        validation=data.part("val"),
    )
    classifier = classifier_build(len(classes))
    weights_copy(model, classifier)
    kernel, bias = head_weights(classifier)
    seconds["fit"] = time.monotonic() - mark

    show.stage(f"evaluating on {len(x_test)} test images")
    mark = time.monotonic()
    metrics = evaluate(classifier, None, kernel, x_test, y_test, None, classes)
    # Without masks the segmenter cannot be trained: the base's is kept, with its own figures.
    carried = prior if prior is not None and prior.segmenter is not None else None
    base_label = (
        ""
        if carried is None
        else f"{carried.manifest.get('name')} {carried.manifest.get('version')}"
    )
    if carried is not None and (carried.manifest.get("metrics") or {}).get("segmenter"):
        metrics["segmenter"] = {
            **carried.manifest["metrics"]["segmenter"],
            "carried_over_from": base_label,
            "note": "Measured on the base model's test images: this training had no masks.",
        }
    seconds["evaluate"] = time.monotonic() - mark

    limitations = [
        f"Trained on {data.description}: it knows only the classes {', '.join(classes)} and "
        "images like these.",
        "Images are reduced to 128 x 128 pixels: findings a few pixels across at that size "
        "are invisible to it.",
        "Heatmaps have 1/8 of the input's resolution: they point at a region, not an outline.",
    ]
    if len(x_test) < 100:
        limitations.append(
            f"Tested on {len(x_test)} images only: its figures are uncertain by several points."
        )
    segmenter_parameters = None
    if carried is not None:
        limitations.append(
            f"The lesion segmenter was not trained on these data: it is carried over from "
            f"{base_label}"
            + (" (synthetic phantoms)." if carried.manifest.get("is_synthetic") else ".")
        )
        segmenter_parameters = (carried.manifest.get("parameters") or {}).get("segmenter")
    manifest = {
        **manifest_common(
            classes=classes,
            normal_class=normal,
            modalities=sorted(set(data.modalities)),
            classifier=classifier,
            segmenter_parameters=segmenter_parameters,
            base=prior,
            training={
                "seed": seed,
                "epochs": epochs,
                "precision": dtype,
                "threads": threads,
                "method": fitting.WHOLE_IMAGE_METHOD,
                "history": history,
                "seconds": {k: round(v, 2) for k, v in seconds.items()},
                "packages": packages(),
            },
            metrics=metrics,
        ),
        "is_synthetic": False,
        "training_data": {
            "source": data.source,
            "description": data.description,
            "counts": data.counts(),
        },
        "intended_use": (
            f"Research and decision support on images like its training data "
            f"({data.description}); a radiologist reads every image."
        ),
        "limitations": limitations,
        "card_warning": (
            "Trained on local data and not a certified medical device: validate it on your own "
            "patients before relying on it."
        ),
    }
    show.stage("exporting to ONNX and writing the bundle")
    folder, manifest = bundle_write(
        root,
        name,
        classifier=classifier,
        kernel=kernel,
        bias=bias,
        segmenter=None,
        carried_segmenter=None if carried is None else carried.folder,
        manifest=manifest,
        check_images=x_test[:8],
    )
    show.stage(f"saved {folder}")
    return TrainedBundle(folder, manifest, time.monotonic() - started)
