"""DICOM Part 10 files: refuse what is unsafe or unreadable, read the header, without decoding.

Checks, in order: the 128-byte preamble (executable polyglots), the File Meta Information, a
bounded inflate for deflated files, pydicom's parse (force=False, stop_before_pixels), truncated
elements, the presence of pixel data, the transfer syntax, the Image Pixel attributes and the
pixel limits, then the pixel data element itself, walked with seeks only: its length for native
syntaxes, fragments and offset tables for encapsulated ones, and the image size written in the
first frame's JPEG / JPEG 2000 / RLE header against Rows and Columns.
"""

from __future__ import annotations

import datetime
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
)

from imaging.intake import dicom_values as dv
from imaging.intake import pixel_element as pe
from imaging.intake.errors import IntakeError
from imaging.intake.records import IntakeLimits
from imaging.intake.sniff import DICOM_MAGIC, DICOM_PREAMBLE, EXECUTABLE_MAGICS

_TIFF_HEADERS = (b"II*\x00", b"MM\x00*")
# Another file format's signature in the preamble makes the file two things at once (a polyglot
# that another program would open as that format); stray bytes from a scanner do not.
_FOREIGN_SIGNATURES = (b"\x89PNG", b"%PDF", b"PK\x03\x04", b"GIF8", b"\xff\xd8\xff", b"<")
_UNDEFINED = 0xFFFFFFFF
# Explicit VRs whose length field is 4 bytes (after 2 reserved ones) rather than 2.
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT"}
_LONG_VRS |= {b"UV"}
_PHOTOMETRIC_SAMPLES = {
    "MONOCHROME1": 1,
    "MONOCHROME2": 1,
    "PALETTE COLOR": 1,
    "RGB": 3,
    "YBR_FULL": 3,
    "YBR_FULL_422": 3,
    "YBR_RCT": 3,
    "YBR_ICT": 3,
}

# Tags read from the header (group, element as one int).
ROWS, COLUMNS, FRAMES = 0x00280010, 0x00280011, 0x00280008
SAMPLES, PLANAR, PHOTOMETRIC = 0x00280002, 0x00280006, 0x00280004
BITS_ALLOCATED, BITS_STORED, PIXEL_REPRESENTATION = 0x00280100, 0x00280101, 0x00280103
PIXEL_SPACING, IMAGER_PIXEL_SPACING = 0x00280030, 0x00181164
MODALITY, BODY_PART, SOP_CLASS = 0x00080060, 0x00180015, 0x00080016
SERIES_UID, INSTANCE_NUMBER = 0x0020000E, 0x00200013
POSITION, ORIENTATION = 0x00200032, 0x00200037

_Position = tuple[float, float, float]
_Orientation = tuple[float, float, float, float, float, float]


@dataclass(frozen=True)
class DicomHeader:
    """What the header of one accepted DICOM image says (PHI only in `phi`)."""

    transfer_syntax: UID
    modality: str
    body_part: str
    rows: int
    columns: int
    frames: int
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    photometric: str
    pixel_spacing_mm: tuple[float, float] | None
    phi: dict[str, str]
    study_date: datetime.date | None
    series_uid: str
    instance_number: int | None
    position: _Position | None
    orientation: _Orientation | None


def preamble_check(preamble: bytes) -> None:
    """Refuse a 128-byte preamble that starts with an executable's header or another file
    format's signature: a file that is at the same time an executable (or a PDF, a zip, a web
    page) and a DICOM file (CVE-2019-11687) must never be stored. Zeros, a TIFF header, and the
    stray bytes some scanners leave there (Siemens, old CT) are accepted."""
    if preamble.startswith(_TIFF_HEADERS) or not preamble.strip(b"\x00"):
        return
    if preamble.startswith(EXECUTABLE_MAGICS):
        raise IntakeError(
            "dicom_polyglot",
            "This DICOM file carries an executable program header in its preamble and was "
            "refused for safety.",
        )
    if not preamble.lstrip(b" \t\r\n").startswith(_FOREIGN_SIGNATURES):
        return
    raise IntakeError(
        "dicom_polyglot",
        "This DICOM file carries an unexpected header (possibly executable content) in its "
        "preamble and was refused for safety.",
    )


def _meta_end(fp: BinaryIO) -> tuple[int, str]:
    """Offset where the data set starts and the transfer syntax UID ("" if not found), read from
    the File Meta group (always explicit VR little endian) after the DICM prefix."""
    fp.seek(DICOM_PREAMBLE + 4)
    syntax = ""
    while True:
        start = fp.tell()
        header = fp.read(8)
        if len(header) < 8:
            return start, syntax
        group, element = struct.unpack("<HH", header[:4])
        if group != 0x0002:
            return start, syntax
        vr = header[4:6]
        if vr in _LONG_VRS:
            extra = fp.read(4)
            if len(extra) < 4:
                return start, syntax
            length = struct.unpack("<L", extra)[0]
        else:
            length = struct.unpack("<H", header[6:8])[0]
        if length == _UNDEFINED:
            return start, syntax
        value = fp.read(length)
        if element == 0x0010:
            syntax = value.decode("ascii", "replace").strip(" \x00")


def _inflated_size_check(fp: BinaryIO, start: int, limits: IntakeLimits) -> None:
    """Inflate a deflated data set in bounded steps before pydicom inflates it all at once."""
    fp.seek(start)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    try:
        while chunk := fp.read(1 << 20):
            while chunk:
                total += len(inflater.decompress(chunk, 1 << 22))
                if total > limits.max_bytes:
                    raise IntakeError(
                        "decompression_bomb",
                        "This compressed DICOM file expands to more than the upload size "
                        "limit and was refused.",
                    )
                chunk = inflater.unconsumed_tail
    except zlib.error:
        raise IntakeError(
            "dicom_corrupt", "This DICOM file is damaged: its compressed data cannot be read."
        ) from None


def _read_dataset(fp: BinaryIO, *, stop_before_pixels: bool) -> Dataset:
    fp.seek(0)
    try:
        return dcmread(fp, force=False, stop_before_pixels=stop_before_pixels)
    except InvalidDicomError:
        raise IntakeError(
            "dicom_no_meta",
            "This DICOM file lacks a valid DICOM file header (File Meta Information); please "
            "export it again as a standard DICOM (Part 10) file.",
        ) from None
    except Exception:  # pydicom raises many types on malformed input; all mean "unreadable".
        raise IntakeError(
            "dicom_corrupt", "This DICOM file is damaged and its header cannot be read."
        ) from None


def _no_image_message(ds: Dataset) -> str:
    sop = dv.lenient_text(ds, SOP_CLASS) or str(ds.file_meta.get("MediaStorageSOPClassUID", ""))
    name = UID(sop).name if sop else ""
    described = ""
    if sop == "1.2.840.10008.1.3.10":
        described = "a DICOMDIR, an index of other DICOM files"
    elif name.endswith("SR Storage"):
        described = f"a structured report ({name.removesuffix(' Storage')})"
    elif "Presentation State" in name:
        described = "a presentation state (display settings for another image)"
    elif "Waveform" in name:
        described = "a waveform recording such as an ECG"
    elif name.endswith(" Storage") and "Image" not in name:
        described = f"a DICOM {name.removesuffix(' Storage')} object"
    if described:
        return f"This DICOM file holds no image: it is {described}."
    return "This DICOM file holds no image: it contains header information only."


def _check_syntax(syntax: UID) -> None:
    try:
        available = get_decoder(syntax).is_available
    except NotImplementedError:
        available = False
    if not available:
        raise IntakeError(
            "dicom_unsupported_syntax",
            f"This DICOM file is encoded as {_syntax_name(syntax)}, which this portal cannot "
            "read; please export it uncompressed or as JPEG / JPEG 2000.",
        )


def _syntax_name(syntax: UID) -> str:
    return syntax.name if syntax.name != str(syntax) else "an unknown transfer syntax"


def _required(ds: Dataset, tag: int) -> int:
    value = dv.strict_int(ds, tag)
    if value is None:
        raise IntakeError(
            "dicom_corrupt",
            "This DICOM file's image description is incomplete, so its pixels cannot be read.",
        )
    return value


def _optional(ds: Dataset, tag: int, default: int) -> int:
    value = dv.strict_int(ds, tag)
    return default if value is None else value


def _spacing(ds: Dataset) -> tuple[float, float] | None:
    for source in (ds, dv.functional_group_item(ds, "PixelMeasuresSequence")):
        if source is None:
            continue
        for tag in (PIXEL_SPACING, IMAGER_PIXEL_SPACING):
            values = dv.lenient_floats(source, tag)
            if values and len(values) == 2 and all(0 < v < 1e4 for v in values):
                return values[0], values[1]
    return None


def _geometry(ds: Dataset) -> tuple[_Position | None, _Orientation | None]:
    """ImagePositionPatient and ImageOrientationPatient, from the top level or, for enhanced
    multi-frame objects, the functional groups of frame 0; None when absent or invalid."""
    position = dv.lenient_floats(ds, POSITION)
    orientation = dv.lenient_floats(ds, ORIENTATION)
    if position is None and (item := dv.functional_group_item(ds, "PlanePositionSequence")):
        position = dv.lenient_floats(item, POSITION)
    if orientation is None and (item := dv.functional_group_item(ds, "PlaneOrientationSequence")):
        orientation = dv.lenient_floats(item, ORIENTATION)
    pos: _Position | None = None
    ori: _Orientation | None = None
    if position and len(position) == 3:
        pos = (position[0], position[1], position[2])
    if orientation and len(orientation) == 6:
        x1, y1, z1, x2, y2, z2 = orientation
        ori = (x1, y1, z1, x2, y2, z2)
    return pos, ori


def _check_limits(rows: int, columns: int, frames: int, limits: IntakeLimits) -> None:
    if rows * columns > limits.max_frame_pixels:
        raise IntakeError(
            "too_many_pixels",
            f"This DICOM image is larger ({columns} x {rows} pixels) than the "
            f"{limits.max_frame_pixels:,}-pixel limit per image.",
        )
    if frames > limits.max_frames or rows * columns * frames > limits.max_total_pixels:
        raise IntakeError(
            "too_many_pixels",
            f"This DICOM file holds more frames or pixels ({frames} frames) than the upload "
            "limits allow.",
        )


def dicom_inspect(fp: BinaryIO, size: int, limits: IntakeLimits) -> DicomHeader:
    """Validate one DICOM Part 10 file (a seekable binary stream of `size` bytes) and read its
    header. Reads the pixel data element's structure, never its pixels. Raises IntakeError."""
    fp.seek(0)
    head = fp.read(DICOM_PREAMBLE + 4)
    if len(head) < DICOM_PREAMBLE + 4 or head[DICOM_PREAMBLE:] != DICOM_MAGIC:
        raise IntakeError(
            "dicom_no_meta",
            "This DICOM file lacks the standard DICOM file header; please export it again as a "
            "standard DICOM (Part 10) file.",
        )
    preamble_check(head[:DICOM_PREAMBLE])
    meta_end, syntax_text = _meta_end(fp)
    deflated = syntax_text == DeflatedExplicitVRLittleEndian
    if deflated:
        _inflated_size_check(fp, meta_end, limits)
    ds = _read_dataset(fp, stop_before_pixels=not deflated)
    syntax_raw = ds.file_meta.get("TransferSyntaxUID")
    if not syntax_raw:
        raise IntakeError(
            "dicom_no_meta",
            "This DICOM file's header does not say how its data is encoded (no transfer "
            "syntax); please export it again.",
        )
    syntax = UID(str(syntax_raw))
    for elem in ds.elements():
        declared = getattr(elem, "length", 0)
        value = getattr(elem, "value", None)
        if isinstance(value, bytes) and declared != _UNDEFINED and len(value) < declared:
            raise pe.truncated()
    element = pe.pixel_element_read(ds, fp, size, deflated)
    if element is None:
        raise IntakeError("dicom_no_image", _no_image_message(ds))
    if not syntax.is_transfer_syntax:
        raise IntakeError(
            "dicom_unsupported_syntax",
            "This DICOM file uses an unknown transfer syntax and cannot be read.",
        )
    _check_syntax(syntax)

    rows, columns = _required(ds, ROWS), _required(ds, COLUMNS)
    bits = _required(ds, BITS_ALLOCATED)
    pi = dv.strict_code(ds, PHOTOMETRIC)
    samples = _optional(ds, SAMPLES, 1)
    stored = _optional(ds, BITS_STORED, bits)
    representation = _optional(ds, PIXEL_REPRESENTATION, 0)
    planar = _optional(ds, PLANAR, 0)
    frames = _optional(ds, FRAMES, 1)
    if rows < 1 or columns < 1 or frames < 1 or pi is None:
        raise IntakeError(
            "dicom_corrupt",
            "This DICOM file's image description is incomplete, so its pixels cannot be read.",
        )
    if (
        bits not in (1, 8, 16, 32)
        or not 1 <= stored <= bits
        or representation not in (0, 1)
        or planar not in (0, 1)
        or _PHOTOMETRIC_SAMPLES.get(pi) != samples
        or (pi in ("YBR_RCT", "YBR_ICT") and syntax not in JPEG2000TransferSyntaxes)
    ):
        raise IntakeError(
            "dicom_unsupported_image",
            "This DICOM file uses a pixel format (bit depth or colour model) this portal "
            "cannot display.",
        )
    _check_limits(rows, columns, frames, limits)
    pe.pixel_element_check(ds, element, syntax, rows, columns, frames, samples, bits, pi)

    modality = dv.lenient_text(ds, MODALITY) or "OT"
    if modality == "CT":
        dv.rescale_read(ds, strict=True)  # Hounsfield units depend on it: refuse a broken one

    phi, study_date = dv.phi_read(ds)
    position, orientation = _geometry(ds)
    return DicomHeader(
        transfer_syntax=syntax,
        modality=modality,
        body_part=dv.lenient_text(ds, BODY_PART),
        rows=rows,
        columns=columns,
        frames=frames,
        samples_per_pixel=samples,
        bits_allocated=bits,
        bits_stored=stored,
        pixel_representation=representation,
        photometric=pi,
        pixel_spacing_mm=_spacing(ds),
        phi=phi,
        study_date=study_date,
        series_uid=dv.lenient_text(ds, SERIES_UID),
        instance_number=dv.lenient_int(ds, INSTANCE_NUMBER),
        position=position,
        orientation=orientation,
    )
