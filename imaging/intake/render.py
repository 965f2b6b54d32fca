"""Display helpers: CT window presets, windowing to 8 bits, PNG encoding, luminance."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# (center, width) in Hounsfield units.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "mediastinum": (40.0, 400.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
    "abdomen": (40.0, 350.0),
}

# BodyPartExamined values (upper-cased) and the preset a CT of that region opens with when the
# file gives no window of its own. Chest opens in the soft-tissue (mediastinum) window, as
# reading rooms do; the lung preset is one click away in the viewer.
_BODY_PART_PRESET: dict[str, str] = {
    "HEAD": "brain",
    "BRAIN": "brain",
    "SKULL": "brain",
    "HEADNECK": "brain",
    "ABDOMEN": "abdomen",
    "PELVIS": "abdomen",
    "ABDOMENPELVIS": "abdomen",
    "ABDOMEN_PELVIS": "abdomen",
    "LIVER": "abdomen",
    "KIDNEY": "abdomen",
    "PANCREAS": "abdomen",
}

# ITU-R BT.601 luma weights, the ones DICOM's YBR_FULL and JPEG use.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def default_ct_window(body_part: str) -> tuple[float, float]:
    """The preset a CT of `body_part` opens with: brain for the head, abdomen for the abdomen
    and pelvis, mediastinum (soft tissue) otherwise, chest included."""
    key = body_part.upper().replace(" ", "")
    return WINDOW_PRESETS[_BODY_PART_PRESET.get(key, "mediastinum")]


def luminance(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB samples of any integer depth -> (...) float32 luminance, same scale."""
    return np.asarray(rgb, dtype=np.float32) @ _LUMA


def frame_to_uint8(frame: np.ndarray, *, window: tuple[float, float] | None) -> np.ndarray:
    """(H, W) uint8 for display: with a window, linear center/width clipping; without, the
    0.5th-99.5th percentile range. A flat image comes out black."""
    values = np.asarray(frame, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"frame_to_uint8 takes one (H, W) frame, not shape {values.shape}")
    finite = np.isfinite(values)
    if window is not None:
        center, width = window
        lo, hi = center - width / 2.0, center + width / 2.0
    elif finite.any():
        lo, hi = (float(v) for v in np.percentile(values[finite], [0.5, 99.5]))
    else:
        lo, hi = 0.0, 1.0
    if hi <= lo:
        hi = lo + 1.0
    scaled = (np.where(finite, values, lo) - lo) * np.float32(255.0 / (hi - lo))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def png_encode(image: np.ndarray) -> bytes:
    """(H, W) uint8 grayscale, (H, W, 3) RGB or (H, W, 4) RGBA uint8 -> PNG bytes (Pillow)."""
    array = np.ascontiguousarray(image)
    if array.dtype != np.uint8:
        raise ValueError(f"png_encode takes uint8 pixels, not {array.dtype}")
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(f"png_encode takes (H, W), (H, W, 3) or (H, W, 4), not {array.shape}")
    buffer = io.BytesIO()
    # Pillow infers L, RGB or RGBA from a uint8 array's shape.
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()
