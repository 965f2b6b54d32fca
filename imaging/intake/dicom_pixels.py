"""Decoding the pixels of a DICOM image that dicom_inspect accepted, into physical units."""

from __future__ import annotations

import logging
from typing import BinaryIO

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut, convert_color_space

from imaging import softlimit
from imaging.intake import dicom_values as dv
from imaging.intake.dicom import DicomHeader
from imaging.intake.errors import IntakeError
from imaging.intake.render import default_ct_window, luminance

logger = logging.getLogger(__name__)

WINDOW_CENTER, WINDOW_WIDTH = 0x00281050, 0x00281051
MODALITY_LUT_SEQUENCE = 0x00283000


def undecodable() -> IntakeError:
    return IntakeError(
        "undecodable_pixels",
        "The image data in this file could not be decoded; it may be damaged or use an "
        "unsupported compression.",
    )


def _frame_rescales(ds: Dataset, frames: int) -> list[tuple[float, float]]:
    found = dv.rescale_read(ds, strict=True)
    if found is not None:
        return [found] * frames
    per_frame = []
    for index in range(frames):
        item = dv.functional_group_item(ds, "PixelValueTransformationSequence", index)
        pair = dv.rescale_read(item, strict=False) if item is not None else None
        per_frame.append(pair or (1.0, 0.0))
    return per_frame


def _window(ds: Dataset) -> tuple[float, float] | None:
    for source in (ds, dv.functional_group_item(ds, "FrameVOILUTSequence")):
        if source is None:
            continue
        centers = dv.lenient_floats(source, WINDOW_CENTER)
        widths = dv.lenient_floats(source, WINDOW_WIDTH)
        if centers and widths and widths[0] > 0:
            return centers[0], widths[0]
    return None


def _stored_range(header: DicomHeader) -> tuple[float, float]:
    if header.pixel_representation:
        return -(2.0 ** (header.bits_stored - 1)), 2.0 ** (header.bits_stored - 1) - 1
    return 0.0, 2.0**header.bits_stored - 1


def _to_uint8(rgb: np.ndarray, bits: int) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return rgb
    shift = max(bits - 8, 0)
    return np.clip(rgb.astype(np.uint64) >> shift, 0, 255).astype(np.uint8)


def _colour(
    arr: np.ndarray, ds: Dataset, header: DicomHeader, decoded_pi: str
) -> tuple[np.ndarray, np.ndarray]:
    """(F, H, W, S) decoded samples -> (luminance frames, frame 0 as RGB uint8)."""
    if header.photometric == "PALETTE COLOR":
        rgb_all = apply_color_lut(arr[..., 0], ds)
        bits = 16 if rgb_all.dtype != np.uint8 else 8
    else:
        if decoded_pi in ("YBR_FULL", "YBR_FULL_422"):
            if arr.dtype != np.uint8:
                raise undecodable()  # pydicom converts 8-bit YCbCr only
            arr = convert_color_space(arr, decoded_pi, "RGB", per_frame=True)
        elif decoded_pi != "RGB":
            raise undecodable()
        rgb_all, bits = arr, header.bits_stored
    return luminance(rgb_all), _to_uint8(rgb_all[0], bits)


def _frames_decode(ds: Dataset, header: DicomHeader) -> tuple[np.ndarray, dict[str, str | int]]:
    """Every frame's raw samples, (F, ...) in one array, and the decoder's properties. Frame by
    frame, so that a soft time limit a decoding plugin swallowed (pydicom then tries the next
    plugin) stops the decoding at the next frame."""
    out: np.ndarray | None = None
    properties: dict[str, str | int] = {}
    try:
        frames = get_decoder(header.transfer_syntax).iter_array(ds, raw=True)
        for index in range(header.frames):
            frame, properties = next(frames)
            softlimit.check()
            if out is None:
                out = np.empty((header.frames, *frame.shape), dtype=frame.dtype)
            out[index] = frame
    except softlimit.SoftTimeLimitExceeded:
        raise
    except Exception as exc:  # decoder plugins raise anything from ValueError to RuntimeError
        logger.info("dicom pixel decode failed: %s", type(exc).__name__)
        raise undecodable() from None
    if out is None:
        raise undecodable()
    return out, properties


def dicom_decode(
    fp: BinaryIO, header: DicomHeader
) -> tuple[np.ndarray, np.ndarray | None, tuple[float, float] | None]:
    """Decode every frame of an accepted DICOM image: (frames (F, H, W) float32, RGB of frame 0
    for colour images, default window). CT is in Hounsfield units; MONOCHROME1 is inverted.
    Raises IntakeError("undecodable_pixels") when the pixels cannot be decoded."""
    fp.seek(0)
    try:
        ds = dcmread(fp, force=False)
    except Exception as exc:  # pydicom raises many types on malformed input
        logger.info("dicom read failed: %s", type(exc).__name__)
        raise undecodable() from None
    arr, properties = _frames_decode(ds, header)
    shape = (header.frames, header.rows, header.columns)
    samples = header.samples_per_pixel
    try:
        arr = arr.reshape(shape + ((samples,) if samples > 1 else ()))
    except ValueError:
        raise undecodable() from None
    decoded_pi = str(properties.get("photometric_interpretation", header.photometric))

    if samples > 1 or header.photometric == "PALETTE COLOR":
        try:
            frames, rgb = _colour(arr if samples > 1 else arr[..., None], ds, header, decoded_pi)
        except IntakeError:
            raise
        except Exception as exc:  # a LUT or colour conversion that does not fit its data
            logger.info("dicom colour conversion failed: %s", type(exc).__name__)
            raise undecodable() from None
        window = None
    else:
        frames, window = _monochrome(arr, ds, header)
        rgb = None
    if frames.shape != shape or not np.isfinite(frames).all():
        raise undecodable()
    return frames, rgb, window


def _monochrome(
    arr: np.ndarray, ds: Dataset, header: DicomHeader
) -> tuple[np.ndarray, tuple[float, float] | None]:
    frames = arr.astype(np.float32)
    window = _window(ds)
    lo, hi = _stored_range(header)
    if header.modality == "CT":
        if MODALITY_LUT_SEQUENCE in ds and dv.rescale_read(ds, strict=True) is None:
            frames = apply_modality_lut(arr, ds).astype(np.float32)
            lo, hi = float(frames.min()), float(frames.max())
        else:
            rescales = _frame_rescales(ds, header.frames)
            slopes = np.array([m for m, _ in rescales], dtype=np.float32)[:, None, None]
            intercepts = np.array([b for _, b in rescales], dtype=np.float32)[:, None, None]
            frames = frames * slopes + intercepts
            m, b = rescales[0]
            lo, hi = sorted((lo * m + b, hi * m + b))
        if window is None:
            window = default_ct_window(header.body_part)
    elif window is not None:
        # The DICOM window applies to rescaled values; our non-CT frames stay raw stored values.
        rescale = dv.rescale_read(ds, strict=False)
        if rescale is not None:
            m, b = rescale
            window = ((window[0] - b) / m, window[1] / abs(m))
    if header.photometric == "MONOCHROME1":
        frames = np.float32(lo + hi) - frames
        if window is not None:
            window = (lo + hi - window[0], window[1])
    return frames.astype(np.float32, copy=False), window
