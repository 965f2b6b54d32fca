"""A hospital's own labelled images, in the three forms they come in, as model inputs.

* MedMNIST `.npz` (Yang et al., 2023): `train_images`, `train_labels`, `test_images`,
  `test_labels` and optionally `val_*`; images (N, H, W) grey or (N, H, W, 3) RGB uint8, labels
  (N, 1) or (N,) class indices. The file's own split is kept. Class names are not in the file:
  pass them, else they are "class_0", "class_1", ...
* A folder per class of PNG/JPEG files: the folder's name is the class. Split at random,
  stratified by class (70 / 15 / 15 %, seeded).
* DICOM files and a CSV with columns `file,label` (and optionally `split` = train/val/test);
  `file` is relative to the DICOM folder. Multi-frame files and zipped series contribute their
  middle frame. Split like folders unless the CSV gives one.

PNG, JPEG and DICOM are read through imaging.intake, the same validation and decoding as
uploads; every image then goes through preprocess.model_input, as at serving time. Errors say
which file or key is wrong (DatasetError, a ValueError).
"""

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imaging.ml.preprocess import INPUT_SIZE, model_input, model_inputs

SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.7, 0.15, 0.15)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as intake uses


class DatasetError(ValueError):
    """Labelled images that cannot be used as given; the message says what to fix."""


@dataclass(frozen=True)
class LabelledImages:
    """images (N, S, S) float32 in [0, 1] (model input); labels (N,) int64 indices into
    classes; split (N,) one of SPLITS per image; modalities: DICOM code per image ("OT" for
    PNG, JPEG and MedMNIST)."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    split: np.ndarray
    modalities: tuple[str, ...]
    source: str
    description: str

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels) of one split."""
        chosen = self.split == name
        return self.images[chosen], self.labels[chosen]

    def counts(self) -> dict[str, Any]:
        """{split: {class: n}} and the total, for the model card."""
        table: dict[str, Any] = {
            name: {
                cls: int(((self.split == name) & (self.labels == i)).sum())
                for i, cls in enumerate(self.classes)
            }
            for name in SPLITS
        }
        table["total"] = len(self.labels)
        return table


def stratified_split(
    labels: np.ndarray, *, seed: int, fractions: tuple[float, float, float] = SPLIT_FRACTIONS
) -> np.ndarray:
    """(N,) split names: each class shuffled (seeded) and cut by `fractions`; a class with at
    least three images gets at least one in test and, if it can spare one, in val."""
    rng = np.random.default_rng(seed)
    split = np.empty(len(labels), dtype="<U5")
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        n = len(members)
        n_test = max(round(n * fractions[2]), 1 if n >= 3 else 0)
        n_val = max(round(n * fractions[1]), 1 if n >= 4 else 0)
        split[members] = "train"
        split[members[:n_test]] = "test"
        split[members[n_test : n_test + n_val]] = "val"
    return split


def _grey(images: np.ndarray) -> np.ndarray:
    """(N, H, W) float32 luminance of grey (N, H, W[, 1]) or RGB (N, H, W, 3) images."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[3] == 1:
        images = images[..., 0]
    if images.ndim == 4 and images.shape[3] == 3:
        return np.asarray(images, np.float32) @ _LUMA
    if images.ndim == 3:
        return images.astype(np.float32)
    raise DatasetError(
        f"Images must be (N, H, W) grey or (N, H, W, 3) RGB; got shape {images.shape} "
        "(3-D volumes and other layouts are not supported)."
    )


def _class_labels(raw: np.ndarray, key: str) -> np.ndarray:
    labels = np.asarray(raw)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise DatasetError(
            f"{key} must hold one class index per image, shape (N, 1) or (N,); got "
            f"{labels.shape}. Multi-label datasets are not supported."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{key} must hold integer class indices; got {labels.dtype}.")
    return labels.astype(np.int64)


def _model_inputs_chunked(grey: np.ndarray, size: int) -> np.ndarray:
    """model_inputs of many "OT" images, 512 at a time (bounded temporary memory)."""
    out = np.empty((len(grey), size, size), np.float32)
    for start in range(0, len(grey), 512):
        out[start : start + 512] = model_inputs(grey[start : start + 512], modality="OT", size=size)
    return out


def medmnist_load(
    path: Path,
    *,
    class_names: Sequence[str] | None = None,
    size: int = INPUT_SIZE,
    limit: int | None = None,
    seed: int = 0,
) -> LabelledImages:
    """A MedMNIST-layout .npz (see the module docstring). `limit` keeps at most that many
    images of each split, chosen at random (seeded), for a quicker training."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path.name} is not a readable .npz file ({error}).") from None
    with archive:
        keys = set(archive.files)
        required = ["train_images", "train_labels", "test_images", "test_labels"]
        missing = [key for key in required if key not in keys]
        if missing:
            raise DatasetError(
                f"{path.name} lacks {', '.join(missing)}: a MedMNIST file has train_images, "
                "train_labels, val_images, val_labels, test_images and test_labels."
            )
        splits = [s for s in SPLITS if f"{s}_images" in keys and f"{s}_labels" in keys]
        rng = np.random.default_rng(seed)
        parts, labels, names = [], [], []
        for name in splits:
            images, split_labels = archive[f"{name}_images"], archive[f"{name}_labels"]
            split_labels = _class_labels(split_labels, f"{name}_labels")
            if len(images) != len(split_labels):
                raise DatasetError(
                    f"{name}_images has {len(images)} images but {name}_labels has "
                    f"{len(split_labels)} labels."
                )
            chosen = np.arange(len(images))
            if limit is not None and len(images) > limit:
                chosen = np.sort(rng.choice(len(images), limit, replace=False))
            parts.append(_model_inputs_chunked(_grey(images[chosen]), size))
            labels.append(split_labels[chosen])
            names += [name] * len(chosen)
    all_labels = np.concatenate(labels)
    if not len(all_labels):
        raise DatasetError(f"{path.name} holds no images.")
    if all_labels.min() < 0:
        raise DatasetError(f"{path.name} has negative class indices.")
    n_classes = int(all_labels.max()) + 1
    if class_names is not None:
        class_names = [str(c).strip() for c in class_names]
        if len(set(class_names)) != len(class_names) or not all(class_names):
            raise DatasetError("Class names must be distinct and not empty.")
        if n_classes > len(class_names):
            raise DatasetError(
                f"{path.name} has labels up to {n_classes - 1}, but only {len(class_names)} "
                f"class names were given ({', '.join(class_names)}): unknown label "
                f"{n_classes - 1}."
            )
        classes = tuple(class_names)
    else:
        classes = tuple(f"class_{i}" for i in range(n_classes))
    if len(classes) < 2:
        raise DatasetError(f"{path.name} has a single class: nothing to learn.")
    return LabelledImages(
        images=np.concatenate(parts),
        labels=all_labels,
        classes=classes,
        split=np.array(names),
        modalities=("OT",) * len(all_labels),
        source="medmnist",
        description=f"MedMNIST-layout file {path.name} ({', '.join(splits)} splits)",
    )


def _decoded(path: Path) -> tuple[np.ndarray, str]:
    """(middle frame in physical units, modality) of an image file, read by imaging.intake."""
    from imaging.intake import IntakeError, intake_inspect, pixels_decode

    try:
        intake = intake_inspect(path)
        pixels = pixels_decode(path, intake.kind)
    except IntakeError as error:
        raise DatasetError(f"{path.name}: {error.message}") from None
    return pixels.frames[len(pixels.frames) // 2], pixels.modality


def _assembled(
    files: list[Path],
    labels: list[int],
    classes: Sequence[str],
    split: np.ndarray,
    *,
    source: str,
    description: str,
    size: int,
) -> LabelledImages:
    images = np.empty((len(files), size, size), np.float32)
    modalities = []
    for i, file in enumerate(files):
        frame, modality = _decoded(file)
        images[i] = model_input(frame, modality=modality, size=size)
        modalities.append(modality)
    return LabelledImages(
        images=images,
        labels=np.array(labels, dtype=np.int64),
        classes=tuple(classes),
        split=split,
        modalities=tuple(modalities),
        source=source,
        description=description,
    )


def folders_load(path: Path, *, size: int = INPUT_SIZE, seed: int = 0) -> LabelledImages:
    """Images in `path/<class>/*.png|jpg|jpeg` (see the module docstring)."""
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(f"{path} is not a folder.")
    folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(folders) < 2:
        raise DatasetError(
            f"{path} must hold one sub-folder per class (at least two); found {len(folders)}."
        )
    files: list[Path] = []
    labels: list[int] = []
    for index, folder in enumerate(folders):
        found = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not found:
            raise DatasetError(f"Class folder '{folder.name}' has no PNG or JPEG images.")
        files += found
        labels += [index] * len(found)
    split = stratified_split(np.array(labels), seed=seed)
    return _assembled(
        files,
        labels,
        [f.name for f in folders],
        split,
        source="folders",
        description=f"{len(files)} PNG/JPEG images in {len(folders)} class folders",
        size=size,
    )


def dicom_load(
    path: Path,
    labels_csv: Path,
    *,
    class_names: Sequence[str] | None = None,
    size: int = INPUT_SIZE,
    seed: int = 0,
) -> LabelledImages:
    """DICOM files under `path` labelled by `labels_csv` (see the module docstring). With
    `class_names`, labels must be among them (in that order); else the sorted distinct labels."""
    path, labels_csv = Path(path), Path(labels_csv)
    if not path.is_dir():
        raise DatasetError(f"{path} is not a folder.")
    try:
        with labels_csv.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip().lower() for h in reader.fieldnames or []]
            rows = [
                {k.strip().lower(): (v or "").strip() for k, v in r.items() if k} for r in reader
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DatasetError(f"{labels_csv.name} cannot be read as CSV ({error}).") from None
    if "file" not in header or "label" not in header:
        raise DatasetError(
            f"{labels_csv.name} must have a header with columns 'file' and 'label'; "
            f"found {', '.join(header) or 'none'}."
        )
    if not rows:
        raise DatasetError(f"{labels_csv.name} has no rows.")
    root = path.resolve()
    files, missing, bad_splits = [], [], []
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        file = (root / row["file"]).resolve()
        if not row["file"] or not file.is_relative_to(root) or not file.is_file():
            missing.append(f"row {number}: {row['file'] or '(empty)'}")
        if row.get("split") and row["split"].lower() not in SPLITS:
            bad_splits.append(f"row {number}: {row['split']}")
        files.append(file)
    if missing:
        raise DatasetError(
            f"{labels_csv.name} names files that are not in {path.name}: "
            + "; ".join(missing[:5])
            + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            + "."
        )
    if bad_splits:
        raise DatasetError(
            f"{labels_csv.name}: split must be train, val or test ({'; '.join(bad_splits[:5])})."
        )
    names = [row["label"] for row in rows]
    if any(not name for name in names):
        raise DatasetError(f"{labels_csv.name} has rows without a label.")
    classes = list(class_names) if class_names is not None else sorted(set(names))
    unknown = sorted(set(names) - set(classes))
    if unknown:
        raise DatasetError(
            f"{labels_csv.name} has unknown labels {', '.join(unknown)}; expected one of "
            f"{', '.join(classes)}."
        )
    if len(set(names)) < 2:
        raise DatasetError(f"{labels_csv.name} has a single label: nothing to learn.")
    labels = [classes.index(name) for name in names]
    if all(row.get("split") for row in rows):
        split = np.array([row["split"].lower() for row in rows])
    else:
        split = stratified_split(np.array(labels), seed=seed)
    return _assembled(
        files,
        labels,
        classes,
        split,
        source="dicom",
        description=f"{len(files)} DICOM files labelled by {labels_csv.name}",
        size=size,
    )
