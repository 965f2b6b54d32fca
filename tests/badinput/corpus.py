"""The bad-input corpus of uploads: each item is bytes, the name it is uploaded under, and the
intake codes that may refuse it. Built from tests/imaging/intake/builders.py (real pydicom
files, hand-made bombs) so that the same hostile files go through the web form, the API and the
worker. Names always claim an innocent format: the content, never the name, must decide."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from tests.imaging.conftest import png_bytes
from tests.imaging.intake.builders import (
    PE_PREAMBLE,
    ct_slice,
    dicom_bytes,
    patch_element,
    png_bomb,
    pydicom_file,
    with_preamble,
    zip_bytes,
)

MB = 1024 * 1024


@dataclass(frozen=True)
class BadUpload:
    """One hostile upload and the intake codes allowed to refuse it."""

    name: str
    data: Callable[[], bytes]
    filename: str
    codes: frozenset[str]


def _html() -> bytes:
    return b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def _svg() -> bytes:
    return (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
        b'<rect width="10" height="10"/></svg>'
    )


def _wrong_magic() -> bytes:
    """A real PNG whose signature was overwritten by a GIF one."""
    return b"GIF89a\x00\x00" + png_bytes()[8:]


def _pe_dicom_polyglot() -> bytes:
    return with_preamble(pydicom_file("CT_small.dcm"), PE_PREAMBLE)


def _pe_executable() -> bytes:
    return PE_PREAMBLE + b"\x00" * 4096


def _truncated_dicom() -> bytes:
    data = dicom_bytes(ct_slice(rows=64, columns=64))
    return data[: len(data) - 3000]


def _dicom_cut_in_header() -> bytes:
    return dicom_bytes(ct_slice())[:400]


def _malformed_dicom() -> bytes:
    """Rows written with VR SH (text) where the standard allows only US."""
    data = dicom_bytes(ct_slice())
    rows = struct.pack("<HH", 0x0028, 0x0010)
    return data.replace(rows + b"US\x02\x00\x20\x00", rows + b"SH\x02\x0032")


def _pixel_mismatch_dicom() -> bytes:
    """Rows raised far above what the pixel data holds."""
    data = dicom_bytes(ct_slice())
    return patch_element(data, 0x00280010, b"US", struct.pack("<H", 4000))


def _nested_sequences(depth: int = 5000) -> bytes:
    """A valid CT slice carrying a Content Sequence nested `depth` levels deep, written byte by
    byte (undefined lengths, explicit VR little endian): pydicom's own writer cannot nest this
    deep, and a reader that recurses once per level runs out of stack."""
    sequence = struct.pack("<HH", 0x0040, 0xA730) + b"SQ\x00\x00" + b"\xff\xff\xff\xff"
    item = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    item_end = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    sequence_end = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    leaf = struct.pack("<HH", 0x0008, 0x0100) + b"SH" + struct.pack("<H", 2) + b"X "
    nested = (sequence + item) * depth + leaf + (item_end + sequence_end) * depth
    data = dicom_bytes(ct_slice())
    at = data.index(struct.pack("<HH", 0x7FE0, 0x0010))  # (0040,A730) sorts before Pixel Data
    return data[:at] + nested + data[at:]


def _zip_traversal() -> bytes:
    slice_ = dicom_bytes(ct_slice())
    return zip_bytes([("../../../etc/cron.d/evil.dcm", slice_), ("ok.dcm", slice_)])


def _zip_absolute() -> bytes:
    return zip_bytes([("/etc/passwd.dcm", dicom_bytes(ct_slice()))])


def _nul_bytes() -> bytes:
    return b"\x00" * 4096


def _one_megabyte_text() -> bytes:
    return b"A" * MB


def _png_then_nuls() -> bytes:
    return png_bytes() + b"\x00" * 1024


CORPUS: list[BadUpload] = [
    # The web form's own field check refuses an empty file before the intake does ("invalid").
    BadUpload("empty", lambda: b"", "scan.png", frozenset({"empty_file", "invalid"})),
    BadUpload("wrong_magic", _wrong_magic, "scan.png", frozenset({"unknown_format"})),
    BadUpload("html_as_png", _html, "scan.png", frozenset({"unknown_format"})),
    BadUpload("svg_as_png", _svg, "scan.png", frozenset({"unknown_format"})),
    BadUpload(
        "png_bomb", png_bomb, "scan.png", frozenset({"too_many_pixels", "decompression_bomb"})
    ),
    BadUpload("pe_dicom_polyglot", _pe_dicom_polyglot, "scan.dcm", frozenset({"dicom_polyglot"})),
    BadUpload("pe_executable", _pe_executable, "scan.png", frozenset({"unknown_format"})),
    BadUpload("truncated_dicom", _truncated_dicom, "scan.dcm", frozenset({"dicom_truncated"})),
    BadUpload(
        "dicom_cut_in_header",
        _dicom_cut_in_header,
        "scan.dcm",
        frozenset({"dicom_truncated", "dicom_corrupt"}),
    ),
    BadUpload("malformed_dicom", _malformed_dicom, "scan.dcm", frozenset({"dicom_bad_vr"})),
    BadUpload(
        "pixel_mismatch_dicom",
        _pixel_mismatch_dicom,
        "scan.dcm",
        frozenset({"dicom_pixel_mismatch", "dicom_truncated"}),
    ),
    BadUpload("zip_traversal", _zip_traversal, "series.zip", frozenset({"zip_path"})),
    BadUpload("zip_absolute_path", _zip_absolute, "series.zip", frozenset({"zip_path"})),
    BadUpload("nul_bytes", _nul_bytes, "scan.png", frozenset({"unknown_format"})),
    BadUpload("one_megabyte_text", _one_megabyte_text, "scan.png", frozenset({"unknown_format"})),
    BadUpload("png_with_trailing_data", _png_then_nuls, "scan.png", frozenset({"corrupt_image"})),
]
