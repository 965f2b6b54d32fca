"""Every file pydicom ships for its own tests goes through the intake: each is either accepted
(inspected and decoded into sane, finite pixels) or refused with a known code and a sentence a
clinician can read. Files classified by hand are pinned in EXPECTED."""

import re
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_files

from imaging.intake import (
    INTAKE_ERROR_CODES,
    WINDOW_PRESETS,
    IntakeError,
    intake_inspect,
    pixels_decode,
)
from tests.imaging.intake.builders import pydicom_file

DATA_ROOT = Path(pydicom.data.__file__).parent / "test_files"
# get_testdata_files() also lists the folders of the DICOMDIR tree; only files can be uploaded.
ALL_FILES = sorted(Path(f) for f in get_testdata_files() if Path(f).is_file())

ACCEPTED = "accepted"
# File (relative to pydicom's test_files) -> "accepted" or the IntakeError code it must raise,
# from intake_inspect or, for "undecodable_pixels", from pixels_decode.
EXPECTED: dict[str, str] = {
    # Broken on purpose in pydicom's suite.
    "no_meta.dcm": "dicom_no_meta",
    "ExplVR_BigEndNoMeta.dcm": "dicom_no_meta",
    "ExplVR_LitEndNoMeta.dcm": "dicom_no_meta",
    "rtstruct.dcm": "dicom_no_meta",  # a bare data set, no preamble or DICM
    "meta_missing_tsyntax.dcm": "dicom_no_meta",
    "badVR.dcm": "dicom_bad_vr",  # NumberOfFrames "1A"
    "MR_truncated.dcm": "dicom_truncated",
    "rtplan_truncated.dcm": "dicom_truncated",
    "nested_priv_SQ.dcm": "dicom_corrupt",  # 2 bytes of pixel data, no Rows/Columns
    # The J2K SIZ marker announces a 3.7-billion-pixel-wide image for a 256-column DICOM.
    "JPEG2000-embedded-sequence-delimiter.dcm": "dicom_pixel_mismatch",
    # 12-bit lossy JPEG: the header is fine, no installed decoder reads the codestream.
    "JPEG-lossy.dcm": "undecodable_pixels",
    # Objects without pixel data.
    "reportsi.dcm": "dicom_no_image",
    "reportsi_with_empty_number_tags.dcm": "dicom_no_image",
    "test-SR.dcm": "dicom_no_image",
    "rtplan.dcm": "dicom_no_image",
    "waveform_ecg.dcm": "dicom_no_image",
    "UN_sequence.dcm": "dicom_no_image",
    "empty_charset_LEI.dcm": "dicom_no_image",
    "no_meta_group_length.dcm": "dicom_no_image",
    "priv_SQ.dcm": "dicom_no_image",
    "dicomdirtests/DICOMDIR": "dicom_no_image",
    "dicomdirtests/DICOMDIR-bigEnd": "dicom_no_image",
    "dicomdirtests/DICOMDIR-empty.dcm": "dicom_no_image",
    "dicomdirtests/DICOMDIR-implicit": "dicom_no_image",
    "dicomdirtests/DICOMDIR-nooffset": "dicom_no_image",
    "dicomdirtests/DICOMDIR-nopatient": "dicom_no_image",
    "dicomdirtests/DICOMDIR-reordered": "dicom_no_image",
    "dicomdirtests/TINY_ALPHA/DICOMDIR": "dicom_no_image",
    # Not DICOM at all.
    "README.txt": "unknown_format",
    "dicomdirtests/README.txt": "unknown_format",
    "dicomdirtests/TINY_ALPHA/README": "unknown_format",
    "crayons.icc": "unknown_format",
    "rtplan.dump": "unknown_format",
    "rtstruct.dump": "unknown_format",
    "test1.json": "unknown_format",
    "test_PN.json": "unknown_format",
    "zipMR.gz": "unknown_format",
    # Valid images, by modality and colour model.
    "CT_small.dcm": ACCEPTED,
    "693_J2KI.dcm": ACCEPTED,
    "J2K_pixelrep_mismatch.dcm": ACCEPTED,
    "MR_small.dcm": ACCEPTED,
    "MR_small_padded.dcm": ACCEPTED,
    "examples_overlay.dcm": ACCEPTED,
    "examples_palette.dcm": ACCEPTED,
    "examples_rgb_color.dcm": ACCEPTED,
    "examples_ybr_color.dcm": ACCEPTED,
    "examples_jpeg2k.dcm": ACCEPTED,
    "image_dfl.dcm": ACCEPTED,
    "liver_1frame.dcm": ACCEPTED,
    "rtdose.dcm": ACCEPTED,
    "SC_ybr_full_422_uncompressed.dcm": ACCEPTED,
    "SC_rgb_jpeg.dcm": ACCEPTED,  # says explicit VR, is written implicit: read like pydicom
    "dicomdirtests/77654033/CR1/6154": ACCEPTED,  # MONOCHROME1
    "dicomdirtests/98892001/CT2N/6293": ACCEPTED,
}
# These nine CT slices carry a stray 0x01 byte in their preamble: not a signature, accepted.
EXPECTED.update(
    {
        f"dicomdirtests/{folder}/{name}": ACCEPTED
        for folder, names in {
            "77654033/CT2": ("17106", "17136", "17166", "17196"),
            "98892001/CT5N": ("2062", "2392", "2693", "3023", "3353"),
        }.items()
        for name in names
    }
)
# The TINY_ALPHA tree's images are CT headers without pixel data.
EXPECTED.update(
    {
        str(p.relative_to(DATA_ROOT)): "dicom_no_image"
        for p in ALL_FILES
        if "TINY_ALPHA/PT000000" in str(p)
    }
)


def relative(path: Path) -> str:
    return str(path.relative_to(DATA_ROOT))


def assert_readable_sentence(message: str, path: Path) -> None:
    assert message[0].isupper() and message.endswith("."), message
    assert "\n" not in message and "Traceback" not in message
    assert not re.search(r"\.\s+[A-Z]", message), f"more than one sentence: {message}"
    assert path.name not in message or path.name in ("DICOMDIR",), message
    assert len(message) < 260


def outcome(path: Path) -> str:
    """Run the whole intake on one file; on success check the decoded pixels are sane."""
    try:
        intake = intake_inspect(path)
    except IntakeError as error:
        assert error.code in INTAKE_ERROR_CODES
        assert str(error) == error.message
        assert_readable_sentence(error.message, path)
        return error.code
    try:
        pixels = pixels_decode(path, intake.kind)
    except IntakeError as error:
        assert error.code == "undecodable_pixels"
        assert_readable_sentence(error.message, path)
        return error.code
    assert intake.kind == "dicom" and intake.extension == ".dcm"
    assert pixels.frames.dtype == np.float32
    assert pixels.frames.shape == (intake.frames, intake.rows, intake.columns)
    assert np.isfinite(pixels.frames).all()
    assert pixels.modality == intake.modality
    if pixels.rgb is not None:
        assert pixels.rgb.shape == (intake.rows, intake.columns, 3)
        assert pixels.rgb.dtype == np.uint8
    if pixels.default_window is not None:
        assert pixels.default_window[1] > 0
    return ACCEPTED


@pytest.mark.parametrize("path", ALL_FILES, ids=relative)
def test_every_pydicom_test_file_is_accepted_or_refused_clearly(path):
    result = outcome(path)
    expected = EXPECTED.get(relative(path))
    if expected is not None:
        assert result == expected


def test_the_expectations_table_names_only_existing_files():
    names = {relative(p) for p in ALL_FILES}
    assert set(EXPECTED) <= names


def test_the_named_broken_files_are_refused_with_their_codes():
    for name, code in {
        "no_meta.dcm": "dicom_no_meta",
        "badVR.dcm": "dicom_bad_vr",
        "MR_truncated.dcm": "dicom_truncated",
    }.items():
        with pytest.raises(IntakeError) as refused:
            intake_inspect(pydicom_file(name))
        assert refused.value.code == code, name


def test_bad_vr_message_names_the_attribute_not_its_value():
    with pytest.raises(IntakeError) as refused:
        intake_inspect(pydicom_file("badVR.dcm"))
    assert "Number Of Frames" in refused.value.message
    assert "1A" not in refused.value.message


def test_ct_small_is_accepted_in_hounsfield_units():
    path = pydicom_file("CT_small.dcm")
    intake = intake_inspect(path)
    assert (intake.modality, intake.rows, intake.columns, intake.frames) == ("CT", 128, 128, 1)
    assert intake.pixel_spacing_mm == pytest.approx((0.661468, 0.661468))
    assert intake.photometric == "MONOCHROME2"
    assert intake.phi["patient_name"] == "CompressedSamples^CT1"
    assert intake.study_date is not None and intake.phi["study_date"] == "2004-01-19"
    pixels = pixels_decode(path, "dicom")
    frame = pixels.frames[0]
    # Air around the patient reads near -1000 HU (this old scanner: about -850), soft tissue
    # near 0, and nothing below the -1024 intercept.
    assert frame[:4, :4].mean() < -800
    assert -200 < float(np.median(frame)) < 200
    assert frame.min() >= -1024
    assert pixels.default_window == WINDOW_PRESETS["mediastinum"]  # no window in the file
    assert pixels.pixel_spacing_mm == intake.pixel_spacing_mm


MR_SMALL_SYNTAXES = [
    "MR_small_implicit.dcm",  # Implicit VR Little Endian
    "MR_small_bigendian.dcm",  # Explicit VR Big Endian
    "MR_small_expb.dcm",
    "MR_small_padded.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
]


@pytest.mark.parametrize("name", MR_SMALL_SYNTAXES)
def test_mr_small_decodes_to_the_same_image_in_every_transfer_syntax(name):
    reference = pixels_decode(pydicom_file("MR_small.dcm"), "dicom").frames
    pixels = pixels_decode(pydicom_file(name), "dicom")
    # Every shipped variant is lossless: exactly equal.
    np.testing.assert_array_equal(pixels.frames, reference)
    assert pixels.default_window == (600.0, 1600.0)


def test_the_multi_frame_ultrasound_is_decoded_frame_by_frame():
    path = pydicom_file("examples_ybr_color.dcm")
    intake = intake_inspect(path)
    assert (intake.modality, intake.frames, intake.photometric) == ("US", 30, "YBR_FULL_422")
    pixels = pixels_decode(path, "dicom")
    assert pixels.frames.shape == (30, 240, 320)
    assert pixels.rgb is not None and pixels.rgb.shape == (240, 320, 3)
    assert not np.array_equal(pixels.frames[0], pixels.frames[29])  # the frames differ
    assert pixels.default_window is None  # no window for colour images


def test_colour_dicom_matches_pydicoms_own_rgb_conversion():
    for name in ("SC_rgb_dcmtk_+eb+cy+np.dcm", "SC_ybr_full_422_uncompressed.dcm"):
        path = pydicom_file(name)
        reference = pydicom.dcmread(path).pixel_array  # pydicom converts YBR to RGB itself
        pixels = pixels_decode(path, "dicom")
        np.testing.assert_array_equal(pixels.rgb, reference)
        luminance = reference @ np.array([0.299, 0.587, 0.114])
        np.testing.assert_allclose(pixels.frames[0], luminance, atol=1e-3)


def test_palette_colour_goes_through_the_colour_lut():
    pixels = pixels_decode(pydicom_file("examples_palette.dcm"), "dicom")
    assert pixels.rgb is not None
    assert len(np.unique(pixels.rgb.reshape(-1, 3), axis=0)) > 10  # really coloured


def test_monochrome1_is_inverted_so_that_higher_is_brighter():
    path = pydicom_file("dicomdirtests/77654033/CR1/6154")
    raw = pydicom.dcmread(path).pixel_array.astype(np.float32)
    pixels = pixels_decode(path, "dicom")
    bits = int(pydicom.dcmread(path).BitsStored)
    np.testing.assert_array_equal(pixels.frames[0], (2**bits - 1) - raw)


def test_a_segmentation_with_one_bit_pixels_decodes_to_a_mask():
    pixels = pixels_decode(pydicom_file("liver_1frame.dcm"), "dicom")
    assert set(np.unique(pixels.frames).tolist()) == {0.0, 1.0}
