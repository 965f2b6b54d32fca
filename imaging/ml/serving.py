"""Serving an imaging bundle with ONNX Runtime and numpy: no TensorFlow in the worker's path.

A bundle is a folder (see the shared contract): classifier.onnx (outputs "probabilities" and
"features"), head.npz (the classifier's dense kernel and bias), optionally segmenter.onnx, the
Keras files kept for fine-tuning, and manifest.json naming every file's sha256. `load` verifies
every digest, against the manifest and against the digests the database copied at registration,
before onnxruntime sees a byte: a file swapped on disk, or a manifest edited to match it, raises
healthmentor.artifacts.ArtifactIntegrityError. onnxruntime is imported inside `load`, so
importing this module costs nothing (the web process imports it for types and constants).

The heatmap is the class activation map (Zhou et al., 2016): the dense head's weights for the
class times the last feature maps, summed over channels. For a network that ends in global
average pooling and one dense layer this is exactly Grad-CAM (Selvaraju et al., 2017): the
gradient of the class logit with respect to each feature map is that weight divided by the map's
area, everywhere, so Grad-CAM's channel weights are the dense weights up to a constant, which
the normalisation to [0, 1] removes.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np

from healthmentor.artifacts import ArtifactIntegrityError, sha256_file
from imaging.ml.preprocess import resize_bilinear

CLASSIFIER_FILE = "classifier.onnx"
SEGMENTER_FILE = "segmenter.onnx"
HEAD_FILE = "head.npz"
REQUIRED_FILES = (CLASSIFIER_FILE, HEAD_FILE)


class NoSegmenterError(RuntimeError):
    """segment() on a bundle that has no segmenter (trained without lesion masks)."""


def class_activation_map(
    features: np.ndarray, kernel: np.ndarray, class_index: int, size: int
) -> np.ndarray:
    """(h, w, K) features and (K, C) dense kernel -> (size, size) float32 in [0, 1]: the class's
    weighted sum of feature maps, ReLU, bilinear upsampling (half-pixel centres, as
    tf.image.resize), divided by its maximum (all zeros when nothing is positive)."""
    if not 0 <= class_index < kernel.shape[1]:
        raise IndexError(f"Class index {class_index} is out of range 0..{kernel.shape[1] - 1}.")
    cam = np.maximum(
        np.tensordot(features.astype(np.float64), kernel[:, class_index], axes=([2], [0])), 0
    )
    upsampled = np.maximum(resize_bilinear(cam.astype(np.float32), size), 0)
    peak = float(upsampled.max())
    return (upsampled / peak if peak > 0 else np.zeros_like(upsampled)).astype(np.float32)


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactIntegrityError(
            f"Imaging model in {folder}: manifest.json is missing."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactIntegrityError(
            f"Imaging model in {folder}: manifest.json cannot be read ({error})."
        ) from None
    if not isinstance(manifest, dict):
        raise ArtifactIntegrityError(f"Imaging model in {folder}: manifest.json is not an object.")
    return manifest


def _verified_files(
    folder: Path, manifest: dict[str, Any], expected: dict[str, str] | None
) -> dict[str, str]:
    """The manifest's {file: sha256} after checking names, the registered copy and every file's
    bytes on disk; raises ArtifactIntegrityError at the first discrepancy."""
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in files.items()
    ):
        raise ArtifactIntegrityError(
            f"Imaging model in {folder}: manifest.json has no valid 'files' table of sha256s."
        )
    for name in files:
        if Path(name).name != name or name in {".", ".."}:
            raise ArtifactIntegrityError(
                f"Imaging model in {folder}: manifest names a file outside its folder ({name!r})."
            )
    missing = [name for name in REQUIRED_FILES if name not in files]
    if missing:
        raise ArtifactIntegrityError(
            f"Imaging model in {folder}: manifest lists no {', '.join(missing)}."
        )
    if manifest.get("sha256") != files[CLASSIFIER_FILE]:
        raise ArtifactIntegrityError(
            f"Imaging model in {folder}: the manifest's sha256 is not that of {CLASSIFIER_FILE} "
            "in its own file table."
        )
    registered = {k: v.lower() for k, v in (expected or {}).items()}
    listed = {k: v.lower() for k, v in files.items()}
    if expected is not None and registered != listed:
        changed = sorted(
            n for n in set(registered) | set(listed) if registered.get(n) != listed.get(n)
        )
        raise ArtifactIntegrityError(
            f"Imaging model in {folder} failed its integrity check: its manifest no longer "
            f"matches the digests recorded at registration ({', '.join(changed)}). "
            "Refusing to load it: restore the original files or register the model again."
        )
    for name, digest in files.items():
        path = folder / name
        if not path.is_file():
            raise ArtifactIntegrityError(f"Imaging model in {folder}: {name} is missing.")
        actual = sha256_file(path)
        if actual != digest.lower():
            raise ArtifactIntegrityError(
                f"Imaging model in {folder} failed its integrity check: {name} has sha256 "
                f"{actual}, but its manifest expects {digest}. Refusing to load it: retrain the "
                "model or restore the original file."
            )
    return files


class ImagingBundle:
    """A verified bundle, ready to classify, explain and segment (N, S, S) images in [0, 1].

    Holds ONNX Runtime sessions with one intra-op and one inter-op thread: a worker process runs
    one study at a time, and one thread per process keeps several workers from contending."""

    manifest: dict[str, Any]
    classes: tuple[str, ...]
    normal_class: str
    input_size: int
    has_segmenter: bool

    def __init__(
        self,
        folder: Path,
        manifest: dict[str, Any],
        classifier: Any,
        segmenter: Any | None,
        kernel: np.ndarray,
        bias: np.ndarray,
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self.classes = tuple(str(name) for name in manifest["classes"])
        self.normal_class = str(manifest["normal_class"])
        self.input_size = int(manifest["input_size"])
        self.has_segmenter = segmenter is not None
        self.kernel = kernel
        self.bias = bias
        self._classifier = classifier
        self._segmenter = segmenter

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", ""))

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", ""))

    @property
    def is_synthetic(self) -> bool:
        return bool(self.manifest.get("is_synthetic"))

    @classmethod
    def load(cls, folder: Path, *, expected_files: dict[str, str] | None = None) -> "ImagingBundle":
        """Verify every file's sha256 against manifest["files"] (and against expected_files, the
        digests the database copied at registration, when given) BEFORE creating any session;
        raise healthmentor.artifacts.ArtifactIntegrityError otherwise. One intra-op thread."""
        folder = Path(folder)
        manifest = _manifest(folder)
        files = _verified_files(folder, manifest, expected_files)
        classes = manifest.get("classes")
        if (
            not isinstance(classes, list)
            or len(classes) < 2
            or manifest.get("normal_class") not in classes
            or not isinstance(manifest.get("input_size"), int)
        ):
            raise ArtifactIntegrityError(
                f"Imaging model in {folder}: manifest.json lacks valid classes, normal_class or "
                "input_size."
            )
        try:
            with np.load(folder / HEAD_FILE, allow_pickle=False) as head:
                kernel = np.asarray(head["kernel"], dtype=np.float32)
                bias = np.asarray(head["bias"], dtype=np.float32)
        except (OSError, KeyError, ValueError) as error:
            raise ArtifactIntegrityError(
                f"Imaging model in {folder}: {HEAD_FILE} cannot be read ({error})."
            ) from None
        if kernel.ndim != 2 or kernel.shape[1] != len(classes) or bias.shape != (len(classes),):
            raise ArtifactIntegrityError(
                f"Imaging model in {folder}: {HEAD_FILE} does not fit {len(classes)} classes."
            )
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1

        def session(name: str) -> Any:
            try:
                return onnxruntime.InferenceSession(
                    str(folder / name), options, providers=["CPUExecutionProvider"]
                )
            except Exception as error:  # onnxruntime raises its own untyped errors
                raise ArtifactIntegrityError(
                    f"Imaging model in {folder}: {name} is not a loadable ONNX model ({error})."
                ) from None

        segmenter = session(SEGMENTER_FILE) if SEGMENTER_FILE in files else None
        return cls(folder, manifest, session(CLASSIFIER_FILE), segmenter, kernel, bias)

    def _batch(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype=np.float32)
        size = self.input_size
        if images.ndim != 3 or images.shape[1:] != (size, size):
            raise ValueError(f"Expected images of shape (N, {size}, {size}); got {images.shape}.")
        return images[..., None]

    def classify(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """images (N, S, S) float32 in [0,1] -> (probabilities (N, C), features (N, h, w, K))."""
        probabilities, features = self._classifier.run(
            ["probabilities", "features"], {"image": self._batch(images)}
        )
        return np.asarray(probabilities), np.asarray(features)

    def heatmap(self, features: np.ndarray, class_index: int) -> np.ndarray:
        """One image's features (h, w, K) -> (S, S) float32 in [0, 1]: class activation map from
        the dense head's weights (== Grad-CAM for a GAP + dense head), ReLU, bilinear upsample,
        divided by its max (all zeros if max is 0)."""
        features = np.asarray(features)
        if features.ndim != 3 or features.shape[2] != self.kernel.shape[0]:
            raise ValueError(
                f"Expected one image's features (h, w, {self.kernel.shape[0]}); "
                f"got {features.shape}."
            )
        return class_activation_map(features, self.kernel, class_index, self.input_size)

    def segment(self, image: np.ndarray) -> np.ndarray:
        """(S, S) float32 [0,1] -> (S, S) float32 lesion probability. Raises if no segmenter."""
        if self._segmenter is None:
            raise NoSegmenterError(
                f"Imaging model {self.name} {self.version} has no lesion segmenter."
            )
        (mask,) = self._segmenter.run(["mask"], {"image": self._batch(np.asarray(image)[None])})
        return np.asarray(mask, dtype=np.float32)[0, ..., 0]
