"""intake_inspect and pixels_decode: the two entry points, dispatching on the sniffed kind."""

from __future__ import annotations

import io
import logging
import stat
from pathlib import Path

import numpy as np

from imaging.intake.dicom import DicomHeader, dicom_inspect
from imaging.intake.dicom_pixels import dicom_decode, undecodable
from imaging.intake.errors import IntakeError
from imaging.intake.raster import raster_decode, raster_inspect
from imaging.intake.records import DEFAULT_LIMITS, Intake, IntakeLimits, Pixels
from imaging.intake.series import series_read
from imaging.intake.sniff import HEAD_BYTES, sniff_kind

logger = logging.getLogger(__name__)

_KINDS = ("png", "jpeg", "dicom", "dicom-zip")


def _size_checked(path: Path, limits: IntakeLimits) -> int:
    """The file's size, after refusing anything that is not a regular file or is too large
    (stat first: nothing is read from a file over the limit)."""
    try:
        info = path.stat()
    except OSError:
        raise IntakeError("unreadable", "The uploaded file could not be read.") from None
    if not stat.S_ISREG(info.st_mode):
        raise IntakeError("unreadable", "The upload is not a regular file.")
    if info.st_size > limits.max_bytes:
        raise IntakeError(
            "too_large",
            f"This file is larger than the {limits.max_bytes // (1024 * 1024)} MB upload limit.",
        )
    return info.st_size


def _sniffed(path: Path, limits: IntakeLimits) -> tuple[str, int]:
    size = _size_checked(path, limits)
    try:
        with path.open("rb") as fp:
            head = fp.read(HEAD_BYTES)
    except OSError:
        raise IntakeError("unreadable", "The uploaded file could not be read.") from None
    return sniff_kind(head), size


def _dicom_intake(header: DicomHeader, *, kind: str, frames: int) -> Intake:
    return Intake(
        kind=kind,
        extension=".zip" if kind == "dicom-zip" else ".dcm",
        modality=header.modality,
        body_part=header.body_part,
        rows=header.rows,
        columns=header.columns,
        frames=frames,
        pixel_spacing_mm=header.pixel_spacing_mm,
        photometric=header.photometric,
        bits_stored=header.bits_stored,
        phi=dict(header.phi),
        study_date=header.study_date,
    )


def _dicom_header(path: Path, size: int, limits: IntakeLimits) -> DicomHeader:
    with path.open("rb") as fp:
        return dicom_inspect(fp, size, limits)


def intake_inspect(path: Path, *, limits: IntakeLimits = DEFAULT_LIMITS) -> Intake:
    """Validate an uploaded file by CONTENT (never its name) and read its metadata, cheaply:
    no full pixel decode of compressed DICOM. Raises IntakeError.

    PNG and JPEG are opened lazily by Pillow's PNG/JPEG decoders only and their pixel count is
    checked from the header; DICOM is parsed by pydicom up to its pixel data, whose structure
    is then checked without decoding; a zip must hold one series of DICOM slices.
    """
    kind, size = _sniffed(Path(path), limits)
    try:
        if kind in ("png", "jpeg"):
            return raster_inspect(Path(path), kind, limits)
        if kind == "dicom":
            header = _dicom_header(Path(path), size, limits)
            return _dicom_intake(header, kind=kind, frames=header.frames)
        slices = series_read(Path(path), limits, keep_data=False)
        return _dicom_intake(slices[0].header, kind=kind, frames=len(slices))
    except IntakeError as error:
        logger.info("upload refused: kind=%s code=%s bytes=%d", kind, error.code, size)
        raise


def pixels_decode(path: Path, kind: str, *, limits: IntakeLimits = DEFAULT_LIMITS) -> Pixels:
    """Fully decode the pixels of a file intake_inspect accepted. Raises IntakeError
    (code "undecodable_pixels") when the pixel data cannot be decoded.

    Every intake check and limit is applied again first (the file may have changed, or the
    limits); a file that now fails one raises that check's code. A zipped series is decoded
    slice by slice, in anatomical order, into one (slices, H, W) stack.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown intake kind {kind!r}")
    path = Path(path)
    sniffed, size = _sniffed(path, limits)
    if sniffed != kind:
        raise undecodable()
    if kind in ("png", "jpeg"):
        raster_inspect(path, kind, limits)
        frames, rgb = raster_decode(path, kind, limits)
        return Pixels(frames, rgb, "OT", None, None)
    if kind == "dicom":
        header = _dicom_header(path, size, limits)
        with path.open("rb") as fp:
            frames, rgb, window = dicom_decode(fp, header)
        return Pixels(frames, rgb, header.modality, window, header.pixel_spacing_mm)
    return _series_decode(path, limits)


def _series_decode(path: Path, limits: IntakeLimits) -> Pixels:
    slices = series_read(path, limits, keep_data=True)
    stack = np.empty((len(slices), slices[0].header.rows, slices[0].header.columns), np.float32)
    rgb = window = None
    for index, item in enumerate(slices):
        assert item.data is not None
        frames, slice_rgb, slice_window = dicom_decode(io.BytesIO(item.data), item.header)
        stack[index] = frames[0]
        if index == 0:
            rgb, window = slice_rgb, slice_window
    first = slices[0].header
    return Pixels(stack, rgb, first.modality, window, first.pixel_spacing_mm)
