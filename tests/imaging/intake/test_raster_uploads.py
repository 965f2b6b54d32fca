"""PNG and JPEG uploads: recognised by content, bombs refused from their headers, damaged files
refused clearly, 16-bit and colour images decoded."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from imaging.intake import IntakeError, IntakeLimits, intake_inspect, pixels_decode
from tests.imaging.intake.builders import (
    jpeg_bytes,
    jpeg_with_size,
    png_bomb,
    png_bytes,
    png_chunk,
    zip_bytes,
)


@pytest.fixture
def upload(tmp_path):
    """Write bytes under a name of our choosing: the name must never matter."""

    def write(data: bytes, name: str = "upload.png"):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


def refused(path, code, limits=None):
    with pytest.raises(IntakeError) as error:
        intake_inspect(path, **({"limits": limits} if limits else {}))
    assert error.value.code == code, error.value.message
    return error.value


def gradient(height=40, width=60, dtype=np.uint8, top=255):
    ramp = np.linspace(0, top, width, dtype=np.float64)
    return np.tile(ramp, (height, 1)).astype(dtype)


def test_a_grayscale_png_is_accepted_and_decoded(upload):
    image = gradient()
    path = upload(png_bytes(image), "scan.bin")  # any name, even a wrong one
    intake = intake_inspect(path)
    assert (intake.kind, intake.extension, intake.modality) == ("png", ".png", "OT")
    assert (intake.rows, intake.columns, intake.frames) == (40, 60, 1)
    assert (intake.photometric, intake.bits_stored, intake.phi) == ("MONOCHROME2", 8, {})
    pixels = pixels_decode(path, "png")
    np.testing.assert_array_equal(pixels.frames[0], image.astype(np.float32))
    assert pixels.rgb is None and pixels.default_window is None


def test_a_16_bit_png_keeps_its_full_range(upload):
    image = gradient(dtype=np.uint16, top=65535)
    path = upload(png_bytes(image))
    intake = intake_inspect(path)
    assert intake.bits_stored == 16 and intake.photometric == "MONOCHROME2"
    pixels = pixels_decode(path, "png")
    np.testing.assert_array_equal(pixels.frames[0], image.astype(np.float32))
    assert pixels.frames.max() == 65535


def test_an_rgb_jpeg_keeps_its_colours_for_display_and_decodes_to_luminance(upload):
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[..., 0] = 200  # red
    rgb[:, 32:, 2] = 200  # right half magenta
    path = upload(jpeg_bytes(rgb), "photo.png")
    intake = intake_inspect(path)
    assert (intake.kind, intake.extension, intake.photometric) == ("jpeg", ".jpg", "RGB")
    pixels = pixels_decode(path, "jpeg")
    assert pixels.rgb is not None and pixels.rgb.shape == (48, 64, 3)
    assert np.abs(pixels.rgb.astype(int) - rgb).mean() < 4  # lossy, but close
    expected = pixels.rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(pixels.frames[0], expected, rtol=1e-5)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "CMYK"])
def test_other_colour_modes_are_handled(upload, mode):
    base = Image.fromarray(np.dstack([gradient()] * 3))
    image = base.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG" if mode == "CMYK" else "PNG")
    path = upload(buffer.getvalue())
    intake = intake_inspect(path)
    pixels = pixels_decode(path, intake.kind)
    assert pixels.frames.shape == (1, 40, 60)
    assert np.isfinite(pixels.frames).all()
    if intake.photometric == "RGB":
        assert pixels.rgb is not None and pixels.rgb.shape == (40, 60, 3)
    else:  # LA, and a palette that holds only grays
        assert pixels.rgb is None


def test_a_png_decompression_bomb_is_refused_from_its_header(upload):
    data = png_bomb(100_000, 100_000)
    assert len(data) < 2_000  # a tiny file announcing 10 billion pixels
    error = refused(upload(data), "decompression_bomb")
    assert "pixels" in error.message


def test_a_bomb_below_pillows_ceiling_is_refused_by_our_own_limit(upload):
    path = upload(png_bytes(gradient(100, 100)))
    refused(path, "decompression_bomb", IntakeLimits(max_frame_pixels=5_000))
    assert intake_inspect(path, limits=IntakeLimits(max_frame_pixels=10_000)).rows == 100


def test_pillows_decompression_bomb_warning_is_treated_as_an_error(upload):
    # 100 million pixels: above Pillow's MAX_IMAGE_PIXELS (89.5 M, where it only warns) but
    # below twice that (where it raises); our own limit is raised out of the way.
    data = png_bomb(10_000, 10_000)
    assert Image.MAX_IMAGE_PIXELS < 10_000 * 10_000 < 2 * Image.MAX_IMAGE_PIXELS
    refused(upload(data), "decompression_bomb", IntakeLimits(max_frame_pixels=200_000_000))


def test_a_png_with_data_appended_after_its_end_is_refused(upload):
    data = png_bytes(gradient()) + zip_bytes([("payload.sh", b"#!/bin/sh\n")])
    error = refused(upload(data), "corrupt_image")
    assert "extra data" in error.message


def test_a_jpeg_announcing_a_huge_frame_is_refused_before_decoding(upload):
    data = jpeg_with_size(jpeg_bytes(gradient()), 65_000, 65_000)
    refused(upload(data, "x.jpg"), "decompression_bomb")


def test_a_truncated_png_is_refused(upload):
    data = png_bytes(gradient(200, 200))
    refused(upload(data[: len(data) // 2]), "corrupt_image")
    refused(upload(data[:-12]), "corrupt_image")  # only IEND missing


def test_a_png_with_a_bad_chunk_crc_is_refused(upload):
    data = bytearray(png_bytes(gradient()))
    at = data.index(b"IDAT") + 8
    data[at] ^= 0xFF  # the IDAT payload no longer matches its CRC
    refused(upload(bytes(data)), "corrupt_image")


def test_a_truncated_jpeg_is_refused(upload):
    data = jpeg_bytes(np.random.default_rng(0).integers(0, 255, (256, 256), dtype=np.uint8))
    refused(upload(data[: len(data) // 2], "x.jpg"), "corrupt_image")


@pytest.mark.parametrize(
    ("data", "shown_as"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "PDF"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200, "program"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "program"),
        (b"#!/bin/sh\nrm -rf /\n", "program"),
        (b"<html><script>alert(1)</script></html>", "not a recognised image"),
    ],
)
def test_a_file_named_png_that_is_something_else_is_refused(upload, data, shown_as):
    error = refused(upload(data, "xray.png"), "unknown_format")
    assert shown_as in error.message


def test_a_file_named_png_that_is_a_zip_is_judged_as_a_zip(upload):
    path = upload(zip_bytes([("notes.txt", b"hello")]), "xray.png")
    error = refused(path, "zip_not_dicom")
    assert "File 1" in error.message


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_formats_other_than_png_and_jpeg_are_refused(upload, fmt):
    buffer = io.BytesIO()
    Image.fromarray(gradient()).save(buffer, format=fmt)
    error = refused(upload(buffer.getvalue(), "scan.png"), "unknown_format")
    assert "PNG, JPEG, DICOM" in error.message


def test_an_animated_png_is_refused(upload):
    frames = [Image.fromarray(gradient()), Image.fromarray(255 - gradient())]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="PNG", save_all=True, append_images=frames[1:])
    refused(upload(buffer.getvalue()), "unsupported_image")


def test_a_png_whose_ihdr_crc_is_valid_but_size_is_zero_is_refused(upload):
    import struct

    ihdr = struct.pack(">IIBBBBB", 0, 10, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")
    refused(upload(data), "corrupt_image")


def test_exif_orientation_is_applied_and_reported(upload):
    image = Image.fromarray(gradient(40, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated a quarter turn
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    path = upload(buffer.getvalue(), "x.jpg")
    intake = intake_inspect(path)
    assert (intake.rows, intake.columns) == (60, 40)
    assert pixels_decode(path, "jpeg").frames.shape == (1, 60, 40)


def test_too_large_is_refused_from_the_file_size_alone(upload):
    path = upload(b"\x00" * 2048)
    refused(path, "too_large", IntakeLimits(max_bytes=1024))


def test_an_empty_upload_is_refused(upload):
    refused(upload(b""), "empty_file")


def test_pixels_decode_refuses_a_file_whose_content_is_not_the_kind_given(upload):
    path = upload(png_bytes(gradient()))
    with pytest.raises(IntakeError) as error:
        pixels_decode(path, "jpeg")
    assert error.value.code == "undecodable_pixels"


def test_pixels_decode_applies_the_limits_again(upload):
    path = upload(png_bytes(gradient(100, 100)))
    intake = intake_inspect(path)
    with pytest.raises(IntakeError) as error:
        pixels_decode(path, intake.kind, limits=IntakeLimits(max_frame_pixels=100))
    assert error.value.code == "decompression_bomb"


def test_a_valid_png_inside_a_zip_is_not_a_dicom_series(upload):
    path = upload(zip_bytes([("a.png", png_bytes(gradient()))]), "series.zip")
    refused(path, "zip_not_dicom")
    assert zipfile.is_zipfile(path)
