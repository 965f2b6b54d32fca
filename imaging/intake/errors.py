"""The one exception the intake raises, and the codes it may carry."""

from __future__ import annotations

# Every code an IntakeError may carry. Callers map them to HTTP statuses (too_large -> 413, the
# rest -> 400) and tests assert against this set, so a new code must be added here.
INTAKE_ERROR_CODES: frozenset[str] = frozenset(
    {
        # any upload
        "unreadable",
        "empty_file",
        "too_large",
        "unknown_format",
        "too_many_pixels",
        "decompression_bomb",
        # PNG / JPEG
        "corrupt_image",
        "unsupported_image",
        # DICOM
        "dicom_polyglot",
        "dicom_no_meta",
        "dicom_bad_vr",
        "dicom_truncated",
        "dicom_corrupt",
        "dicom_no_image",
        "dicom_unsupported_syntax",
        "dicom_unsupported_image",
        "dicom_pixel_mismatch",
        # zipped series
        "zip_corrupt",
        "zip_encrypted",
        "zip_too_many_entries",
        "zip_path",
        "zip_symlink",
        "zip_bomb",
        "zip_empty",
        "zip_not_dicom",
        "zip_multiframe",
        "zip_mixed_series",
        # pixels_decode
        "undecodable_pixels",
    }
)


class IntakeError(Exception):
    """An upload was refused.

    `code` is a short machine code from INTAKE_ERROR_CODES; `message` is one sentence a clinician
    understands and is what str(err) returns. Messages never quote file names or header values
    from the upload: both may carry patient identifiers.
    """

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        if code not in INTAKE_ERROR_CODES:
            raise ValueError(f"unknown intake error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"IntakeError({self.code!r}, {self.message!r})"
