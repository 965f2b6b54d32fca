"""A series of DICOM slices uploaded as one zip archive, read in memory and never extracted.

Refused: more entries than allowed; absolute, drive-letter, backslash or ".." paths; symbolic
links and other special files; encrypted entries; a declared total larger than four uploads or
an entry compressed suspiciously well (zip bombs); any entry that is not a valid DICOM image;
slices of different sizes or series. Entries are read in bounded chunks, so a lying size field
cannot make us inflate more than we allowed. Errors name an entry by its position in the
archive, never by its name, which may carry patient identifiers.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from imaging.intake.dicom import DicomHeader, dicom_inspect
from imaging.intake.errors import IntakeError
from imaging.intake.records import IntakeLimits
from imaging.intake.sniff import DICOM_MAGIC, DICOM_PREAMBLE

# An upload may expand to this many times max_bytes in total.
ZIP_EXPANSION = 4
# Above this declared size an entry must not be compressed more than MAX_RATIO to one. Small
# entries are exempt: a blank 512 x 512 slice legitimately deflates a thousandfold.
MAX_RATIO = 200
RATIO_EXEMPT_BYTES = 4 * 1024 * 1024
_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Slice:
    """One accepted entry: its 1-based position in the archive and its header."""

    number: int
    header: DicomHeader
    data: bytes | None  # the entry's bytes, kept only when decoding


def _bomb() -> IntakeError:
    return IntakeError(
        "zip_bomb",
        "This zip archive expands to far more data than it holds (a zip bomb) and was refused.",
    )


def _skipped(name: str) -> bool:
    """Folders, macOS resource forks, hidden files and DICOMDIR indexes are not slices."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.endswith(("/", "\\")) or not parts:
        return True
    return (
        "__MACOSX" in parts
        or any(part.startswith(".") and part not in (".", "..") for part in parts)
        or parts[-1].upper() == "DICOMDIR"
    )


def _entry_check(info: zipfile.ZipInfo, number: int) -> None:
    name = info.filename
    normalised = name.replace("\\", "/")
    if (
        normalised.startswith("/")
        or _DRIVE.match(normalised)
        or ".." in PurePosixPath(normalised).parts
        or "\x00" in name
    ):
        raise IntakeError(
            "zip_path",
            f"File {number} in the zip archive has an unsafe path (absolute or leading outside "
            "the archive), so the archive was refused.",
        )
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise IntakeError(
            "zip_symlink",
            f"File {number} in the zip archive is a symbolic link, so the archive was refused.",
        )
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise IntakeError(
            "zip_path",
            f"File {number} in the zip archive is not a regular file, so the archive was refused.",
        )
    if info.flag_bits & 0x1:
        raise IntakeError(
            "zip_encrypted",
            "This zip archive is password-protected; please upload it without encryption.",
        )


def _read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """The entry's bytes, read in chunks and never more than `cap` or than it declared."""
    buffer = io.BytesIO()
    limit = min(cap, info.file_size)
    with archive.open(info) as stream:
        while chunk := stream.read(_CHUNK):
            if buffer.tell() + len(chunk) > limit:
                raise _bomb()
            buffer.write(chunk)
    return buffer.getvalue()


def _entries(path: Path, limits: IntakeLimits) -> Iterator[tuple[int, bytes]]:
    """(1-based number, bytes) of every entry that must be a slice, after the archive-wide
    checks. Raises IntakeError."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise IntakeError(
            "zip_corrupt", "This zip archive is damaged and cannot be opened."
        ) from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_zip_entries:
            raise IntakeError(
                "zip_too_many_entries",
                f"This zip archive holds more than {limits.max_zip_entries} files, the limit "
                "for one series.",
            )
        wanted = []
        for number, info in enumerate(infos, start=1):
            _entry_check(info, number)
            if info.is_dir() or _skipped(info.filename):
                continue
            if info.file_size > RATIO_EXEMPT_BYTES and (
                info.file_size > MAX_RATIO * max(info.compress_size, 1)
            ):
                raise _bomb()
            wanted.append((number, info))
        budget = limits.max_bytes * ZIP_EXPANSION
        if sum(info.file_size for _, info in wanted) > budget:
            raise _bomb()
        for number, info in wanted:
            if info.file_size > limits.max_bytes:
                raise IntakeError(
                    "too_large",
                    f"File {number} in the zip archive is larger than the upload size limit.",
                )
        for number, info in wanted:
            try:
                data = _read_entry(archive, info, min(budget, limits.max_bytes))
            except IntakeError:
                raise
            except NotImplementedError:
                raise IntakeError(
                    "zip_corrupt",
                    "This zip archive uses a compression method that cannot be read; please "
                    "create it with standard zip compression.",
                ) from None
            except (zipfile.BadZipFile, OSError, ValueError, EOFError):
                raise IntakeError(
                    "zip_corrupt",
                    f"File {number} in the zip archive is damaged and cannot be read.",
                ) from None
            budget -= len(data)
            yield number, data


def _slice_header(number: int, data: bytes, limits: IntakeLimits) -> DicomHeader:
    if data[DICOM_PREAMBLE : DICOM_PREAMBLE + 4] != DICOM_MAGIC:
        raise IntakeError(
            "zip_not_dicom",
            f"File {number} in the zip archive is not a DICOM file; a series upload may "
            "contain DICOM images only.",
        )
    try:
        return dicom_inspect(io.BytesIO(data), len(data), limits)
    except IntakeError as error:
        message = error.message[0].lower() + error.message[1:]
        refusal = f"File {number} in the zip archive was refused: {message}"
        raise IntakeError(error.code, refusal) from None


def _slice_order(slices: list[Slice]) -> list[Slice]:
    """Along the slice normal (from ImageOrientationPatient) by ImagePositionPatient when every
    slice has both, else by InstanceNumber when every slice has one, else archive order."""
    first = slices[0].header.orientation
    if first is not None and all(
        s.header.position is not None and s.header.orientation is not None for s in slices
    ):
        normal = np.cross(np.array(first[:3]), np.array(first[3:]))
        if np.linalg.norm(normal) > 1e-6:

            def distance(s: Slice) -> tuple[float, int, int]:
                assert s.header.position is not None
                along = float(np.dot(normal, np.array(s.header.position)))
                return along, s.header.instance_number or 0, s.number

            return sorted(slices, key=distance)
    if all(s.header.instance_number is not None for s in slices):
        return sorted(slices, key=lambda s: (s.header.instance_number or 0, s.number))
    return slices


def _same_series(slices: list[Slice]) -> None:
    first = slices[0].header
    for s in slices[1:]:
        h = s.header
        if (
            (h.rows, h.columns) != (first.rows, first.columns)
            or h.samples_per_pixel != first.samples_per_pixel
            or (h.series_uid and first.series_uid and h.series_uid != first.series_uid)
        ):
            raise IntakeError(
                "zip_mixed_series",
                f"File {s.number} in the zip archive does not belong to the same series as "
                "the first image (different size or series); please upload one series per "
                "archive.",
            )


def series_read(path: Path, limits: IntakeLimits, *, keep_data: bool) -> list[Slice]:
    """Validate a zipped DICOM series and return its slices in anatomical order. Raises
    IntakeError. With `keep_data`, each slice carries its bytes for decoding."""
    slices: list[Slice] = []
    total_pixels = 0
    for number, data in _entries(path, limits):
        header = _slice_header(number, data, limits)
        if header.frames != 1:
            raise IntakeError(
                "zip_multiframe",
                f"File {number} in the zip archive holds several frames; a zipped series must "
                "contain single-image slices.",
            )
        total_pixels += header.rows * header.columns
        if len(slices) + 1 > limits.max_frames or total_pixels > limits.max_total_pixels:
            raise IntakeError(
                "too_many_pixels",
                "This series holds more slices or pixels than the upload limits allow.",
            )
        slices.append(Slice(number, header, data if keep_data else None))
    if not slices:
        raise IntakeError("zip_empty", "This zip archive contains no DICOM images.")
    _same_series(slices)
    return _slice_order(slices)
