"""The training loops: multi-task on lesion-centred crops (images with masks), classifier-only on
whole images (images without masks), and the linear head fitted on whole-image features.

Why crops. A lesion covers 0.1-2 % of a 128 x 128 image. Trained on whole images, a small CNN
needs many epochs before global average pooling lets so little evidence through, far beyond a
two-minute budget on two cores (measured: macro AUROC ~0.7 after five whole-image epochs). On a
48 x 48 crop the lesion is seven times more of the input and a step costs a seventh as much, so
the encoder learns the lesions in a few epochs; the U-Net's decoder, trained on the same crops,
teaches it where they are. Crops of a lesion image keep at least half of the lesion (its class)
or none of it ("normal"); partial views are left out. Crops of normal images and the
lesion-free crops (a fifth of lesion images) are centred in the lungs, where lesions are, so
that position tells nothing. Small batches (8) with many updates learned fastest here.

The whole-image classifier then needs its dense head refitted: averaged over seven times more
cells, a lesion's features are that much weaker. `head_fit` fits it as a multinomial logistic
regression on the pooled features of whole training images (strong L2 penalty: C=0.01 on
standardised features keeps the weights on few, lesion-specific channels, which also makes the
class activation map point at the lesion).
"""

import math
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import ops
from sklearn.linear_model import LogisticRegression

from imaging.ml.networks import FROZEN_IN_FIRST_PHASE
from imaging.ml.training.runtime import Progress

CROP_METHOD = (
    "Multi-task training of the classifier and the U-Net (one shared encoder) on "
    "lesion-centred 48 x 48 crops, fresh each epoch (batches of 8, Adam, cosine-decayed "
    "learning rate, cross-entropy + BCE/Dice); then the classifier's dense head refitted on "
    "whole images by L2-penalised multinomial logistic regression."
)
WHOLE_IMAGE_METHOD = (
    "Classifier trained on whole images (Adam, cosine-decayed learning rate, cross-entropy); "
    "when fine-tuning, first with the early stages frozen, then all layers at a lower rate; the "
    "epoch with the lowest validation loss is kept."
)
BATCH_SIZE = 32  # whole images
CROP_BATCH_SIZE = 8  # crops: small batches, many updates (measured: b8 > b16 > b32 here)
STEPS_PER_CALL = 16  # optimizer steps per compiled call: less Python overhead per step
LEARNING_RATE = 1.5e-3  # measured on crops: 1e-3..2e-3 learns fastest; 3e-3 and up stall
FINE_TUNE_RATE = 5e-4
HEAD_C = 0.01
HEAD_FIT_IMAGES = 1200
LESION_CROP_SHARE = 0.8


def _random_pixels(rng: np.random.Generator, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One uniformly chosen nonzero pixel (row, col) per mask (N, S, S); masks must not be
    empty."""
    flat = masks.reshape(len(masks), -1).astype(np.int32)
    cumulative = np.cumsum(flat, axis=1)
    pick = (rng.random(len(masks)) * cumulative[:, -1]).astype(np.int64)
    index = np.argmax(cumulative > pick[:, None], axis=1)
    return index // masks.shape[2], index % masks.shape[2]


def lesion_crops(
    rng: np.random.Generator,
    images: np.ndarray,
    labels: np.ndarray,
    masks: np.ndarray,
    lungs: np.ndarray,
    *,
    crop: int,
    normal_index: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One random crop per image: (crops (M, c, c, 1), labels (M,), masks (M, c, c, 1) float32),
    M <= N (crops showing part of a lesion are dropped). See the module docstring."""
    n, size = len(images), images.shape[1]
    has_lesion = np.asarray(masks.reshape(n, -1).any(axis=1))
    has_lungs = np.asarray(lungs.reshape(n, -1).any(axis=1))
    lung_rows, lung_cols = _random_pixels(rng, np.where(has_lungs[:, None, None], lungs, 1))
    lesion_rows, lesion_cols = _random_pixels(rng, np.where(has_lesion[:, None, None], masks, 1))
    on_lesion = has_lesion & (rng.random(n) < LESION_CROP_SHARE)
    jitter = crop // 4
    rows = np.where(on_lesion, lesion_rows, lung_rows) + rng.integers(-jitter, jitter + 1, n)
    cols = np.where(on_lesion, lesion_cols, lung_cols) + rng.integers(-jitter, jitter + 1, n)
    top = np.clip(rows - crop // 2, 0, size - crop)
    left = np.clip(cols - crop // 2, 0, size - crop)
    r = (top[:, None] + np.arange(crop))[:, :, None]
    c = (left[:, None] + np.arange(crop))[:, None, :]
    which = np.arange(n)[:, None, None]
    x, m = images[which, r, c], masks[which, r, c]
    inside = m.reshape(n, -1).sum(axis=1)
    whole = masks.reshape(n, -1).sum(axis=1)
    crop_labels = np.where(inside == 0, normal_index, labels)
    keep = (inside == 0) | (2 * inside >= whole)
    return x[keep][..., None], crop_labels[keep], m[keep][..., None].astype(np.float32)


def dice_bce(truth: Any, predicted: Any) -> Any:
    """Per-image binary cross-entropy plus soft Dice loss (smoothed by 1, so an empty truth
    asks for an empty prediction)."""
    bce = ops.mean(keras.losses.binary_crossentropy(truth, predicted), axis=(1, 2))
    overlap = ops.sum(truth * predicted, axis=(1, 2, 3))
    total = ops.sum(truth + predicted, axis=(1, 2, 3))
    return bce + 1.0 - (2.0 * overlap + 1.0) / (total + 1.0)


def phases(epochs: int, fine_tune: bool) -> list[tuple[int, float, bool]]:
    """[(epochs, learning rate, early stages frozen)] of a training. Fine-tuning: first a third
    of the epochs (at least one) with the early stages frozen at the full rate, so that a new
    head settles without wrecking the pretrained filters; then everything at FINE_TUNE_RATE."""
    if not fine_tune:
        return [(epochs, LEARNING_RATE, False)]
    first = max(1, epochs // 3)
    return [(first, LEARNING_RATE, True), (max(epochs - first, 0), FINE_TUNE_RATE, False)]


def _schedule(rate: float, steps: int) -> keras.optimizers.schedules.LearningRateSchedule:
    return keras.optimizers.schedules.CosineDecay(rate, max(steps, 1))


def fit_on_crops(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    masks: np.ndarray,
    lungs: np.ndarray,
    *,
    epochs: int,
    seed: int,
    normal_index: int,
    fine_tune: bool,
    progress: Progress,
) -> list[dict[str, float]]:
    """Train the joint model (outputs [probabilities, mask], input c x c) on fresh crops each
    epoch (see `phases` for fine-tuning). Returns each epoch's mean losses."""
    crop = int(model.input.shape[1])
    rng = np.random.default_rng(seed)
    history: list[dict[str, float]] = []
    for phase_epochs, rate, frozen in phases(epochs, fine_tune):
        if not phase_epochs:
            continue
        _frozen(model, frozen)
        model.compile(
            optimizer=keras.optimizers.Adam(
                _schedule(rate, phase_epochs * math.ceil(len(images) / CROP_BATCH_SIZE))
            ),
            loss=["sparse_categorical_crossentropy", dice_bce],
            steps_per_execution=STEPS_PER_CALL,
        )
        for _ in range(phase_epochs):
            x, y, m = lesion_crops(
                rng, images, labels, masks, lungs, crop=crop, normal_index=normal_index
            )
            label = f"epoch {len(history) + 1}/{epochs}" + (" (early stages frozen)" * frozen)
            logs = model.fit(
                x,
                [y, m],
                batch_size=CROP_BATCH_SIZE,
                epochs=1,
                verbose=0,
                callbacks=progress.callbacks(label),
            ).history
            history.append({k: round(float(v[-1]), 4) for k, v in logs.items()})
            progress.stage(f"{label}: {len(x)} crops, loss {history[-1]['loss']:.3f}")
    _frozen(model, False)
    return history


def _frozen(model: keras.Model, frozen: bool) -> None:
    for layer in model.layers:
        if layer.name.split("_")[0] in FROZEN_IN_FIRST_PHASE:
            layer.trainable = not frozen


def fit_whole_images(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int,
    fine_tune: bool,
    progress: Progress,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[dict[str, float]]:
    """Train the classifier-only graph (output [probabilities]) on whole images (see `phases`
    for fine-tuning). With a validation split, the weights of the epoch with the lowest
    validation loss are kept."""
    x = images[..., None]
    best: tuple[float, list[np.ndarray]] | None = None
    history: list[dict[str, float]] = []
    for phase_epochs, rate, frozen in phases(epochs, fine_tune):
        if not phase_epochs:
            continue
        _frozen(model, frozen)
        steps = phase_epochs * math.ceil(len(x) / BATCH_SIZE)
        model.compile(
            optimizer=keras.optimizers.Adam(_schedule(rate, steps)),
            loss="sparse_categorical_crossentropy",
            steps_per_execution=4,
        )
        for _ in range(phase_epochs):
            label = f"epoch {len(history) + 1}/{epochs}" + (" (early stages frozen)" * frozen)
            logs = model.fit(
                x,
                labels,
                batch_size=BATCH_SIZE,
                epochs=1,
                verbose=0,
                shuffle=True,
                callbacks=progress.callbacks(label),
            ).history
            entry = {"loss": round(float(logs["loss"][-1]), 4)}
            if validation is not None and len(validation[0]):
                entry["val_loss"] = round(
                    float(model.evaluate(validation[0][..., None], validation[1], verbose=0)), 4
                )
                if best is None or entry["val_loss"] < best[0]:
                    best = (entry["val_loss"], model.get_weights())
            history.append(entry)
            progress.stage(f"{label}: " + ", ".join(f"{k} {v:.3f}" for k, v in entry.items()))
    _frozen(model, False)
    if best is not None:
        model.set_weights(best[1])
    return history


def head_fit(
    features_of: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
    *,
    n_classes: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(kernel (K, C), bias (C,)) of the dense head: a multinomial logistic regression on the
    globally pooled features of (up to HEAD_FIT_IMAGES of) the whole training images.
    `features_of` maps images (n, S, S) to feature maps (n, h, w, K)."""
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.permutation(len(images))[:HEAD_FIT_IMAGES])
    pooled = features_of(images[chosen]).mean(axis=(1, 2)).astype(np.float64)
    mean, scale = pooled.mean(axis=0), pooled.std(axis=0) + 1e-6
    regression = LogisticRegression(C=HEAD_C, max_iter=5000)
    regression.fit((pooled - mean) / scale, labels[chosen])
    coef, intercept = regression.coef_, regression.intercept_
    if n_classes == 2 and coef.shape[0] == 1:  # binary: sklearn keeps one row; make it softmax
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-1, 1]) * intercept / 2
    kernel = (coef / scale).T
    bias = intercept - (coef * mean / scale).sum(axis=1)
    return kernel.astype(np.float32), bias.astype(np.float32)
