"""The values the intake hands back: limits in, Intake (metadata) and Pixels (decoded) out."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class IntakeLimits:
    """Upper bounds applied before anything is decoded (and again when decoding)."""

    max_bytes: int = 200 * 1024 * 1024
    max_frame_pixels: int = 50_000_000
    max_total_pixels: int = 400_000_000
    max_frames: int = 2000
    max_zip_entries: int = 2000


DEFAULT_LIMITS = IntakeLimits()


@dataclass(frozen=True)
class Intake:
    """What intake_inspect learnt about an accepted upload, from its content alone.

    `phi` holds the DICOM identifiers (patient_name, patient_id, birth_date, sex,
    accession_number, institution, referring_physician, study_date, study_uid, series_uid; "" when
    absent) and is empty for PNG/JPEG. It must never be logged.
    """

    kind: str  # "png" | "jpeg" | "dicom" | "dicom-zip"
    extension: str  # ".png" | ".jpg" | ".dcm" | ".zip"
    modality: str  # DICOM code ("CT", "MR", ...); "OT" for PNG/JPEG
    body_part: str  # BodyPartExamined upper-case, "" if unknown
    rows: int
    columns: int
    frames: int
    pixel_spacing_mm: tuple[float, float] | None
    photometric: str
    bits_stored: int
    phi: dict[str, str] = field(repr=False)
    study_date: datetime.date | None


@dataclass
class Pixels:
    """Decoded pixels.

    `frames` is (F, H, W) float32 in physical units: Hounsfield units for CT, raw stored values
    otherwise; MONOCHROME1 is already inverted (higher = brighter) and colour sources are
    converted to ITU-R 601 luminance. `rgb` is frame 0 as (H, W, 3) uint8 for colour sources.
    `default_window` is (center, width) in the units of `frames`, or None.
    """

    frames: np.ndarray
    rgb: np.ndarray | None
    modality: str
    default_window: tuple[float, float] | None
    pixel_spacing_mm: tuple[float, float] | None
