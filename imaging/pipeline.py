"""The analysis of one stored study, bare: decode, preprocess, classify, heatmap, segment, render.

Django-free (like imaging.ml and imaging.intake) so that the benchmark times exactly what a worker
runs. No TensorFlow: the networks run in ONNX Runtime (imaging.ml.serving). Every stage is timed.

A series or multi-frame file is classified frame by frame (at most MAX_FRAMES, evenly spaced); the
frame with the highest probability of an abnormal finding is the key frame, whose heatmap and
lesion mask are computed and rendered at the frame's own resolution.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from imaging.intake import IntakeLimits, Pixels, frame_to_uint8, pixels_decode, png_encode
from imaging.ml.preprocess import model_input, resize_bilinear
from imaging.ml.serving import ImagingBundle

MAX_FRAMES = 64
MASK_THRESHOLD = 0.5
HEATMAP_MAX_ALPHA = 0.75


@dataclass
class Timings:
    ms: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = round((time.perf_counter() - start) * 1000, 2)


@dataclass
class Analysis:
    """What a worker writes back: per-class probabilities of the key frame, the key frame, the
    lesion area and three PNGs (the frame, the heatmap overlay, the mask overlay)."""

    probabilities: dict[str, float]
    predicted_class: str
    abnormal_probability: float
    key_frame: int
    frames_analysed: int
    lesion_area_px: int | None
    lesion_area_mm2: float | None
    preview_png: bytes
    heatmap_png: bytes
    mask_png: bytes | None
    frame_raw: np.ndarray  # the key frame in physical units, for window/level on demand
    timings: Timings


def frames_to_analyse(count: int, limit: int = MAX_FRAMES) -> list[int]:
    if count <= limit:
        return list(range(count))
    return sorted({round(i) for i in np.linspace(0, count - 1, limit)})


def heatmap_rgba(heat: np.ndarray) -> np.ndarray:
    """A [0, 1] map as a transparent-to-red "jet-like" RGBA overlay (alpha grows with the value)."""
    h = np.clip(heat, 0.0, 1.0)
    red = np.clip(1.5 - np.abs(4 * h - 3), 0, 1)
    green = np.clip(1.5 - np.abs(4 * h - 2), 0, 1)
    blue = np.clip(1.5 - np.abs(4 * h - 1), 0, 1)
    alpha = np.where(h > 0.15, HEATMAP_MAX_ALPHA * h, 0.0)
    return (np.stack([red, green, blue, alpha], axis=-1) * 255).astype(np.uint8)


def mask_rgba(mask: np.ndarray) -> np.ndarray:
    """A boolean mask as a cyan fill with a solid outline."""
    inside = mask.astype(bool)
    edge = inside & ~(
        np.roll(inside, 1, 0)
        & np.roll(inside, -1, 0)
        & np.roll(inside, 1, 1)
        & np.roll(inside, -1, 1)
    )
    out = np.zeros((*mask.shape, 4), dtype=np.uint8)
    out[inside] = (0, 220, 255, 90)
    out[edge] = (0, 240, 255, 255)
    return out


def study_run(
    path: Path,
    *,
    kind: str,
    bundle: ImagingBundle,
    limits: IntakeLimits | None = None,
    timings: Timings | None = None,
) -> Analysis:
    """Analyse the stored file at `path`. Raises imaging.intake.IntakeError when its pixels cannot
    be decoded (a permanent failure: retrying cannot help)."""
    timings = timings or Timings()
    with timings.stage("decode"):
        pixels: Pixels = pixels_decode(path, kind, limits=limits or IntakeLimits())
    frames = pixels.frames
    count, rows, columns = frames.shape
    chosen = frames_to_analyse(count)
    with timings.stage("preprocess"):
        batch = np.stack(
            [
                model_input(frames[i], modality=pixels.modality, size=bundle.input_size)
                for i in chosen
            ]
        ).astype(np.float32)
    with timings.stage("classify"):
        probabilities, features = bundle.classify(batch)
    normal = bundle.classes.index(bundle.normal_class)
    abnormal = 1.0 - probabilities[:, normal]
    best = int(np.argmax(abnormal))
    key = chosen[best]
    probs = probabilities[best]
    # The heatmap shows where the model sees its most likely abnormal finding, even when it
    # calls the image normal: a reader can judge a low-probability region too.
    abnormal_classes = [i for i in range(len(bundle.classes)) if i != normal]
    target = (
        max(abnormal_classes, key=lambda i: probs[i]) if abnormal_classes else int(probs.argmax())
    )
    with timings.stage("heatmap"):
        heat = resize_bilinear(bundle.heatmap(features[best], target), (rows, columns))
    area_px: int | None = None
    area_mm2: float | None = None
    mask_png: bytes | None = None
    if bundle.has_segmenter:
        with timings.stage("segment"):
            lesion = bundle.segment(batch[best]) >= MASK_THRESHOLD
            mask = resize_bilinear(lesion.astype(np.float32), (rows, columns)) >= 0.5
            area_px = int(mask.sum())
            if pixels.pixel_spacing_mm:
                row_mm, col_mm = pixels.pixel_spacing_mm
                area_mm2 = round(area_px * row_mm * col_mm, 2)
    with timings.stage("render"):
        if pixels.rgb is not None and key == 0:
            preview = png_encode(pixels.rgb)
        else:
            preview = png_encode(frame_to_uint8(frames[key], window=pixels.default_window))
        heatmap_png = png_encode(heatmap_rgba(heat))
        if bundle.has_segmenter:
            mask_png = png_encode(mask_rgba(mask))
    return Analysis(
        probabilities={c: round(float(p), 6) for c, p in zip(bundle.classes, probs, strict=True)},
        predicted_class=bundle.classes[int(probs.argmax())],
        abnormal_probability=round(float(abnormal[best]), 6),
        key_frame=int(key),
        frames_analysed=len(chosen),
        lesion_area_px=area_px,
        lesion_area_mm2=area_mm2,
        preview_png=preview,
        heatmap_png=heatmap_png,
        mask_png=mask_png,
        frame_raw=frames[key].astype(np.float32),
        timings=timings,
    )
