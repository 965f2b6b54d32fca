"""Builders of the files the intake tests upload: real DICOM slices written with pydicom, and
hand-crafted hostile PNG / JPEG / zip files."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    generate_uid,
)

# The start of a Windows executable: DOS header, e_lfanew, DOS stub.
PE_PREAMBLE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8"
    + b"\x00" * 43
    + struct.pack("<I", 0x80)  # e_lfanew: where the PE header would start
    + b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21This program cannot be run"
)

SERIES_UID = "1.2.826.0.1.3680043.8.498.1"
STUDY_UID = "1.2.826.0.1.3680043.8.498.2"


def pydicom_file(name: str) -> Path:
    """Path of one of pydicom's bundled test files."""
    found = get_testdata_file(name)
    assert found is not None, name
    return Path(str(found))


def ct_slice(
    *,
    rows: int = 32,
    columns: int = 32,
    z: float = 0.0,
    instance: int = 1,
    series_uid: str = SERIES_UID,
    fill: int | None = None,
    body_part: str = "CHEST",
    window: tuple[float, float] | None = None,
    photometric: str = "MONOCHROME2",
) -> Dataset:
    """A small, valid CT slice (stored values + intercept -1024), position z along the normal.

    Its stored value is 1000 + 10 * z unless `fill` is given, so that slice order is visible in
    the decoded HU (z * 10 - 24)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.BodyPartExamined = body_part
    ds.PatientName = "Synthetic^Patient"
    ds.PatientID = "SYN-0001"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.AccessionNumber = "ACC42"
    ds.InstitutionName = "Synthetic Hospital"
    ds.ReferringPhysicianName = "Doctor^Synthetic"
    ds.StudyDate = "20240131"
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = series_uid
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [0.0, 0.0, z]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing = [0.7, 0.8]
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    value = 1000 + int(10 * z) if fill is None else fill
    pixels = np.full((rows, columns), value, dtype=np.uint16)
    pixels[0, 0] = 24  # one air pixel: -1000 HU
    ds.PixelData = pixels.tobytes()
    return ds


def dicom_bytes(ds: Dataset) -> bytes:
    """The dataset as a DICOM Part 10 file."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def patch_element(data: bytes, tag: int, vr: bytes, value: bytes) -> bytes:
    """Rewrite the value of a short-form explicit-VR little-endian element in a DICOM file,
    byte for byte: how a damaged or hostile file is made, bypassing pydicom's own checks."""
    start = data.index(struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr)
    length = struct.unpack("<H", data[start + 6 : start + 8])[0]
    header = data[start : start + 6] + struct.pack("<H", len(value))
    return data[:start] + header + value + data[start + 8 + length :]


def data_set_only(data: bytes) -> bytes:
    """A Part 10 file stripped of its preamble, DICM prefix and File Meta group."""
    assert data[128:132] == b"DICM" and data[132:136] == b"\x02\x00\x00\x00"
    group_length = struct.unpack("<I", data[140:144])[0]
    return data[144 + group_length :]


def with_preamble(path: Path, preamble: bytes) -> bytes:
    """The file at `path` with its 128-byte preamble replaced (padded with zeros)."""
    data = path.read_bytes()
    assert data[128:132] == b"DICM"
    return preamble.ljust(128, b"\x00")[:128] + data[128:]


def ct_small() -> Dataset:
    return dcmread(pydicom_file("CT_small.dcm"))


# --- PNG / JPEG ----------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A small PNG whose IHDR announces width x height 8-bit gray pixels, with a few rows of
    zlib-compressed zeros (a real decoder would have to allocate for all of them)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 16, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", rows)
        + png_chunk(b"IEND", b"")
    )


def png_bytes(array: np.ndarray, **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **save)
    return buffer.getvalue()


def jpeg_bytes(array: np.ndarray, **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=95, **save)
    return buffer.getvalue()


def jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with its SOF0 frame header rewritten to announce width x height."""
    at = data.index(b"\xff\xc0")
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


# --- zip -----------------------------------------------------------------------------------


def zip_bytes(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def symlink_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # unix, so that external_attr carries a file mode
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info
