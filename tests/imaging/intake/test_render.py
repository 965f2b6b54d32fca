"""Display helpers: window presets, windowing to 8 bits and PNG encoding."""

import io

import numpy as np
import pytest
from PIL import Image

from imaging.intake import WINDOW_PRESETS, default_ct_window, frame_to_uint8, png_encode


def test_the_window_presets_are_the_contracted_ones():
    assert WINDOW_PRESETS == {
        "lung": (-600, 1500),
        "mediastinum": (40, 400),
        "bone": (400, 1800),
        "brain": (40, 80),
        "abdomen": (40, 350),
    }


@pytest.mark.parametrize(
    ("body_part", "preset"),
    [
        ("CHEST", "mediastinum"),
        ("LUNG", "mediastinum"),
        ("HEAD", "brain"),
        ("Brain", "brain"),
        ("ABDOMEN", "abdomen"),
        ("PELVIS", "abdomen"),
        ("", "mediastinum"),
        ("KNEE", "mediastinum"),
    ],
)
def test_a_ct_opens_in_the_preset_of_its_body_part(body_part, preset):
    assert default_ct_window(body_part) == WINDOW_PRESETS[preset]


def test_a_window_clips_linearly_around_its_center():
    frame = np.array([[-1000.0, -160.0, 40.0, 240.0, 3000.0]], dtype=np.float32)
    out = frame_to_uint8(frame, window=(40.0, 400.0))
    assert out.dtype == np.uint8
    assert out.tolist() == [[0, 0, 128, 255, 255]]


def test_without_a_window_the_percentile_range_is_used():
    frame = np.arange(10_000, dtype=np.float32).reshape(100, 100)
    frame[0, 0] = -1e9  # an outlier does not flatten the picture
    out = frame_to_uint8(frame, window=None)
    assert out.min() == 0 and out.max() == 255
    assert 120 < out[50, 0] < 135  # the middle of the range is mid-gray


def test_a_flat_or_non_finite_frame_does_not_crash():
    assert frame_to_uint8(np.full((4, 4), 7.0), window=None).tolist() == [[0] * 4] * 4
    frame = np.array([[np.nan, 1.0], [np.inf, 2.0]])
    assert frame_to_uint8(frame, window=None).shape == (2, 2)


def test_frame_to_uint8_takes_one_frame():
    with pytest.raises(ValueError):
        frame_to_uint8(np.zeros((2, 4, 4)), window=None)


@pytest.mark.parametrize(
    ("shape", "mode"), [((6, 8), "L"), ((6, 8, 3), "RGB"), ((6, 8, 4), "RGBA")]
)
def test_png_encode_round_trips(shape, mode):
    image = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    data = png_encode(image)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    decoded = Image.open(io.BytesIO(data))
    assert decoded.mode == mode
    np.testing.assert_array_equal(np.asarray(decoded), image)


@pytest.mark.parametrize(
    "image", [np.zeros((4, 4), np.uint16), np.zeros((4, 4, 2), np.uint8), np.zeros(4, np.uint8)]
)
def test_png_encode_refuses_what_it_cannot_encode(image):
    with pytest.raises(ValueError):
        png_encode(image)
