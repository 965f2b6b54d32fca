"""Demo imaging studies for `make run`: synthetic phantoms written as the files a hospital
uploads (CT and MRI as DICOM with Hounsfield units and pixel spacing, radiographs as PNG), so the
worklist, the viewer and the reports have something to show. Every file says it is synthetic.
"""

import datetime as dt
import io

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from imaging.ml.phantoms import CLASSES, phantom_batch

# The phantoms' scale: about 3 mm per pixel at 128 pixels (imaging.ml.phantoms).
PHANTOM_MM_PER_PIXEL = 3.0
SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "MR": "1.2.840.10008.5.1.4.1.1.4",  # MR Image Storage
}


def dicom_bytes(
    frame: np.ndarray, *, modality: str, patient_name: str, patient_id: str, day: dt.date
) -> bytes:
    """One DICOM Part 10 file of `frame` (HU for CT, relative signal for MR)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(SOP_CLASSES[modality])
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = modality
    ds.BodyPartExamined = "CHEST"
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.StudyDate = day.strftime("%Y%m%d")
    ds.InstitutionName = "Health Analysis Mentor demo (synthetic phantom)"
    ds.ImageComments = "Synthetic phantom generated for the demo; not a patient image."
    ds.Rows, ds.Columns = frame.shape
    ds.PixelSpacing = [PHANTOM_MM_PER_PIXEL, PHANTOM_MM_PER_PIXEL]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    if modality == "CT":
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        stored = np.clip(np.round(frame + 1024), -32768, 32767).astype(np.int16)
    else:
        ds.PixelRepresentation = 0
        scale = 4000.0 / max(float(np.percentile(frame, 99.9)), 1e-6)
        stored = np.clip(np.round(frame * scale), 0, 65535).astype(np.uint16)
    ds.PixelData = stored.tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def png_bytes(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(out, format="PNG")
    return out.getvalue()


def demo_uploads(
    patients: list[tuple[str, str]], *, seed: int = 2026, today: dt.date | None = None
) -> list[tuple[str, bytes, str]]:
    """(file name, bytes, true class) per (name, id) of `patients`: CT, MR and X-ray in turn."""
    today = today or dt.date.today()
    modalities = ("CT", "DX", "MR")
    batch = phantom_batch(max(3, len(patients)), seed=seed, keep_frames=True)
    by_modality: dict[str, list[int]] = {m: [] for m in modalities}
    for index, modality in enumerate(batch.modalities):
        by_modality[modality].append(index)
    uploads = []
    for n, (name, patient_id) in enumerate(patients):
        modality = modalities[n % 3]
        pool = by_modality[modality] or list(range(len(batch.labels)))
        index = pool[(n // 3) % len(pool)]
        label = CLASSES[int(batch.labels[index])]
        day = today - dt.timedelta(days=n % 5)
        if modality == "DX":
            uploads.append((f"chest-xray-{n + 1}.png", png_bytes(batch.images[index]), label))
        else:
            assert batch.frames is not None
            data = dicom_bytes(
                batch.frames[index],
                modality=modality,
                patient_name=name,
                patient_id=patient_id,
                day=day,
            )
            uploads.append((f"{modality.lower()}-{n + 1}.dcm", data, label))
    return uploads
