"""Frontal projection radiographs ("DX") by Beer-Lambert line integrals (see the package
docstring)."""

import numpy as np

from imaging.ml.phantoms.geometry import (
    MM_PER_UNIT,
    Anatomy,
    blur,
    chord,
    col,
    ellipse_q,
    gaussian_matrix,
    grid,
    lesions_draw,
    smooth_field,
    uniform,
)


def radiographs(rng: np.random.Generator, labels: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """(frames, masks, lung fields) of `len(labels)` frontal projection radiographs, processed for
    presentation (values in (-1, 1)); see the package docstring."""
    m = len(labels)
    x, y, px = grid(rng, m, size)
    body = np.stack(
        [
            np.zeros(m),
            uniform(rng, 0.3, 0.45, m),  # a tall ellipse: the trunk, narrowing to the shoulders
            uniform(rng, 0.84, 0.94, m),
            uniform(rng, 1.6, 1.9, m),
        ],
        1,
    )
    lung_cy, lung_b = uniform(rng, -0.15, -0.05, m), uniform(rng, 0.55, 0.66, m)
    lungs = np.stack(
        [
            np.stack(
                [-uniform(rng, 0.34, 0.4, m), lung_cy, uniform(rng, 0.27, 0.33, m), lung_b], 1
            ),
            np.stack(
                [
                    uniform(rng, 0.34, 0.4, m),
                    lung_cy,
                    uniform(rng, 0.25, 0.31, m),
                    lung_b * uniform(rng, 0.92, 1.0, m),
                ],
                1,
            ),
        ],
        1,
    )
    heart = np.stack(
        [
            uniform(rng, 0.06, 0.16, m),
            uniform(rng, 0.24, 0.34, m),
            uniform(rng, 0.22, 0.3, m),
            uniform(rng, 0.18, 0.25, m),
        ],
        1,
    )
    anatomy = Anatomy(
        x,
        y,
        px,
        lungs.astype(np.float32),
        body.astype(np.float32),
        heart[:, None].astype(np.float32),
    )
    lung_px = anatomy.region(x, y)

    mm = MM_PER_UNIT
    mu_soft, mu_lung = col(uniform(rng, 0.019, 0.021, m)), col(uniform(rng, 0.003, 0.006, m))
    q_body = ellipse_q(x, y, body)
    chord_body = 2 * col(uniform(rng, 95, 125, m)) * np.sqrt(chord(q_body))
    chord_heart = 2 * col(uniform(rng, 45, 60, m)) * chord(ellipse_q(x, y, heart))
    # Vessels and airways, summed along the beam: a fine +-3 % texture of the lung's thickness.
    texture = 1.0 + 0.03 * smooth_field(rng, m, size, 24)
    chord_lung = sum(
        2 * col(uniform(rng, 70, 95, m)) * np.sqrt(chord(ellipse_q(x, y, lungs[:, i])))
        for i in (0, 1)
    )
    chord_lung = np.clip(chord_lung * texture - chord_heart, 0, None)
    attenuation = mu_soft * chord_body - (mu_soft - mu_lung) * chord_lung
    attenuation += 0.001 * chord_heart  # myocardium and blood are slightly denser than fat/muscle
    # Spine: a cylinder of bone along y with darker disc spaces every ~0.14 units.
    width = col(uniform(rng, 0.07, 0.09, m))
    spine = chord(((x - col(uniform(rng, -0.02, 0.02, m))) / width) ** 2) * 2 * 18.0
    discs = 0.75 + 0.25 * np.cos(np.pi * (y - col(uniform(rng, 0, 1, m))) / 0.14) ** 2
    attenuation += 0.025 * spine * discs * (q_body < 1)
    # Posterior ribs: tubes along parabolas y = top + k * spacing + curve * (|x| - 0.08)^2.
    spacing, curve = col(uniform(rng, 0.13, 0.16, m)), col(uniform(rng, 0.6, 0.9, m))
    half = col(uniform(rng, 0.025, 0.032, m))
    offset = y - col(uniform(rng, -0.78, -0.68, m)) - curve * (np.abs(x) - 0.08) ** 2
    k = np.round(offset / spacing)
    slope = 2 * curve * (np.abs(x) - 0.08)
    distance = (offset - k * spacing) / np.sqrt(1 + slope**2)
    on_rib = (k >= 0) & (k < 8) & (np.abs(x) > 0.08) & (q_body < 0.9)
    rib = 2 * mm * np.sqrt(np.clip(half**2 - distance**2, 0, None)) * on_rib
    attenuation += col(uniform(rng, 0.012, 0.02, m)) * rib

    nodule, opacity, mask = lesions_draw(rng, anatomy, labels, lung_px)
    attenuation += (col(uniform(rng, 0.024, 0.036, m)) - mu_lung) * nodule * mm
    attenuation += (
        (mu_soft - mu_lung)
        * col(uniform(rng, 0.3, 0.6, m))
        * col(uniform(rng, 50, 90, m))
        * opacity
    )

    photons = col(np.exp(rng.uniform(np.log(3e3), np.log(3e4), m)).astype(np.float32))
    primary = np.exp(-attenuation)
    signal = photons * (
        primary + col(uniform(rng, 0.05, 0.3, m)) * primary.mean(axis=(1, 2)).reshape(-1, 1, 1)
    )
    counts = np.maximum(
        signal + np.sqrt(signal) * rng.standard_normal(signal.shape, np.float32), 1.0
    )
    log_signal = -np.log(blur(counts) / photons)
    # "For presentation" processing, as DX consoles apply it: unsharp masking with a wide kernel
    # lifts local contrast (nodules, vessels) over the large-scale thickness of the body.
    wide = gaussian_matrix(size, size / 16)
    processed = log_signal + col(uniform(rng, 0.8, 1.5, m)) * (
        log_signal - wide @ log_signal @ wide.T
    )
    # ...then a sigmoid VOI LUT (DICOM's SIGMOID function) centred on the lung fields' median.
    center = np.nanmedian(np.where(lung_px, processed, np.nan), axis=(1, 2))
    frames = np.tanh(
        (processed - col(center + uniform(rng, -0.2, 0.2, m))) / col(uniform(rng, 1.0, 1.6, m))
    )
    return frames.astype(np.float32), mask, lung_px.astype(np.uint8)
