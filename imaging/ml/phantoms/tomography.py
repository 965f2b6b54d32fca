"""Axial CT slices in Hounsfield units and T1/PD-like MR slices (see the package docstring)."""

import numpy as np

from imaging.ml.phantoms.geometry import (
    Anatomy,
    blur,
    col,
    ellipse_q,
    grid,
    lesions_draw,
    smooth_field,
    uniform,
)


def axial_anatomy(
    rng: np.random.Generator, m: int, size: int
) -> tuple[Anatomy, dict[str, np.ndarray]]:
    """Axial chest anatomy shared by CT and MR: boolean tissue maps, painted in order."""
    x, y, px = grid(rng, m, size)
    a, b = uniform(rng, 0.8, 0.92, m), uniform(rng, 0.55, 0.66, m)
    zero = np.zeros(m, np.float32)
    cy = uniform(rng, -0.02, 0.04, m)
    fat = uniform(rng, 0.02, 0.08, m)
    body = np.stack([zero, cy, a, b], 1)
    inner = np.stack([zero, cy, a - fat, b - fat], 1)
    # Ribs sit on a ring just inside the muscle wall; the lungs end inside that ring.
    ring_a, ring_b = a - fat - 0.05, b - fat - 0.05
    container = np.stack([zero, cy, ring_a - 0.035, ring_b - 0.035], 1)
    lung_cy = cy + uniform(rng, -0.03, 0.03, m)
    lungs = np.stack(
        [
            np.stack(
                [
                    -ring_a * uniform(rng, 0.42, 0.5, m),
                    lung_cy,
                    ring_a * uniform(rng, 0.36, 0.44, m),
                    ring_b * uniform(rng, 0.7, 0.85, m),
                ],
                1,
            ),
            np.stack(
                [
                    ring_a * uniform(rng, 0.42, 0.5, m),
                    lung_cy,
                    ring_a * uniform(rng, 0.34, 0.42, m),
                    ring_b * uniform(rng, 0.68, 0.83, m),
                ],
                1,
            ),
        ],
        1,
    )
    heart = np.stack(
        [
            a * uniform(rng, 0.05, 0.15, m),
            cy - b * uniform(rng, 0.25, 0.4, m),
            a * uniform(rng, 0.22, 0.28, m),
            b * uniform(rng, 0.3, 0.38, m),
        ],
        1,
    )
    r_aorta = uniform(rng, 0.05, 0.07, m)
    aorta = np.stack(
        [a * uniform(rng, 0.06, 0.1, m), cy + b * uniform(rng, 0.3, 0.4, m), r_aorta, r_aorta], 1
    )
    r_body = uniform(rng, 0.09, 0.11, m)
    vertebra = np.stack(
        [uniform(rng, -0.02, 0.02, m), cy + b * uniform(rng, 0.5, 0.6, m), r_body, 0.9 * r_body], 1
    )
    process = np.stack(
        [
            vertebra[:, 0],
            vertebra[:, 1] + 1.7 * vertebra[:, 3],
            uniform(rng, 0.03, 0.04, m),
            0.9 * vertebra[:, 3],
        ],
        1,
    )
    excluded = np.stack([heart, aorta, vertebra, process], 1).astype(np.float32)
    anatomy = Anatomy(x, y, px, lungs.astype(np.float32), container.astype(np.float32), excluded)
    theta = np.arctan2((y - col(cy)) / col(ring_b), x / col(ring_a))
    ring = np.abs(np.hypot(x / col(ring_a), (y - col(cy)) / col(ring_b)) - 1) * col(ring_b)
    phase = col(uniform(rng, 0, 2 * np.pi, m))
    ribs = (ring < 0.022) & (np.cos(theta * 7 + phase) > 0.55) & (np.abs(np.sin(theta)) > 0.25)
    q_vertebra = ellipse_q(x, y, vertebra)
    in_lungs = (ellipse_q(x, y, lungs[:, 0]) < 1) | (ellipse_q(x, y, lungs[:, 1]) < 1)
    maps = {
        "body": ellipse_q(x, y, body) < 1,
        "inner": ellipse_q(x, y, inner) < 1,
        "lung": in_lungs & (ellipse_q(x, y, container) < 1),
        "heart": ellipse_q(x, y, heart) < 1,
        "aorta": ellipse_q(x, y, aorta) < 1,
        "cortex": q_vertebra < 1,
        "marrow": q_vertebra < 0.6,
        "process": ellipse_q(x, y, process) < 1,
        "ribs": ribs,
    }
    return anatomy, maps


def paint(maps: dict[str, np.ndarray], values: dict[str, np.ndarray], air: float) -> np.ndarray:
    """Tissue values painted in the order of `values`, each over the ones before."""
    image = np.full(maps["body"].shape, air, np.float32)
    for name, value in values.items():
        image = np.where(maps[name], col(value), image)
    return image


def ct_slices(rng: np.random.Generator, labels: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Axial CT slices in Hounsfield units; see the package docstring."""
    m = len(labels)
    anatomy, maps = axial_anatomy(rng, m, size)
    lung_px = anatomy.region(anatomy.x, anatomy.y)
    soft = uniform(rng, 30, 50, m)
    image = paint(
        maps,
        {
            "body": uniform(rng, -120, -80, m),
            "inner": soft,
            "lung": uniform(rng, -880, -820, m),
            "heart": uniform(rng, 30, 50, m),
            "aorta": uniform(rng, 30, 50, m),
            "cortex": uniform(rng, 600, 800, m),
            "marrow": uniform(rng, 200, 300, m),
            "process": uniform(rng, 500, 700, m),
            "ribs": uniform(rng, 500, 800, m),
        },
        air=-1000.0,
    )
    image += np.where(lung_px, 25.0 * smooth_field(rng, m, size, 16), 0.0)
    nodule, opacity, mask = lesions_draw(rng, anatomy, labels, lung_px)
    image = np.where(nodule > 0, col(uniform(rng, -50, 120, m)), image)
    image += col(uniform(rng, 150, 350, m)) * opacity
    image = blur(image) + col(uniform(rng, 10, 40, m)) * rng.standard_normal(
        image.shape, np.float32
    )
    return image.astype(np.float32), mask, lung_px.astype(np.uint8)


def mr_slices(rng: np.random.Generator, labels: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Axial T1/PD-like MR slices with bias field and Rician noise; see the package docstring."""
    m = len(labels)
    anatomy, maps = axial_anatomy(rng, m, size)
    lung_px = anatomy.region(anatomy.x, anatomy.y)
    image = paint(
        maps,
        {
            "body": uniform(rng, 0.85, 1.0, m),
            "inner": uniform(rng, 0.3, 0.42, m),
            "lung": uniform(rng, 0.02, 0.06, m),
            "heart": uniform(rng, 0.15, 0.45, m),
            "aorta": uniform(rng, 0.1, 0.4, m),
            "cortex": uniform(rng, 0.02, 0.08, m),
            "marrow": uniform(rng, 0.55, 0.75, m),
            "process": uniform(rng, 0.4, 0.6, m),
            "ribs": uniform(rng, 0.3, 0.5, m),
        },
        air=0.0,
    )
    image += np.where(lung_px, 0.01 * smooth_field(rng, m, size, 16), 0.0)
    nodule, opacity, mask = lesions_draw(rng, anatomy, labels, lung_px)
    image = np.where(nodule > 0, col(uniform(rng, 0.3, 0.5, m)), image)
    image += col(uniform(rng, 0.08, 0.18, m)) * opacity
    image = blur(image) * np.exp(0.12 * smooth_field(rng, m, size, 2))
    sigma = col(uniform(rng, 0.015, 0.05, m))
    real = image + sigma * rng.standard_normal(image.shape, np.float32)
    imag = sigma * rng.standard_normal(image.shape, np.float32)
    return np.hypot(real, imag).astype(np.float32), mask, lung_px.astype(np.uint8)
