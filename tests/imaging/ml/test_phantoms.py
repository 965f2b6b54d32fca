"""The synthetic phantoms: seeded, labelled exactly, lesions in the lungs, modelled physics."""

import numpy as np
import pytest
from scipy import ndimage

from imaging.ml.phantoms import CLASSES, MODALITIES, phantom_batch
from imaging.ml.preprocess import model_inputs


@pytest.fixture(scope="module")
def batch():
    return phantom_batch(150, seed=7, keep_frames=True)


def test_same_seed_same_batch_other_seed_other_batch(batch):
    again = phantom_batch(150, seed=7, keep_frames=True)
    for field in ("images", "labels", "masks", "lungs", "frames"):
        assert np.array_equal(getattr(batch, field), getattr(again, field)), field
    assert again.modalities == batch.modalities
    other = phantom_batch(150, seed=8)
    assert not np.array_equal(other.images, batch.images)


def test_shapes_ranges_and_balance(batch):
    assert batch.images.shape == batch.masks.shape == batch.lungs.shape == (150, 128, 128)
    assert batch.images.dtype == np.float32 and batch.masks.dtype == np.uint8
    assert batch.images.min() >= 0.0 and batch.images.max() <= 1.0
    assert np.bincount(batch.labels).tolist() == [50, 50, 50]
    assert sorted(set(batch.modalities)) == sorted(MODALITIES)
    assert [batch.modalities.count(m) for m in MODALITIES] == [50, 50, 50]


def test_masks_match_labels_and_lesions_lie_in_the_lungs(batch):
    area = batch.masks.reshape(150, -1).sum(axis=1)
    assert (area[batch.labels == CLASSES.index("normal")] == 0).all()
    nodules = area[batch.labels == CLASSES.index("nodule")]
    opacities = area[batch.labels == CLASSES.index("opacity")]
    # Nodules: discs of radius 2-4.5 pixels (scaled by 0.9-1.08); opacities: much larger.
    assert nodules.min() >= 9 and nodules.max() <= np.pi * (4.5 / 0.9 + 0.5) ** 2
    assert np.median(opacities) > 5 * np.median(nodules)
    assert not (batch.masks.astype(bool) & ~batch.lungs.astype(bool)).any()
    assert batch.lungs.reshape(150, -1).sum(axis=1).min() > 1000


def test_the_model_input_is_model_inputs_of_the_physical_frames(batch):
    for modality in MODALITIES:
        chosen = [i for i, m in enumerate(batch.modalities) if m == modality]
        expected = model_inputs(batch.frames[chosen], modality=modality)
        assert np.allclose(batch.images[chosen], expected, atol=1e-6)


def test_ct_frames_are_in_hounsfield_units(batch):
    ct = [i for i, m in enumerate(batch.modalities) if m == "CT"]
    frames, lungs = batch.frames[ct], batch.lungs[ct].astype(bool)
    corners = frames[:, :4, :4]
    assert -1100 < corners.mean() < -900  # air
    assert -900 < np.median(frames[lungs]) < -780  # aerated lung
    nodule = [i for i in ct if batch.labels[i] == CLASSES.index("nodule")]
    inside = batch.frames[nodule][batch.masks[nodule].astype(bool)]
    assert -150 < np.median(inside) < 200  # soft-tissue density


def test_lesions_raise_density_where_the_mask_is(batch):
    # The lesion is brighter than the lung right around it: always on CT and MR slices; on
    # radiographs, where the lung's own thickness varies, nearly always.
    brighter: dict[str, list[bool]] = {"DX": [], "CT": [], "MR": []}
    for i in np.flatnonzero(batch.labels > 0):
        mask, lungs = batch.masks[i].astype(bool), batch.lungs[i].astype(bool)
        ring = ndimage.binary_dilation(mask, iterations=4) & lungs & ~mask
        brighter[batch.modalities[i]].append(
            batch.images[i][mask].mean() > batch.images[i][ring].mean()
        )
    assert all(brighter["CT"]) and all(brighter["MR"])
    assert np.mean(brighter["DX"]) >= 0.85


def test_other_sizes_keep_lesions_in_millimetres():
    small = phantom_batch(30, seed=1, size=64)
    large = phantom_batch(30, seed=1, size=128)
    ratio = small.masks.sum() / large.masks.sum()
    assert 0.15 < ratio < 0.35  # a quarter of the pixels


def test_refuses_unknown_modalities_and_tiny_images():
    with pytest.raises(ValueError, match="Unknown modalities"):
        phantom_batch(3, seed=0, modalities=("US",))
    with pytest.raises(ValueError, match="64 pixels"):
        phantom_batch(3, seed=0, size=32)
