"""model_input: one preprocessing for phantoms, training data and uploads."""

import numpy as np
import pytest

from imaging.ml.preprocess import CT_WINDOW, model_input, model_inputs, resize_bilinear


def test_ct_uses_the_fixed_lung_window_on_hounsfield_units():
    center, width = CT_WINDOW
    frame = np.array([[center - width / 2, center], [center + width / 2, 3000.0]], np.float32)
    out = model_input(frame, modality="CT", size=2)
    assert out.tolist() == [[0.0, 0.5], [1.0, 1.0]]


def test_other_modalities_stretch_between_their_own_percentiles():
    rng = np.random.default_rng(0)
    frame = rng.normal(1000, 50, (300, 200)).astype(np.float32)
    for modality in ("DX", "MR", "OT"):
        out = model_input(frame, modality=modality, size=128)
        assert out.shape == (128, 128) and out.dtype == np.float32
        assert out.min() == 0.0 and out.max() == 1.0
        assert np.isclose(np.median(out), 0.5, atol=0.05)
    # Scaling the raw values (another detector gain) changes nothing.
    gain = model_input(frame * 3, modality="DX")
    assert np.allclose(model_input(frame, modality="DX"), gain, atol=1e-5)


def test_flat_and_non_finite_frames_give_valid_inputs():
    assert not model_input(np.full((50, 50), 7.0), modality="MR").any()
    frame = np.arange(100, dtype=np.float32).reshape(10, 10)
    frame[0, 0] = np.nan
    frame[1, 1] = np.inf
    out = model_input(frame, modality="DX", size=10)
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_shrinking_averages_instead_of_aliasing():
    checkerboard = (np.indices((512, 512)).sum(axis=0) % 2).astype(np.float32)
    small = resize_bilinear(checkerboard, 128)
    assert np.allclose(small[2:-2, 2:-2], 0.5, atol=1e-6)


def test_enlarging_is_bilinear_with_half_pixel_centres():
    image = np.array([[0.0, 1.0]], np.float32)
    assert np.allclose(resize_bilinear(image, (1, 4)), [[0.0, 0.25, 0.75, 1.0]])


def test_batches_equal_single_frames_and_shapes_are_checked():
    rng = np.random.default_rng(1)
    frames = rng.normal(0, 1, (3, 64, 80)).astype(np.float32)
    batch = model_inputs(frames, modality="DX", size=32)
    for i in range(3):
        assert np.allclose(batch[i], model_input(frames[i], modality="DX", size=32))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        model_input(frames, modality="DX")
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        model_inputs(frames[0], modality="DX")
