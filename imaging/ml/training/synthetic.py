"""The demo bundle: classifier and U-Net trained on seeded synthetic phantoms."""

import time
from pathlib import Path
from typing import TextIO

from imaging.ml.networks import (
    classifier_build,
    joint_build,
    parameter_count,
    segmenter_build,
    weights_copy,
)
from imaging.ml.phantoms import CLASSES, MODALITIES, phantom_batch
from imaging.ml.preprocess import INPUT_SIZE
from imaging.ml.training import fitting
from imaging.ml.training.bundle import SYNTHETIC_WARNING, bundle_write, name_check, packages
from imaging.ml.training.common import (
    DEFAULT_SEED,
    TrainedBundle,
    base_load,
    evaluate,
    manifest_common,
    predict,
)
from imaging.ml.training.runtime import (
    Progress,
    numpy_copy_warning_silenced,
    seed_all,
    tf_configure,
    training_dtype,
)

DEMO_NAME = "chest-phantom-cnn"
DEFAULT_SAMPLES = 3000
DEFAULT_EPOCHS = 5
TEST_FRACTION = 0.2
CROP = INPUT_SIZE * 3 // 8  # 48 at 128: lesions fill more of the input, steps cost less


@numpy_copy_warning_silenced
def train_synthetic(
    *,
    root: Path,
    name: str = DEMO_NAME,
    samples: int = DEFAULT_SAMPLES,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = DEFAULT_SEED,
    base: Path | None = None,
    progress: bool = True,
    stream: TextIO | None = None,
) -> TrainedBundle:
    """Train the demo bundle (classifier and U-Net) on `samples` seeded phantoms, 80 % for
    training on lesion-centred crops and 20 % held out for the metrics; write it under
    root/name/<version>/. With `base` (a bundle folder), start from its networks."""
    started = time.monotonic()
    name_check(name)
    show = Progress(progress, stream)
    if samples < 30 or epochs < 1:
        raise ValueError("Synthetic training needs at least 30 samples and 1 epoch.")
    threads = tf_configure()
    seed_all(seed)
    dtype = training_dtype()
    prior = base_load(Path(base)) if base is not None else None
    seconds: dict[str, float] = {}

    show.stage(f"generating {samples} phantoms ({', '.join(MODALITIES)})")
    mark = time.monotonic()
    batch = phantom_batch(samples, seed=seed)
    n_test = max(round(samples * TEST_FRACTION), len(CLASSES))
    train, test = slice(0, samples - n_test), slice(samples - n_test, samples)
    seconds["phantoms"] = time.monotonic() - mark

    show.stage(f"training classifier + U-Net on {CROP}x{CROP} crops ({dtype}, {threads} threads)")
    mark = time.monotonic()
    joint = joint_build(len(CLASSES), size=CROP, dtype=dtype)
    if prior is not None:
        if prior.segmenter is not None:
            weights_copy(prior.segmenter, joint)
        same = tuple(prior.manifest["classes"]) == CLASSES
        weights_copy(prior.classifier, joint, skip=() if same else ("logits",))
    history = fitting.fit_on_crops(
        joint,
        batch.images[train],
        batch.labels[train],
        batch.masks[train],
        batch.lungs[train],
        epochs=epochs,
        seed=seed,
        normal_index=CLASSES.index("normal"),
        fine_tune=prior is not None,
        progress=show,
    )
    classifier, segmenter = classifier_build(len(CLASSES)), segmenter_build()
    weights_copy(joint, classifier)
    weights_copy(joint, segmenter)
    seconds["fit"] = time.monotonic() - mark

    show.stage("fitting the dense head on whole images")
    mark = time.monotonic()
    kernel, bias = fitting.head_fit(
        lambda images: predict(classifier, images)[1],
        batch.images[train],
        batch.labels[train],
        n_classes=len(CLASSES),
        seed=seed,
    )
    classifier.get_layer("logits").set_weights([kernel, bias])
    seconds["head"] = time.monotonic() - mark

    show.stage(f"evaluating on {n_test} held-out phantoms")
    mark = time.monotonic()
    metrics = evaluate(
        classifier,
        segmenter,
        kernel,
        batch.images[test],
        batch.labels[test],
        batch.masks[test],
        CLASSES,
    )
    seconds["evaluate"] = time.monotonic() - mark

    def counts(part: slice) -> dict[str, int]:
        return {c: int((batch.labels[part] == i).sum()) for i, c in enumerate(CLASSES)}

    manifest = {
        **manifest_common(
            classes=CLASSES,
            normal_class="normal",
            modalities=list(MODALITIES),
            classifier=classifier,
            segmenter_parameters=parameter_count(segmenter),
            base=prior,
            training={
                "seed": seed,
                "samples": samples,
                "epochs": epochs,
                "precision": dtype,
                "threads": threads,
                "method": fitting.CROP_METHOD,
                "crop_size": CROP,
                "head": f"multinomial logistic regression, C={fitting.HEAD_C} (standardised)",
                "history": history,
                "seconds": {k: round(v, 2) for k, v in seconds.items()},
                "packages": packages(),
            },
            metrics=metrics,
        ),
        "is_synthetic": True,
        "training_data": {
            "source": "synthetic",
            "description": (
                "Seeded physics-based chest phantoms (imaging.ml.phantoms): DX projection "
                "radiographs (Beer-Lambert line integrals), CT slices in Hounsfield units and "
                "MR slices with bias field and Rician noise; exact lesion masks."
            ),
            "counts": {"train": counts(train), "test": counts(test), "total": samples},
            "seed": seed,
        },
        "intended_use": (
            "Demonstrates the imaging workflow (triage by abnormality, heatmaps, lesion "
            "outlines) on synthetic chest images. Not for diagnosis or any clinical decision."
        ),
        "limitations": [
            "Trained and tested only on synthetic phantoms; its figures say nothing about "
            "real radiographs, CT or MR.",
            "Knows three findings only (normal, one nodule, one ground-glass-like opacity); "
            "anything else is forced into one of them.",
            "Images are reduced to 128 x 128 pixels: findings a few pixels across at that "
            "size are invisible to it.",
            "Heatmaps have 1/8 of the input's resolution: they point at a region, not an outline.",
        ],
        "card_warning": SYNTHETIC_WARNING,
    }
    show.stage("exporting to ONNX and writing the bundle")
    folder, manifest = bundle_write(
        root,
        name,
        classifier=classifier,
        kernel=kernel,
        bias=bias,
        segmenter=segmenter,
        carried_segmenter=None,
        manifest=manifest,
        check_images=batch.images[test][:8],
    )
    show.stage(f"saved {folder}")
    return TrainedBundle(folder, manifest, time.monotonic() - started)
