"""One preprocessing path for every image a model sees: phantoms, hospital training data and
uploads at serving time all become (size, size) float32 in [0, 1] here, and nowhere else.

CT frames are in Hounsfield units, so one fixed window (the lung window) maps them: the same
tissue gets the same input value on every scanner. Other modalities have no absolute unit (a DX
detector's values, an MR receiver's gain), so each image is stretched between its own 0.5th and
99.5th percentiles. Resizing is bilinear with half-pixel centres (as tf.image.resize and PIL):
when shrinking, the triangle filter widens with the scale factor (PIL's antialiased bilinear), so
a 2,000-pixel radiograph is averaged down rather than sampled with aliasing.
"""

import numpy as np

INPUT_SIZE = 128
CT_WINDOW = (-600.0, 1500.0)  # (center, width) in HU: the lung window, lung to soft tissue
PERCENTILES = (0.5, 99.5)


def resize_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float64 matrix of one axis' bilinear resize (rows sum to 1).

    Output pixel o is centred at input coordinate (o + 0.5) * n_in / n_out - 0.5; a triangle
    filter of half-width max(1, n_in / n_out) input pixels weights the input pixels, and rows
    are renormalised at the edges (equivalent to clamping when enlarging)."""
    if n_in < 1 or n_out < 1:
        raise ValueError(f"Cannot resize {n_in} pixels to {n_out}.")
    scale = n_in / n_out
    support = max(scale, 1.0)
    centers = (np.arange(n_out) + 0.5) * scale
    positions = np.arange(n_in) + 0.5
    weights = np.clip(1.0 - np.abs(positions[None, :] - centers[:, None]) / support, 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def resize_bilinear(images: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """(..., H, W) -> (..., h, w) float32 by separable bilinear weights (see resize_weights).
    `size` is one int for a square output or (h, w)."""
    height, width = (size, size) if isinstance(size, int) else size
    images = np.asarray(images, dtype=np.float32)
    if images.shape[-2:] == (height, width):
        return images.copy()
    rows = resize_weights(images.shape[-2], height).astype(np.float32)
    cols = resize_weights(images.shape[-1], width).astype(np.float32)
    # Contract the longer axis first: fewer multiply-adds for strongly non-square inputs.
    return np.asarray(rows @ images @ cols.T, dtype=np.float32)


def _finite(frames: np.ndarray) -> np.ndarray:
    """Non-finite values (NaN in a float DICOM, say) replaced by the lowest finite value."""
    finite = np.isfinite(frames)
    if finite.all():
        return frames
    low = float(frames[finite].min()) if finite.any() else 0.0
    return np.where(finite, frames, low).astype(np.float32)


def model_inputs(frames: np.ndarray, *, modality: str, size: int = INPUT_SIZE) -> np.ndarray:
    """(N, H, W) frames of one modality, in physical units -> (N, size, size) float32 in [0, 1].

    CT: the fixed lung window CT_WINDOW on Hounsfield units. Any other modality: each frame
    stretched between its own PERCENTILES (a flat frame becomes all zeros). Resized first (see
    resize_bilinear), then mapped, so percentiles describe what the model sees."""
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 3 or min(frames.shape[1:]) < 1:
        raise ValueError(f"Expected frames of shape (N, H, W); got {frames.shape}.")
    resized = resize_bilinear(_finite(frames), size)
    if modality.upper() == "CT":
        center, width = CT_WINDOW
        low = np.full((len(resized), 1, 1), center - width / 2, dtype=np.float32)
        span = np.full_like(low, width)
    else:
        low_high = np.percentile(resized, PERCENTILES, axis=(1, 2)).astype(np.float32)
        low = low_high[0][:, None, None]
        span = (low_high[1] - low_high[0])[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(span > 0, (resized - low) / np.where(span > 0, span, 1), 0.0)
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)


def model_input(frame: np.ndarray, *, modality: str, size: int = INPUT_SIZE) -> np.ndarray:
    """(H, W) physical units (intake.Pixels.frames[i]) -> (size, size) float32 in [0, 1].
    CT: fixed lung-ish window on HU; others: 0.5-99.5 percentile range. Bilinear resize."""
    frame = np.asarray(frame)
    if frame.ndim != 2:
        raise ValueError(f"Expected one (H, W) frame; got shape {frame.shape}.")
    return model_inputs(frame[None], modality=modality, size=size)[0]
