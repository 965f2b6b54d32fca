"""The study's files as HTTP responses, for the pages and the API alike.

Callers have already fetched the study through `study_get_for_user` (404 for another care team).
Every response is an attachment with nosniff and no caching, under a name made of the study id:
never the uploaded file's own name, which may carry PHI. The original is stored encrypted: it is
authenticated end to end first (a damaged file is a 409, before any byte is sent), then streamed
decrypted, chunk by chunk.
"""

from pathlib import Path

import numpy as np
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from imaging import storage
from imaging.deid import DicomDeidError, study_dicom_deidentified
from imaging.intake import WINDOW_PRESETS, frame_to_uint8, png_encode
from imaging.models import Study
from patients.deid import subject_id

CORRUPT_MESSAGE = (
    "The stored file failed its integrity check (it was altered or damaged on disk) and is not "
    "served. Ask an administrator to restore it from a backup, or upload the image again."
)

FILES = {"heatmap": "heatmap_name", "mask": "mask_name", "image": "preview_name"}
WINDOW_LIMITS = (-4000.0, 40000.0)


def _headers(response: HttpResponseBase, filename: str) -> HttpResponseBase:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def window_parse(preset: str, center: str, width: str) -> tuple[float, float] | None:
    """(center, width) from a preset name or two numbers; None for the stored rendering; ValueError
    for nonsense (the views answer 400)."""
    if preset:
        if preset not in WINDOW_PRESETS:
            raise ValueError(f"Unknown window preset; use one of {', '.join(WINDOW_PRESETS)}.")
        return WINDOW_PRESETS[preset]
    if not center and not width:
        return None
    c, w = float(center), float(width)
    low, high = WINDOW_LIMITS
    if not (low <= c <= high) or not (1 <= w <= high - low):
        raise ValueError("Window centre or width out of range.")
    return c, w


def study_file_response(
    study: Study, which: str, *, window: tuple[float, float] | None = None
) -> HttpResponseBase:
    """The rendered key frame ("image", optionally re-windowed), the heatmap or the mask as PNG."""
    field = FILES.get(which)
    name = getattr(study, field) if field else ""
    if not name:
        raise Http404("This study has no such image yet.")
    filename = f"study-{study.public_id}-{which}.png"
    if which == "image" and window is not None and study.frame_name:
        frame = np.load(storage.path_of(study.frame_name), allow_pickle=False)
        data = png_encode(frame_to_uint8(frame, window=window))
        return _headers(HttpResponse(data, content_type="image/png"), filename)
    return _file(storage.path_of(name), "image/png", filename)


class DownloadRefused(Exception):
    """A file that exists but is not served: `code` for machines, `message` for the person; the
    pages answer it as a plain-text 409, the API as a JSON one."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def study_original_response(study: Study) -> HttpResponseBase:
    """Exactly the uploaded bytes; Http404 when the file is gone, DownloadRefused when it fails
    authentication."""
    extension = Path(study.file_name).suffix
    content_type = {
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".dcm": "application/dicom",
        ".zip": "application/zip",
    }.get(extension, "application/octet-stream")
    try:
        size = storage.original_verify(study.file_name)
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    except storage.StoredFileCorrupt:
        raise DownloadRefused("file_corrupt", CORRUPT_MESSAGE) from None
    response = StreamingHttpResponse(
        storage.original_chunks(study.file_name), content_type=content_type
    )
    response["Content-Length"] = str(size)
    return _headers(response, f"study-{study.public_id}{extension}")


def study_deidentified_response(study: Study) -> HttpResponseBase:
    """The study's DICOM file de-identified (imaging.deid), named by the research pseudonym.
    DownloadRefused for a study that is not one DICOM file, cannot be de-identified safely, or
    whose stored file fails authentication; Http404 when the file is gone."""
    try:
        data = study_dicom_deidentified(study)
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    except storage.StoredFileCorrupt:
        raise DownloadRefused("file_corrupt", CORRUPT_MESSAGE) from None
    except DicomDeidError as error:
        code = "not_dicom" if study.kind != Study.Kind.DICOM else "not_deidentifiable"
        raise DownloadRefused(code, str(error)) from None
    response = HttpResponse(data, content_type="application/dicom")
    return _headers(response, f"study-{subject_id(study.patient_id)}-deid.dcm")


def _file(path: Path, content_type: str, filename: str) -> HttpResponseBase:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    response = FileResponse(handle, content_type=content_type)
    return _headers(response, filename)
