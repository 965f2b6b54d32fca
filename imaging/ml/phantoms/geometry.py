"""Geometry shared by the phantom generators: per-image random transforms, ellipses and the
chords through them, smooth random fields, blurs, and the lesions placed inside the lungs."""

from dataclasses import dataclass

import numpy as np

MM_PER_UNIT = 190.0  # canonical unit -> mm (a chest ~ 330 mm wide); ~3 mm per pixel at 128
REFERENCE_SIZE = 128  # lesion radii are in pixels of a 128-pixel image; they scale with size
NODULE_RADIUS_PX = (2.0, 4.5)
OPACITY_RADIUS_PX = (7.0, 15.0)


@dataclass
class Anatomy:
    """Per-image geometry in canonical units. Ellipses are rows (cx, cy, a, b)."""

    x: np.ndarray  # (m, S, S) canonical coordinates of the pixel centres
    y: np.ndarray
    px: np.ndarray  # (m,) canonical length of one pixel
    lungs: np.ndarray  # (m, 2, 4)
    container: np.ndarray  # (m, 4) the lungs end at this ellipse (inside the ribs)
    excluded: np.ndarray  # (m, E, 4) ellipses painted over the lungs (heart, aorta, spine)

    def subset(self, idx: np.ndarray) -> "Anatomy":
        return Anatomy(
            self.x[idx],
            self.y[idx],
            self.px[idx],
            self.lungs[idx],
            self.container[idx],
            self.excluded[idx],
        )

    def region(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Inside a lung field: in either lung ellipse, inside the container and in no excluded
        ellipse. x, y broadcast against (m, ...) with the image axis first."""
        shape = (-1,) + (1,) * (x.ndim - 1)

        def inside(e: np.ndarray) -> np.ndarray:
            cx, cy, a, b = (e[:, i].reshape(shape) for i in range(4))
            return ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 < 1.0

        result = (inside(self.lungs[:, 0]) | inside(self.lungs[:, 1])) & inside(self.container)
        for k in range(self.excluded.shape[1]):
            result &= ~inside(self.excluded[:, k])
        return result


def uniform(rng: np.random.Generator, low: float, high: float, m: int) -> np.ndarray:
    return rng.uniform(low, high, m).astype(np.float32)


def col(v: np.ndarray) -> np.ndarray:
    return v[:, None, None]


def ellipse_q(x: np.ndarray, y: np.ndarray, e: np.ndarray) -> np.ndarray:
    """The ellipse equation ((x-cx)/a)^2 + ((y-cy)/b)^2 per pixel (< 1 inside)."""
    dx = (x - col(e[:, 0])) * col(1 / e[:, 2])
    dy = (y - col(e[:, 1])) * col(1 / e[:, 3])
    dx *= dx
    dy *= dy
    dx += dy
    return dx


def chord(q: np.ndarray) -> np.ndarray:
    """Relative chord length through an ellipsoid along the beam: sqrt(1 - q) inside, else 0."""
    return np.sqrt(np.clip(1.0 - q, 0.0, None))


def grid(rng: np.random.Generator, m: int, size: int) -> tuple[np.ndarray, ...]:
    """Canonical coordinates of each pixel centre under a random rotation, scale and shift."""
    u = ((np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1)[None, None, :]
    v = u.transpose(0, 2, 1)
    angle = col(np.deg2rad(uniform(rng, -10, 10, m)))
    scale = uniform(rng, 0.9, 1.08, m)
    du, dv = col(uniform(rng, -0.05, 0.05, m)), col(uniform(rng, -0.05, 0.05, m))
    cos, sin, s = np.cos(angle), np.sin(angle), col(scale)
    x = (cos * (u - du) + sin * (v - dv)) / s
    y = (-sin * (u - du) + cos * (v - dv)) / s
    return x.astype(np.float32), y.astype(np.float32), (2.0 / size / scale).astype(np.float32)


def bspline(n_out: int, n_ctrl: int) -> np.ndarray:
    """(n_out, n_ctrl) uniform cubic B-spline basis: smooth fields from a few control values."""
    t = np.linspace(0, n_ctrl - 3, n_out, endpoint=False) + 0.5 * (n_ctrl - 3) / n_out
    i = np.floor(t).astype(int)
    f = t - i
    basis = np.stack(
        [(1 - f) ** 3, 3 * f**3 - 6 * f**2 + 4, -3 * f**3 + 3 * f**2 + 3 * f + 1, f**3]
    )
    matrix = np.zeros((n_out, n_ctrl))
    for k in range(4):
        matrix[np.arange(n_out), i + k] = basis[k] / 6
    return matrix.astype(np.float32)


def smooth_field(rng: np.random.Generator, m: int, size: int, cells: int) -> np.ndarray:
    """(m, S, S) smooth random fields with about `cells` bumps across, unit standard deviation."""
    basis = bspline(size, cells + 3)
    field = basis @ rng.standard_normal((m, cells + 3, cells + 3)).astype(np.float32) @ basis.T
    return field / np.maximum(field.std(axis=(1, 2), keepdims=True), 1e-6)


def gaussian_matrix(size: int, sigma: float) -> np.ndarray:
    """(size, size) Gaussian smoothing matrix (rows sum to 1), for smoothing by matmul."""
    offsets = np.arange(size)[:, None] - np.arange(size)[None, :]
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def blur(image: np.ndarray) -> np.ndarray:
    """Separable [1, 2, 1] / 4 blur of the last two axes (edge pixels repeated)."""
    p = np.pad(image, ((0, 0), (1, 1), (1, 1)), mode="edge")
    rows = 0.25 * p[:, :-2] + 0.5 * p[:, 1:-1] + 0.25 * p[:, 2:]
    return 0.25 * rows[:, :, :-2] + 0.5 * rows[:, :, 1:-1] + 0.25 * rows[:, :, 2:]


def lesion_centres(
    rng: np.random.Generator, anatomy: Anatomy, radius: np.ndarray, keep: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, radius) per lesion (m,) such that the circle of `keep` * radius around the centre
    lies in a lung field: 64 candidates per round, uniform in a random lung's ellipse; the first
    that fits wins. A lesion that finds no room in 20 rounds is halved (rare: small lungs)."""
    m = len(radius)
    cx, cy = np.zeros(m, np.float32), np.zeros(m, np.float32)
    placed = radius.copy()
    todo = np.arange(m)
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = np.concatenate([[0.0], np.cos(angles)]), np.concatenate([[0.0], np.sin(angles)])
    for attempt in range(40):
        if not len(todo):
            break
        k = 64
        side = rng.integers(0, 2, (len(todo), k))
        lung = anatomy.lungs[todo[:, None], side]  # (t, k, 4)
        rho, phi = (
            np.sqrt(rng.uniform(0, 1, (len(todo), k))),
            rng.uniform(0, 2 * np.pi, (len(todo), k)),
        )
        px = lung[..., 0] + lung[..., 2] * rho * np.cos(phi)
        py = lung[..., 1] + lung[..., 3] * rho * np.sin(phi)
        shrink = 1.0 if attempt < 20 else 0.5
        r = (radius[todo] * keep * shrink)[:, None, None]
        inside = anatomy.subset(todo).region(
            px[..., None] + r * ring[0], py[..., None] + r * ring[1]
        )
        fits = np.asarray(inside.all(axis=2))
        found = fits.any(axis=1)
        first = fits.argmax(axis=1)
        rows = np.arange(len(todo))[found]
        cx[todo[found]] = px[rows, first[found]]
        cy[todo[found]] = py[rows, first[found]]
        placed[todo[found]] = radius[todo[found]] * shrink
        todo = todo[~found]
    if len(todo):  # no room in the lungs at all: cannot happen with the ranges above
        raise RuntimeError("Could not place a lesion inside the lungs.")
    return cx, cy, placed


def lesions_draw(
    rng: np.random.Generator, anatomy: Anatomy, labels: np.ndarray, lung_px: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(nodule chord, opacity weight (0..1), mask) per pixel, from the labels. The chord through
    the nodule sphere is in canonical units (its diameter at the centre, 0 outside)."""
    m, size = labels.shape[0], anatomy.x.shape[-1]
    nodule = np.zeros((m, size, size), np.float32)
    opacity = np.zeros_like(nodule)
    for label, (low, high), keep in ((1, NODULE_RADIUS_PX, 1.08), (2, OPACITY_RADIUS_PX, 0.45)):
        idx = np.flatnonzero(labels == label)
        if not len(idx):
            continue
        scale = size / REFERENCE_SIZE  # same size in mm at any resolution
        radius = rng.uniform(low, high, len(idx)).astype(np.float32) * anatomy.px[idx] * scale
        sub = anatomy.subset(idx)
        cx, cy, radius = lesion_centres(rng, sub, radius, keep)
        dx, dy = sub.x - col(cx), sub.y - col(cy)
        if label == 1:
            nodule[idx] = 2 * col(radius) * chord((dx**2 + dy**2) / col(radius) ** 2)
            continue
        # An irregular ellipse: random elongation and angle, a wobbly border, a fine texture.
        angle, stretch = (
            col(rng.uniform(0, np.pi, len(idx))),
            col(rng.uniform(0.7, 1.3, len(idx))),
        )
        u = (np.cos(angle) * dx + np.sin(angle) * dy) * stretch
        v = (-np.sin(angle) * dx + np.cos(angle) * dy) / stretch
        border = (
            1.0
            - (u**2 + v**2) / col(radius) ** 2
            + 0.35 * np.tanh(smooth_field(rng, len(idx), size, 10))
        )
        texture = 0.5 + 0.5 * np.tanh(smooth_field(rng, len(idx), size, 24))
        weight = np.clip(border / 0.35, 0, 1) * (0.5 + 0.5 * texture)
        opacity[idx] = np.where((border > 0) & lung_px[idx], weight, 0.0)
    mask = ((nodule > 0) | (opacity > 0)).astype(np.uint8)
    return nodule, opacity, mask
