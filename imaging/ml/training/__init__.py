"""Training imaging bundles (TensorFlow/Keras; worker and command code paths only).

from imaging.ml.training import train_synthetic, train_labelled
trained = train_synthetic(root=Path("var/models/imaging"))      # the demo bundle
trained = train_labelled(datasets.folders_load(path), root=..., name="chest-xray", base=...)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: no C++ chatter

from imaging.ml.training.common import DEFAULT_SEED, TrainedBundle
from imaging.ml.training.labelled import DEFAULT_LABELLED_EPOCHS, train_labelled
from imaging.ml.training.synthetic import (
    DEFAULT_EPOCHS,
    DEFAULT_SAMPLES,
    DEMO_NAME,
    train_synthetic,
)

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_LABELLED_EPOCHS",
    "DEFAULT_SAMPLES",
    "DEFAULT_SEED",
    "DEMO_NAME",
    "TrainedBundle",
    "train_labelled",
    "train_synthetic",
]
