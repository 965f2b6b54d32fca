"""The pixel data element of a DICOM file, checked for structure without decoding a pixel.

Native pixel data: its declared length must fit in the file and match Rows x Columns x Frames
x Samples x Bits Allocated (a one-byte pad and modest trailing padding allowed). Encapsulated
pixel data: the fragment items are walked with seeks (each must end inside the file, the
sequence must end), frames must not outnumber fragments, the Basic / Extended Offset Table must
have one entry per frame, and the first frame's own JPEG SOF / JPEG 2000 SIZ / RLE header must
describe the image the DICOM header announces: a codestream larger than Rows x Columns would
make the decoder allocate for it (a decompression bomb) before pydicom could object.
"""

from __future__ import annotations

import io
import itertools
import math
import struct
from dataclasses import dataclass
from typing import BinaryIO

from pydicom.dataset import Dataset
from pydicom.uid import (
    UID,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
    RLELossless,
)

from imaging.intake import dicom_values as dv
from imaging.intake.errors import IntakeError

PIXEL_DATA = 0x7FE00010
FLOAT_PIXEL_DATA = (0x7FE00008, 0x7FE00009)
EXTENDED_OFFSET_TABLE = 0x7FE00001
_ITEM, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_CODESTREAM_HEAD = 64 * 1024
# Fragments of 8 bytes each could make the walk long; no real file comes near this.
_MAX_FRAGMENTS = 200_000
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7}


@dataclass(frozen=True)
class PixelElement:
    """The pixel data element's structure, as walked."""

    encapsulated: bool
    length: int  # value length as declared (native) or walked (encapsulated)
    fragments: int
    offsets: tuple[int, ...]  # Basic Offset Table
    fragment_bytes: int  # total of the fragment items, headers included
    head: bytes  # the start of the first fragment (encapsulated) for its codestream header


def mismatch() -> IntakeError:
    return IntakeError(
        "dicom_pixel_mismatch",
        "This DICOM file's pixel data does not match the image size and format its header "
        "describes, so it was refused.",
    )


def truncated() -> IntakeError:
    return IntakeError(
        "dicom_truncated",
        "This DICOM file is incomplete (it ends part-way through its data); please upload it "
        "again.",
    )


def _walk_pixel_element(
    fp: BinaryIO, end: int, *, implicit: bool, little: bool
) -> PixelElement | None:
    """Read the pixel data element at fp's position with seeks, never loading the pixels."""
    order = "<" if little else ">"
    header = fp.read(8)
    if len(header) < 8:
        return None
    group, element = struct.unpack(order + "HH", header[:4])
    tag = group << 16 | element
    if tag in FLOAT_PIXEL_DATA:
        raise IntakeError(
            "dicom_unsupported_image",
            "This DICOM file stores floating-point pixel data (such as a parametric map), "
            "which cannot be displayed here.",
        )
    if tag != PIXEL_DATA:
        return None
    # Like pydicom, read a file whose header says explicit VR but whose elements are implicit
    # (no VR letters after the tag) as implicit: pydicom already did so for the elements before.
    if implicit or not header[4:6].isalpha():
        length = struct.unpack(order + "L", header[4:8])[0]
    else:
        if header[4:6] not in (b"OB", b"OW", b"UN"):
            raise dv.bad_value(PIXEL_DATA)
        extra = fp.read(4)
        if len(extra) < 4:
            raise truncated()
        length = struct.unpack(order + "L", extra)[0]
    start = fp.tell()
    if length != _UNDEFINED:
        if start + length > end:
            raise truncated()
        return PixelElement(False, length, 0, (), 0, b"")
    return _walk_fragments(fp, end, order)


def _walk_fragments(fp: BinaryIO, end: int, order: str) -> PixelElement:
    offsets: tuple[int, ...] = ()
    fragments = fragment_bytes = 0
    head = b""
    first = True
    start = fp.tell()
    while True:
        item = fp.read(8)
        if len(item) < 8:
            raise truncated()  # the encapsulated pixel data never ended
        group, element, length = struct.unpack(order + "HHL", item)
        tag = group << 16 | element
        if tag == _SEQUENCE_END:
            break
        if tag != _ITEM or length == _UNDEFINED:
            raise mismatch()
        if fp.tell() + length > end:
            raise truncated()
        if first:
            if length % 4 or length > 4 * _MAX_FRAGMENTS:
                raise mismatch()
            offsets = struct.unpack(order + "L" * (length // 4), fp.read(length))
            first = False
            continue
        if fragments == 0:
            head = fp.read(min(length, _CODESTREAM_HEAD))
            fp.seek(length - len(head), io.SEEK_CUR)
        else:
            fp.seek(length, io.SEEK_CUR)
        fragments += 1
        fragment_bytes += 8 + length
        if fragments > _MAX_FRAGMENTS:
            raise mismatch()
    return PixelElement(True, fp.tell() - start, fragments, offsets, fragment_bytes, head)


def pixel_element_read(ds: Dataset, fp: BinaryIO, size: int, deflated: bool) -> PixelElement | None:
    """The pixel data element (None when there is none) at fp's position after pydicom read the
    header with stop_before_pixels: walked in the file, or, for deflated files (whose data set
    pydicom inflated in memory), rebuilt from the element pydicom read."""
    if not deflated:
        implicit, little = _encoding(ds)
        return _walk_pixel_element(fp, size, implicit=implicit, little=little)
    for tag in FLOAT_PIXEL_DATA:
        if tag in ds:
            return _walk_pixel_element(
                io.BytesIO(struct.pack("<HHL", tag >> 16, tag & 0xFFFF, 0)),
                8,
                implicit=True,
                little=True,
            )
    if PIXEL_DATA not in ds:
        return None
    raw = ds.get_item(PIXEL_DATA)
    value = bytes(raw.value or b"")
    declared = getattr(raw, "length", len(value))
    if declared == _UNDEFINED:
        value += struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    else:
        declared = len(value)
    element = struct.pack("<HHL", 0x7FE0, 0x0010, declared) + value
    return _walk_pixel_element(io.BytesIO(element), len(element), implicit=True, little=True)


def _encoding(ds: Dataset) -> tuple[bool, bool]:
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    implicit, little = ds.original_encoding
    if implicit is None or little is None:
        return syntax.is_implicit_VR, syntax.is_little_endian
    return bool(implicit), bool(little)


def _expected_native_bytes(
    rows: int, columns: int, frames: int, samples: int, bits: int, pi: str
) -> int:
    if pi == "YBR_FULL_422":  # two samples per pixel on average once chroma is subsampled
        return rows * columns * frames * 2 * bits // 8
    return math.ceil(rows * columns * frames * samples * bits / 8)


def _codestream_size(syntax: UID, head: bytes) -> tuple[int, int, int] | None:
    """(rows, columns, components) written in the first frame's own header, when readable."""
    if syntax in JPEGTransferSyntaxes or syntax in JPEGLSTransferSyntaxes:
        if not head.startswith(b"\xff\xd8"):
            raise mismatch()
        i = 2
        while i + 4 <= len(head):
            if head[i] != 0xFF:
                return None
            marker = head[i + 1]
            if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD8:
                i += 1 if marker == 0xFF else 2
                continue
            if marker in _JPEG_SOF:
                if i + 10 > len(head):
                    return None
                rows, columns = struct.unpack(">HH", head[i + 5 : i + 9])
                return rows, columns, head[i + 9]
            i += 2 + struct.unpack(">H", head[i + 2 : i + 4])[0]
        return None
    if syntax in JPEG2000TransferSyntaxes:
        if head.startswith(b"\x00\x00\x00\x0cjP  "):
            return None  # a JP2 file wrapper rather than a bare codestream: not checked
        if not head.startswith(b"\xff\x4f\xff\x51") or len(head) < 42:
            raise mismatch()
        x, y, x0, y0 = struct.unpack(">LLLL", head[8:24])
        return y - y0, x - x0, struct.unpack(">H", head[40:42])[0]
    return None


def pixel_element_check(
    ds: Dataset,
    element: PixelElement,
    syntax: UID,
    rows: int,
    columns: int,
    frames: int,
    samples: int,
    bits: int,
    pi: str,
) -> None:
    """Refuse pixel data whose structure does not fit the image the header describes."""
    if not element.encapsulated:
        if not (syntax.is_little_endian is not None and not syntax.is_compressed):
            raise mismatch()
        expected = _expected_native_bytes(rows, columns, frames, samples, bits, pi)
        # Odd lengths are padded by one byte; a little trailing padding is tolerated, a value
        # far longer than the image it describes is not.
        if element.length < expected or element.length > 2 * expected + 1:
            raise mismatch()
        return
    if not syntax.is_compressed or element.fragments < frames:
        raise mismatch()
    offsets = element.offsets
    if offsets and (
        len(offsets) != frames
        or offsets[0] != 0
        or any(b <= a for a, b in itertools.pairwise(offsets))
        or offsets[-1] >= element.fragment_bytes
    ):
        raise mismatch()
    if EXTENDED_OFFSET_TABLE in ds:
        table = ds.get_item(EXTENDED_OFFSET_TABLE).value or b""
        if len(table) != 8 * frames:
            raise mismatch()
    if syntax == RLELossless:
        if len(element.head) < 64:
            raise mismatch()
        segments = struct.unpack("<L", element.head[:4])[0]
        if segments != samples * math.ceil(bits / 8):
            raise mismatch()
        return
    size = _codestream_size(syntax, element.head)
    if size is not None:
        coded_rows, coded_columns, components = size
        if coded_columns != columns or coded_rows not in (rows, 0) or components != samples:
            raise mismatch()
