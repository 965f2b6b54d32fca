"""Recognise an upload by its first bytes, never by its name."""

from __future__ import annotations

import re

from imaging.intake.errors import IntakeError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
ZIP_MAGIC = b"PK\x03\x04"
ZIP_EMPTY_MAGIC = b"PK\x05\x06"  # an archive with no entries: only its end-of-directory record
DICOM_PREAMBLE = 128
DICOM_MAGIC = b"DICM"
HEAD_BYTES = 512

# Formats people upload by mistake, named in the refusal so that they know what to export instead.
_KNOWN_OTHERS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 image"),
)
EXECUTABLE_MAGICS: tuple[bytes, ...] = (
    b"MZ",  # Windows PE
    b"\x7fELF",  # Linux
    b"#!",  # script
    b"\xca\xfe\xba\xbe",  # Mach-O universal
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
)
_ACCEPTED = "only PNG, JPEG, DICOM files or a zip of DICOM files can be uploaded"

# A DICOM data set written without the Part 10 header starts with an element of group 0x0008
# (or 0x0002): its tag in either byte order followed by an explicit VR code, or an implicit-VR
# length. no_meta.dcm in pydicom's test data even has one stray byte before it.
_VRS = (
    rb"(?:AE|AS|AT|CS|DA|DS|DT|FL|FD|IS|LO|LT|OB|OD|OF|OL|OV|OW|PN|SH|SL|SQ|SS|ST|SV|TM|UC|UI|UL"
    rb"|UN|UR|US|UT|UV)"
)
_RAW_DATASET = re.compile(
    rb"\A.{0,3}?(?:"
    rb"[\x02\x08]\x00..(?:" + _VRS + rb"|[\x00-\xff][\x00-\x04]\x00\x00)"
    rb"|\x00[\x02\x08]..(?:" + _VRS + rb"|\x00\x00[\x00-\x04][\x00-\xff])"
    rb")",
    re.DOTALL,
)


def sniff_kind(head: bytes) -> str:
    """The kind of upload whose first bytes are `head`: "png", "jpeg", "dicom" or "dicom-zip".

    DICM at offset 128 is looked at first, so that a file that is both something else and DICOM
    (an executable or PNG in the DICOM preamble) is judged as DICOM and its preamble refused.
    Raises IntakeError ("empty_file", "unknown_format", "dicom_no_meta").
    """
    if not head:
        raise IntakeError("empty_file", "The uploaded file is empty.")
    if head[DICOM_PREAMBLE : DICOM_PREAMBLE + 4] == DICOM_MAGIC:
        return "dicom"
    if head.startswith(PNG_MAGIC):
        return "png"
    if head.startswith(JPEG_MAGIC):
        return "jpeg"
    if head.startswith((ZIP_MAGIC, ZIP_EMPTY_MAGIC)):
        return "dicom-zip"
    if head.startswith(DICOM_MAGIC) or _RAW_DATASET.match(head):
        raise IntakeError(
            "dicom_no_meta",
            "This DICOM file lacks the standard DICOM file header (preamble and File Meta "
            "Information); please export it again as a standard DICOM (Part 10) file.",
        )
    if head.startswith(EXECUTABLE_MAGICS):
        raise IntakeError("unknown_format", f"This file is a program, not an image: {_ACCEPTED}.")
    for magic, name in _KNOWN_OTHERS:
        if head.startswith(magic):
            raise IntakeError("unknown_format", f"This file is {name}: {_ACCEPTED}.")
    raise IntakeError("unknown_format", f"This file is not a recognised image: {_ACCEPTED}.")
