"""Seeded, physics-based synthetic chest images with exact lesion labels and masks.

No labelled medical image set ships offline (see DATA.md), so the demo model learns from these.
Every image is drawn from randomised anatomy in canonical coordinates (x from the patient's
right to left as displayed, y from head to feet or from front to back; the body is about 2 units
wide, 1 unit ~ MM_PER_UNIT mm), then rotated (+-10 deg), scaled (0.9-1.08) and shifted (+-5 %):

* "DX" - a frontal (PA) projection radiograph. The 3-D phantom is a set of ellipsoids and tubes
  of linear attenuation coefficient mu (1/mm, at ~60 keV): soft tissue 0.019-0.021, lung
  0.003-0.006 (air and tissue, ~0.25 g/ml), heart 0.021, vertebrae 0.045, ribs 0.032-0.041.
  Each detector pixel's line integral L = sum(mu_i * chord_i) is analytic (the chord through an
  ellipsoid of half-depth D is 2 D sqrt(1 - q), q the 2-D ellipse equation; body and lungs use
  the flatter (1 - q)^(1/4), as they fill the thorax front to back). The heart displaces lung
  from the chord, posterior ribs are tubes along parabolas, the spine a cylinder with disc
  spaces. Beer-Lambert gives the transmitted intensity I = I0 exp(-L) plus a uniform scatter
  fraction; quantum noise is Poisson (normal approximation, 3,000-30,000 photons per
  unobstructed pixel); a 3-tap blur models the detector. The log signal -ln(I / I0) is then
  processed "for presentation" as consoles do: unsharp masking (wide Gaussian, gain 0.8-1.5)
  and a sigmoid VOI LUT (DICOM's SIGMOID function) centred on the lung fields, so that bone and
  tissue are bright and the lungs are in the steep part of the curve (MONOCHROME2).
* "CT" - an axial slice in Hounsfield units: air -1000, subcutaneous fat -100, soft tissue and
  blood +40, lung -850 (with smooth vascular texture), vertebral body (cancellous +200..+300 in a
  cortical ring +700), ribs +500..+800; point-spread blur, then Gaussian noise of 10-40 HU.
* "MR" - the same axial anatomy with T1/proton-density-like relative intensities (fat bright,
  muscle intermediate, lung and cortical bone nearly void, fatty marrow bright), a smooth
  multiplicative coil bias field (up to about +-30 %) and Rician noise |S + n1 + i n2|.

Labels (CLASSES):
* "normal" - no lesion; the mask is all zeros.
* "nodule" - one small round dense lesion: a sphere of soft-tissue to partly calcified density
  (DX: mu 0.024-0.036; CT: -50..+120 HU; MR: intermediate signal), 2-4.5 pixels in radius at
  128 pixels (diameter about 12-28 mm at the phantom's ~3 mm per pixel), entirely inside one
  lung field. (Smaller nodules, 3-10 mm, are real but would be 1-3 pixels here: too few for a
  128-pixel model to learn in a demo's training budget.)
* "opacity" - a ground-glass-like region: a larger (radius 7-15 pixels), irregular, textured,
  low-contrast increase of lung density (DX: 30-60 % of the lung-to-tissue difference over 50-90
  mm; CT: +150..+350 HU; MR: +0.08..+0.18), clipped to one lung field.
Lesion sizes are fixed in millimetres: at another `size` their radii in pixels scale with it.
The mask is exact: the pixels whose centre lies inside the lesion's support (the nodule's disc,
the opacity's region), so every mask pixel lies in a lung field (`PhantomBatch.lungs`). Lesion
size, position, density, noise and all anatomy are drawn independently of the class, so that only
the lesion tells the classes apart. Every image goes through preprocess.model_inputs, as uploads
do. The same seed gives the same batch, bit for bit.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from imaging.ml.phantoms.geometry import MM_PER_UNIT, NODULE_RADIUS_PX, OPACITY_RADIUS_PX
from imaging.ml.phantoms.radiograph import radiographs
from imaging.ml.phantoms.tomography import ct_slices, mr_slices
from imaging.ml.preprocess import INPUT_SIZE, model_inputs

CLASSES = ("normal", "nodule", "opacity")
MODALITIES = ("DX", "CT", "MR")
_CHUNK = 192  # images generated together: big enough to vectorise, small enough for the cache

__all__ = [
    "CLASSES",
    "INPUT_SIZE",
    "MM_PER_UNIT",
    "MODALITIES",
    "NODULE_RADIUS_PX",
    "OPACITY_RADIUS_PX",
    "PhantomBatch",
    "phantom_batch",
]


@dataclass(frozen=True)
class PhantomBatch:
    """images (n, S, S) float32 in [0, 1] (model input); labels (n,) int64 indices into CLASSES;
    masks (n, S, S) uint8 lesion masks; modalities: DICOM code per image; lungs (n, S, S) uint8
    lung fields; frames (n, S, S) float32 in physical units when asked for, else None."""

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    modalities: list[str]
    lungs: np.ndarray
    frames: np.ndarray | None = None


_GENERATORS = {"DX": radiographs, "CT": ct_slices, "MR": mr_slices}


def phantom_batch(
    n: int,
    *,
    seed: int,
    size: int = INPUT_SIZE,
    modalities: tuple[str, ...] | list[str] = MODALITIES,
    keep_frames: bool = False,
) -> PhantomBatch:
    """`n` phantoms, classes balanced (n // 3 each, the remainder from the first classes) and
    modalities balanced likewise, in a seeded random order. Deterministic for (n, seed, size,
    modalities). `keep_frames` also returns the physical-unit frames (HU for CT)."""
    unknown = sorted(set(modalities) - set(_GENERATORS))
    if unknown or not modalities:
        raise ValueError(f"Unknown modalities {unknown}; known: {', '.join(MODALITIES)}.")
    if n < 1 or size < 64:
        raise ValueError("Need n >= 1 images of at least 64 pixels (smaller nodules vanish).")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(CLASSES)).astype(np.int64)
    kinds = np.array(modalities)[rng.permutation(np.arange(n) % len(modalities))]
    images = np.empty((n, size, size), np.float32)
    frames = np.empty((n, size, size), np.float32) if keep_frames else None
    masks = np.empty((n, size, size), np.uint8)
    lungs = np.empty((n, size, size), np.uint8)
    seeds = np.random.SeedSequence(seed).spawn((n + _CHUNK - 1) // _CHUNK)

    def generate(chunk: int) -> None:
        # Each chunk has its own generator: the result does not depend on thread scheduling.
        rng = np.random.default_rng(seeds[chunk])
        start = chunk * _CHUNK
        for modality in modalities:
            idx = start + np.flatnonzero(kinds[start : start + _CHUNK] == modality)
            if not len(idx):
                continue
            raw, masks[idx], lungs[idx] = _GENERATORS[modality](rng, labels[idx], size)
            images[idx] = model_inputs(raw, modality=modality, size=size)
            if frames is not None:
                frames[idx] = raw

    # numpy releases the GIL in its array loops, so threads use every core.
    with ThreadPoolExecutor(max_workers=min(len(seeds), os.cpu_count() or 1)) as pool:
        list(pool.map(generate, range(len(seeds))))
    return PhantomBatch(images, labels, masks, [str(k) for k in kinds], lungs, frames)
