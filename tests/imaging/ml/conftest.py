"""Fixtures of the imaging.ml tests: no database. One small bundle is trained per session into a
temporary folder and shared (fast knobs that still learn: about 900 optimizer steps); tests that
change files work on a copy. Hospital-format fixtures are built from phantoms: a MedMNIST-layout
.npz, class folders of PNGs (Pillow) and DICOM files with a labels CSV (pydicom)."""

import csv
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from imaging.ml.phantoms import CLASSES, phantom_batch
from imaging.ml.preprocess import resize_bilinear

SMALL_SAMPLES = 900
SMALL_EPOCHS = 8


@pytest.fixture(scope="session")
def bundle_folder(imaging_bundle_folder: Path) -> Path:
    """The run's small synthetic bundle (classifier + U-Net; tests/imaging/conftest.py trains it
    once for the ML, service, worker and browser tests alike). Read-only: tests that change files
    use `bundle_copy`."""
    return imaging_bundle_folder


@pytest.fixture
def bundle_copy(bundle_folder: Path, tmp_path: Path) -> Path:
    """A private copy of the bundle folder, to tamper with."""
    return Path(shutil.copytree(bundle_folder, tmp_path / "bundle"))


@pytest.fixture(scope="session")
def bundle(bundle_folder: Path):
    from imaging.ml.serving import ImagingBundle

    return ImagingBundle.load(bundle_folder)


def medmnist_write(path: Path, *, rgb: bool = False, n: int = 60, seed: int = 1) -> Path:
    """A MedMNIST-layout file of 28 x 28 radiograph phantoms, normal (0) vs nodule (1)."""
    arrays = {}
    for offset, split in enumerate(("train", "val", "test")):
        batch = phantom_batch(n, seed=seed + offset, modalities=("DX",))
        keep = batch.labels < 2  # MedMNIST images were made by downsampling, as here
        images = (resize_bilinear(batch.images[keep], 28) * 255).round().astype(np.uint8)
        if rgb:
            images = np.stack([images] * 3, axis=-1)
        arrays[f"{split}_images"] = images
        arrays[f"{split}_labels"] = batch.labels[keep].reshape(-1, 1).astype(np.uint8)
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def png_folders_write(root: Path, *, n: int = 45, seed: int = 2) -> Path:
    """root/<class>/*.png: grey radiograph phantoms at 160 pixels, one folder per class."""
    batch = phantom_batch(n, seed=seed, modalities=("DX",), size=160)
    for name in CLASSES:
        (root / name).mkdir(parents=True)
    for i, (image, label) in enumerate(zip(batch.images, batch.labels, strict=True)):
        Image.fromarray((image * 255).astype(np.uint8)).save(root / CLASSES[label] / f"{i}.png")
    return root


def ct_dicom_bytes(frame: np.ndarray, path: Path) -> None:
    """A CT DICOM file of `frame` in HU (stored + RescaleIntercept -1024)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.2")
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "CT"
    ds.PatientName = "Phantom^Synthetic"
    ds.PatientID = "PHANTOM"
    ds.Rows, ds.Columns = frame.shape
    ds.PixelSpacing = [3.0, 3.0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.PixelData = np.clip(np.round(frame + 1024), -32768, 32767).astype(np.int16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def dicom_folder_write(root: Path, *, n: int = 30, seed: int = 3) -> tuple[Path, Path, np.ndarray]:
    """(folder of CT phantom DICOM files, labels CSV, the HU frames)."""
    batch = phantom_batch(n, seed=seed, modalities=("CT",), keep_frames=True)
    root.mkdir(parents=True, exist_ok=True)
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        for i, label in enumerate(batch.labels):
            (root / "scans").mkdir(exist_ok=True)
            assert batch.frames is not None
            ct_dicom_bytes(batch.frames[i], root / "scans" / f"{i}.dcm")
            writer.writerow([f"scans/{i}.dcm", CLASSES[label]])
    assert batch.frames is not None
    return root, root / "labels.csv", batch.frames


@pytest.fixture
def medmnist_file(tmp_path: Path) -> Path:
    return medmnist_write(tmp_path / "chestphantom.npz")


@pytest.fixture
def png_folders(tmp_path: Path) -> Path:
    return png_folders_write(tmp_path / "classes")


@pytest.fixture
def dicom_folder(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    return dicom_folder_write(tmp_path / "dicom")
