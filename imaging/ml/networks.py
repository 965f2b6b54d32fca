"""The two networks of an imaging bundle (Keras 3): a CNN classifier and a small U-Net.

Classifier: four convolution stages (3x3 convolution, batch normalisation, ReLU; max-pooling
between stages) turn a (S, S, 1) image into feature maps `features` (S/8, S/8, 160); global
average pooling and one dense layer give the class logits, and a softmax the probabilities. The
model has two outputs, [probabilities, features], so that the class activation map (dense
weights x features) comes from the same forward pass (for GAP + dense, CAM equals Grad-CAM).

Segmenter: the classifier's convolution stages as encoder and a decoder that upsamples twice,
concatenating the encoder's maps of the same size (U-Net skips), to lesion logits at S/2 that are
bilinearly upsampled to S before the sigmoid: the lesion probability per pixel.

Every layer has a fixed name; weights move between graphs by name (`weights_copy`), which is how
a model trained in mixed precision becomes the float32 model that is exported, and how a bundle's
saved classifier is fine-tuned. `joint_build` makes the training graph: one encoder shared by the
classification head and the decoder (multi-task training), with the head's input multiplied by
HEAD_SCALE. That multiplier is a learning-rate multiplier for the head in disguise: a lesion fills
a few of the cells that global average pooling averages, so the dense weights must grow larger
than Adam's small steps let them in a short training (measured on phantoms: x16 made the first
epochs unstable, x4 did not). The exported classifier has no such layer: its dense kernel is the
trained kernel times HEAD_SCALE (the same function).
"""

import os
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import keras
from keras import layers

from imaging.ml.preprocess import INPUT_SIZE

ENCODER = (("enc1", (16,)), ("enc2", (32,)), ("enc3", (64, 64)), ("enc4", (128, 160)))
DECODER = (("dec3", "enc3", 32), ("dec2", "enc2", 24))
FEATURES = 160
HEAD_SCALE = 4.0
FROZEN_IN_FIRST_PHASE = ("enc1", "enc2")  # fine-tuning keeps these fixed at first


def _conv(x: Any, filters: int, name: str, dtype: str, *, output: str | None = None) -> Any:
    """3x3 convolution, batch normalisation, ReLU; the ReLU is named `output` (default `name`)."""
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv", dtype=dtype)(
        x
    )
    # momentum 0.9: short trainings (a few hundred steps) need running statistics that keep up.
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn", dtype=dtype)(x)
    return layers.ReLU(name=output or name, dtype=dtype)(x)


def _encoder(image: Any, dtype: str) -> tuple[Any, dict[str, Any]]:
    """(features, {stage: last maps of the stage}) of the convolution stages."""
    x = layers.Rescaling(2.0, -1.0, name="input_scale", dtype=dtype)(image)
    skips = {}
    for number, (stage, widths) in enumerate(ENCODER):
        if number:
            x = layers.MaxPooling2D(name=f"{stage}_pool", dtype=dtype)(x)
        for i, width in enumerate(widths):
            last = number == len(ENCODER) - 1 and i == len(widths) - 1
            x = _conv(x, width, f"{stage}_{i + 1}", dtype, output="features" if last else None)
        skips[stage] = x
    return x, skips


def _head(features: Any, n_classes: int, dtype: str, scale: float | None) -> Any:
    """Probabilities (float32) from the features: GAP [x scale] -> dense logits -> softmax."""
    x = layers.GlobalAveragePooling2D(name="gap", dtype=dtype)(features)
    if scale is not None:
        x = layers.Rescaling(scale, name="head_scale", dtype=dtype)(x)
    x = layers.Dense(n_classes, name="logits", dtype=dtype)(x)
    return layers.Softmax(name="probabilities", dtype="float32")(x)


def _decoder(features: Any, skips: dict[str, Any], dtype: str) -> Any:
    """Lesion probability (float32) per pixel from the features and the encoder's skips."""
    x = layers.Conv2D(48, 1, name="dec_reduce", dtype=dtype)(features)
    for stage, skip, width in DECODER:
        x = layers.UpSampling2D(name=f"{stage}_up", dtype=dtype)(x)
        x = layers.Concatenate(name=f"{stage}_cat", dtype=dtype)([x, skips[skip]])
        x = _conv(x, width, stage, dtype)
    x = layers.Conv2D(1, 1, name="mask_logits", dtype=dtype)(x)
    x = layers.UpSampling2D(interpolation="bilinear", name="mask_up", dtype=dtype)(x)
    return layers.Activation("sigmoid", name="mask", dtype="float32")(x)


def classifier_build(
    n_classes: int, *, size: int = INPUT_SIZE, dtype: str = "float32"
) -> keras.Model:
    """The classifier: (S, S, 1) -> [probabilities (C,), features (S/8, S/8, FEATURES)]."""
    image = keras.Input((size, size, 1), name="image")
    features, _ = _encoder(image, dtype)
    return keras.Model(
        image, [_head(features, n_classes, dtype, None), features], name="classifier"
    )


def segmenter_build(*, size: int = INPUT_SIZE, dtype: str = "float32") -> keras.Model:
    """The U-Net: (S, S, 1) -> (S, S, 1) lesion probability."""
    image = keras.Input((size, size, 1), name="image")
    features, skips = _encoder(image, dtype)
    return keras.Model(image, _decoder(features, skips, dtype), name="segmenter")


def joint_build(
    n_classes: int, *, size: int = INPUT_SIZE, dtype: str = "float32", with_decoder: bool = True
) -> keras.Model:
    """The training graph: one encoder; outputs [probabilities] or [probabilities, mask]. The
    head's input is multiplied by HEAD_SCALE (see the module docstring)."""
    image = keras.Input((size, size, 1), name="image")
    features, skips = _encoder(image, dtype)
    outputs = [_head(features, n_classes, dtype, HEAD_SCALE)]
    if with_decoder:
        outputs.append(_decoder(features, skips, dtype))
    return keras.Model(image, outputs, name="joint")


def weights_copy(source: keras.Model, target: keras.Model, *, skip: tuple[str, ...] = ()) -> None:
    """Copy the weights of every layer of `target` that `source` has by name, except `skip`.
    The dense head is rescaled when one model multiplies its input by HEAD_SCALE and the other
    not, so that both compute the same logits."""
    names = {layer.name for layer in source.layers}
    scale_in = HEAD_SCALE if "head_scale" in names else 1.0
    scale_out = HEAD_SCALE if any(layer.name == "head_scale" for layer in target.layers) else 1.0
    for layer in target.layers:
        if layer.name in skip or layer.name not in names or not layer.weights:
            continue
        weights = source.get_layer(layer.name).get_weights()
        if layer.name == "logits":
            weights = [weights[0] * (scale_in / scale_out), weights[1]]
        layer.set_weights(weights)


def head_weights(classifier: keras.Model) -> tuple[Any, Any]:
    """(kernel (FEATURES, C), bias (C,)) of the classifier's dense head, as served (no scale)."""
    kernel, bias = classifier.get_layer("logits").get_weights()
    if any(layer.name == "head_scale" for layer in classifier.layers):
        kernel = kernel * HEAD_SCALE
    return kernel, bias


def parameter_count(model: keras.Model) -> int:
    """Number of weights (trainable or not) of a model."""
    return int(model.count_params())
