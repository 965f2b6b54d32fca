"""A hospital's labelled images in their three forms, and what each loader says when wrong."""

import csv

import numpy as np
import pytest
from PIL import Image

from imaging.ml.datasets import (
    DatasetError,
    LabelledImages,
    dicom_load,
    folders_load,
    medmnist_load,
    stratified_split,
)
from imaging.ml.phantoms import CLASSES
from imaging.ml.preprocess import model_input
from tests.imaging.ml.conftest import medmnist_write


def _valid(data: LabelledImages) -> None:
    n = len(data.labels)
    assert data.images.shape == (n, 128, 128) and data.images.dtype == np.float32
    assert data.images.min() >= 0 and data.images.max() <= 1
    assert len(data.split) == len(data.modalities) == n
    assert set(data.split) <= {"train", "val", "test"}
    assert data.labels.min() >= 0 and data.labels.max() < len(data.classes)


def test_medmnist_keeps_its_splits_and_takes_class_names(medmnist_file):
    data = medmnist_load(medmnist_file, class_names=["normal", "nodule"])
    _valid(data)
    with np.load(medmnist_file) as raw:
        assert (data.split == "train").sum() == len(raw["train_labels"])
        assert (data.split == "val").sum() == len(raw["val_labels"])
        assert np.array_equal(data.part("test")[1], raw["test_labels"][:, 0])
    assert data.classes == ("normal", "nodule") and data.source == "medmnist"
    assert set(data.modalities) == {"OT"}
    counts = data.counts()
    assert counts["total"] == len(data.labels) and set(counts["train"]) == {"normal", "nodule"}


def test_medmnist_rgb_becomes_luminance_and_names_default(tmp_path):
    grey = medmnist_load(medmnist_write(tmp_path / "grey.npz"))
    rgb = medmnist_load(medmnist_write(tmp_path / "rgb.npz", rgb=True))
    assert rgb.classes == ("class_0", "class_1")
    assert np.allclose(grey.images, rgb.images, atol=1e-5)


def test_medmnist_limit_subsamples_each_split(medmnist_file):
    data = medmnist_load(medmnist_file, limit=10)
    assert [(data.split == s).sum() for s in ("train", "val", "test")] == [10, 10, 10]


def test_medmnist_errors_name_the_problem(tmp_path, medmnist_file):
    np.savez(tmp_path / "partial.npz", train_images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DatasetError, match="lacks train_labels, test_images, test_labels"):
        medmnist_load(tmp_path / "partial.npz")
    labels = np.zeros((4, 14), np.uint8)
    images = np.zeros((4, 28, 28), np.uint8)
    np.savez(
        tmp_path / "multi.npz",
        train_images=images,
        train_labels=labels,
        test_images=images,
        test_labels=labels,
    )
    with pytest.raises(DatasetError, match="Multi-label"):
        medmnist_load(tmp_path / "multi.npz")
    with pytest.raises(DatasetError, match="unknown label 1"):
        medmnist_load(medmnist_file, class_names=["normal"])
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match=r"not a readable \.npz"):
        medmnist_load(tmp_path / "junk.npz")


def test_class_folders_are_classes_split_by_class(png_folders):
    data = folders_load(png_folders, seed=0)
    _valid(data)
    assert data.classes == tuple(sorted(CLASSES)) and data.source == "folders"
    for value in range(len(data.classes)):
        assert {s for s, y in zip(data.split, data.labels, strict=True) if y == value} == {
            "train",
            "val",
            "test",
        }
    # Read through imaging.intake and preprocess.model_input, as an upload is.
    first = sorted((png_folders / data.classes[0]).glob("*.png"))[0]
    grey = np.asarray(Image.open(first), np.float32)
    assert np.allclose(data.images[0], model_input(grey, modality="OT"), atol=1e-5)


def test_class_folder_errors(tmp_path, png_folders):
    (png_folders / "empty").mkdir()
    with pytest.raises(DatasetError, match="Class folder 'empty' has no PNG or JPEG images"):
        folders_load(png_folders)
    (tmp_path / "one" / "a").mkdir(parents=True)
    with pytest.raises(DatasetError, match="at least two"):
        folders_load(tmp_path / "one")
    with pytest.raises(DatasetError, match="is not a folder"):
        folders_load(tmp_path / "missing")


def test_a_broken_image_is_named(png_folders):
    (png_folders / "normal" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(DatasetError, match=r"broken\.png"):
        folders_load(png_folders)


def test_dicom_with_labels_csv(dicom_folder):
    folder, labels_csv, frames = dicom_folder
    data = dicom_load(folder, labels_csv)
    _valid(data)
    assert data.classes == tuple(sorted(CLASSES)) and set(data.modalities) == {"CT"}
    # CT goes through the Hounsfield window: the DICOM round trip keeps the phantom's values.
    assert np.allclose(data.images[0], model_input(frames[0], modality="CT"), atol=2e-3)


def test_dicom_csv_split_column_is_used(dicom_folder):
    folder, labels_csv, _ = dicom_folder
    rows = list(csv.DictReader(labels_csv.open()))
    with labels_csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["file", "label", "split"])
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({**row, "split": "test" if i % 3 == 0 else "train"})
    data = dicom_load(folder, labels_csv, class_names=list(CLASSES))
    assert data.classes == CLASSES
    assert (data.split == "test").sum() == len(range(0, len(rows), 3))


def test_dicom_errors_name_rows_and_labels(dicom_folder):
    folder, labels_csv, _ = dicom_folder
    text = labels_csv.read_text()
    labels_csv.write_text(text + "scans/nope.dcm,normal\n../outside.dcm,normal\n")
    with pytest.raises(DatasetError, match=r"row \d+: scans/nope.dcm; row \d+: ../outside.dcm"):
        dicom_load(folder, labels_csv)
    labels_csv.write_text(text)
    with pytest.raises(DatasetError, match="unknown labels opacity"):
        dicom_load(folder, labels_csv, class_names=["normal", "nodule"])
    labels_csv.write_text(text.replace("file,label", "path,finding"))
    with pytest.raises(DatasetError, match="columns 'file' and 'label'"):
        dicom_load(folder, labels_csv)


def test_stratified_split_keeps_every_class_in_test():
    labels = np.repeat([0, 1, 2], [3, 10, 40])
    split = stratified_split(labels, seed=1)
    for value in (0, 1, 2):
        assert "test" in split[labels == value]
    assert np.array_equal(split, stratified_split(labels, seed=1))
