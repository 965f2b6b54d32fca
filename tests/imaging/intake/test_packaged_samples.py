"""Real images shipped inside installed packages: nibabel's Siemens MR slices and
scikit-image's fundus photograph and histology slide."""

from pathlib import Path

import numpy as np
import pytest

from imaging.intake import intake_inspect, pixels_decode


def packaged(module: str, relative: str) -> Path:
    package = pytest.importorskip(module)
    path = Path(package.__file__).parent / relative
    if not path.is_file():
        pytest.skip(f"{module} {package.__version__} does not ship {relative}")
    return path


@pytest.mark.parametrize("name", ["0.dcm", "1.dcm"])
def test_nibabels_siemens_slices_import_despite_stray_preamble_bytes(name, tmp_path):
    cleaned = packaged("nibabel", f"nicom/tests/data/{name}")
    data = cleaned.read_bytes()
    # These files carry two stray bytes ("\\\x01") at the start of their preamble: not an
    # executable's or another format's signature, so they are accepted as they are.
    assert data[:2] == b"\\\x01" and not data[2:128].strip(b"\x00")
    intake = intake_inspect(cleaned)
    assert (intake.modality, intake.photometric, intake.frames) == ("MR", "MONOCHROME2", 1)
    assert (intake.rows, intake.columns) == (256, 256)  # a Siemens mosaic of slices
    assert intake.pixel_spacing_mm is not None
    pixels = pixels_decode(cleaned, intake.kind)
    assert pixels.frames.shape == (1, 256, 256)
    assert np.isfinite(pixels.frames).all() and pixels.frames.max() > 0


def test_the_retina_fundus_jpeg_is_accepted_in_colour():
    path = packaged("skimage", "data/retina.jpg")
    intake = intake_inspect(path)
    assert (intake.kind, intake.photometric, intake.modality) == ("jpeg", "RGB", "OT")
    pixels = pixels_decode(path, intake.kind)
    assert pixels.rgb is not None and pixels.rgb.shape == (intake.rows, intake.columns, 3)
    assert pixels.frames.shape == (1, intake.rows, intake.columns)
    assert pixels.frames.min() >= 0 and pixels.frames.max() <= 255


def test_the_ihc_histology_png_is_accepted_in_colour():
    path = packaged("skimage", "data/ihc.png")
    intake = intake_inspect(path)
    assert (intake.kind, intake.photometric, intake.rows, intake.columns) == (
        "png",
        "RGB",
        512,
        512,
    )
    pixels = pixels_decode(path, intake.kind)
    assert pixels.rgb is not None and pixels.rgb.dtype == np.uint8
    assert np.isfinite(pixels.frames).all()
