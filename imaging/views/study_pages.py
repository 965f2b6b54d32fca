"""The study pages: the record page's imaging panel, the upload, the viewer with its live status
fragment, and the study's files.

Access follows the patient pages: a patient is fetched through `patient_get_for_user` and a study
through `study_get_for_user` (a 404, audited, for anyone outside the patient's care teams, for the
viewer and for each file alike). Pages that show PHI append an audit READ; the status fragment that
the viewer polls every two seconds does so only once it shows the finished result.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from accounts.audit import audit_request, client_ip
from accounts.decorators import AuthedRequest
from accounts.models import AuditAction
from imaging import downloads
from imaging.forms import ReportForm, StudyUploadForm
from imaging.intake import WINDOW_PRESETS
from imaging.models import Study, StudyReport
from imaging.selectors import (
    queue_estimate,
    studies_for_patient,
    study_get_for_user,
    user_may_report,
    user_may_upload,
)
from imaging.services import (
    STORAGE_RETRY_AFTER_S,
    STORAGE_UNAVAILABLE,
    StudyRejected,
    study_submit,
)
from imaging.views.wording import (
    class_bars,
    duration,
    eta,
    finding,
    percent,
    report_state,
    stage_rows,
    study_heading,
    urgency_level,
    warning_of,
)
from patients.models import Patient
from patients.selectors import patient_get_for_user

PANEL_STUDIES = 10
# A multipart body carries a little more than the file: its boundaries, headers and CSRF token.
UPLOAD_ENVELOPE_BYTES = 64 * 1024
WINDOWED_MODALITIES = frozenset({"CT"})


def poll_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """login_required for a fragment that htmx polls: once the session has ended, the poll asks
    htmx to reload the whole page (which then goes to the sign-in page) rather than swap the
    sign-in form into the fragment."""
    guarded = login_required(view)

    @wraps(view)
    def poll(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated and request.headers.get("HX-Request") == "true":
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        return guarded(request, *args, **kwargs)

    return poll


def study_get(request: AuthedRequest, public_id: UUID, want: str = "view") -> Study:
    return study_get_for_user(
        user=request.user, public_id=public_id, ip=client_ip(request), want=want
    )


def _read(request: AuthedRequest, study: Study, page: str, **detail: Any) -> None:
    audit_request(
        request,
        action=AuditAction.READ,
        obj=study,
        detail={"page": page, "patient": str(study.patient.public_id), **detail},
    )


# --- the panel of the patient page --------------------------------------------------------------


def imaging_panel(request: AuthedRequest, patient: Patient) -> tuple[str, dict[str, Any]] | None:
    """The record page's imaging panel (registered in ImagingConfig.ready): the patient's newest
    studies with their state, AI finding and report, and the upload button for those who may."""
    studies = list(studies_for_patient(patient=patient).select_related("report")[:PANEL_STUDIES])
    rows = []
    for study in studies:
        report_key, report_words = report_state(study)
        rows.append(
            {
                "study": study,
                "title": study_heading(study),
                "finding": finding(study),
                "urgency": percent(study.abnormal_probability),
                "level": urgency_level(study.abnormal_probability),
                "report_key": report_key,
                "report_words": report_words,
            }
        )
    warnings = sorted({w for w in (warning_of(s.model_version) for s in studies) if w})
    return (
        "imaging/_patient_panel.html",
        {
            "rows": rows,
            "may_upload": user_may_upload(user=request.user),
            "warnings": warnings,
            "more": len(studies) == PANEL_STUDIES,
        },
    )


# --- upload -------------------------------------------------------------------------------------


def _wants_json(request: AuthedRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _limits() -> dict[str, Any]:
    return {
        "max_mb": settings.IMAGING_MAX_UPLOAD_BYTES // (1024 * 1024),
        "max_bytes": settings.IMAGING_MAX_UPLOAD_BYTES,
        "max_frames": settings.IMAGING_MAX_FRAMES,
        "max_megapixels": settings.IMAGING_MAX_FRAME_PIXELS // 1_000_000,
    }


def _upload_page(
    request: AuthedRequest,
    patient: Patient,
    form: StudyUploadForm,
    *,
    error: str = "",
    code: str = "",
    status: int = 200,
) -> HttpResponse:
    if _wants_json(request) and request.method == "POST":
        message = error or " ".join(str(e) for errors in form.errors.values() for e in errors)
        return JsonResponse({"error": message, "code": code or "invalid"}, status=status)
    audit_request(request, action=AuditAction.READ, obj=patient, detail={"page": "imaging_upload"})
    return render(
        request,
        "imaging/upload.html",
        {"patient": patient, "form": form, "error": error, "code": code, **_limits()},
        status=status,
    )


def _declared_length(request: AuthedRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


# The CSRF middleware would read (and spool to disk) the whole multipart body before this view
# could look at its declared size, so the check runs here, after the size test (csrf_protect
# below): an oversize body is refused unread, as Django's documentation advises for upload
# handlers.
@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def study_upload(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    patient = patient_get_for_user(user=request.user, public_id=public_id, ip=client_ip(request))
    if not user_may_upload(user=request.user):
        raise PermissionDenied("Your role does not upload images.")
    if request.method == "POST":
        limit = settings.IMAGING_MAX_UPLOAD_BYTES
        if _declared_length(request) > limit + UPLOAD_ENVELOPE_BYTES:
            return _upload_page(
                request,
                patient,
                StudyUploadForm(),
                error=f"The file is larger than the {limit // (1024 * 1024)} MB limit; "
                "nothing was stored.",
                code="too_large",
                status=413,
            )
    return _study_upload(request, patient)


@csrf_protect
def _study_upload(request: AuthedRequest, patient: Patient) -> HttpResponse:
    if request.method != "POST":
        return _upload_page(request, patient, StudyUploadForm())
    form = StudyUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _upload_page(request, patient, form, status=400)
    upload = form.cleaned_data["image"]
    try:
        study = study_submit(
            by=request.user,
            patient=patient,
            chunks=upload.chunks(),
            original_name=upload.name or "",
            ip=client_ip(request),
        )
    except StudyRejected as rejected:
        full = rejected.code == STORAGE_UNAVAILABLE  # the server's condition, not the file's
        status = 413 if rejected.code == "too_large" else 503 if full else 400
        page = _upload_page(
            request,
            patient,
            StudyUploadForm(),
            error=f"{rejected.message} Nothing was stored.",
            code=rejected.code,
            status=status,
        )
        if full:
            page["Retry-After"] = str(STORAGE_RETRY_AFTER_S)
        return page
    url = reverse("imaging:study", kwargs={"public_id": study.public_id})
    # Shown by the study page, whether the script or the browser follows the redirect.
    messages.success(request, "Image received; the analysis is queued.")
    if _wants_json(request):
        return JsonResponse({"redirect": url, "study": str(study.public_id)}, status=202)
    return redirect(url)


# --- the viewer ---------------------------------------------------------------------------------


def _report_of(study: Study) -> StudyReport | None:
    return getattr(study, "report", None)


def study_context(
    request: AuthedRequest, study: Study, *, report_form: ReportForm | None = None
) -> dict[str, Any]:
    """What the viewer and its status fragment show: the queue estimate while pending, the
    results and the report once DONE."""
    context: dict[str, Any] = {
        "study": study,
        "patient": study.patient,
        "title": study_heading(study),
        "may_upload": user_may_upload(user=request.user),
    }
    estimate = queue_estimate(study=study) if study.is_pending else None
    if estimate is not None:
        context.update(position=estimate.position, eta=eta(estimate.eta_seconds))
    if study.state != Study.State.DONE:
        return context
    version = study.model_version
    stages, total = stage_rows(study.timings or {})
    report = _report_of(study)
    may_report = user_may_report(user=request.user)
    if report is not None and report_form is None and may_report:
        report_form = ReportForm(initial={"text": report.text})
    context.update(
        warning=warning_of(version),
        bars=class_bars(study),
        finding=finding(study),
        normal=bool(version and study.predicted_class == version.normal_class),
        urgency=percent(study.abnormal_probability),
        level=urgency_level(study.abnormal_probability),
        stages=stages,
        total_ms=total,
        frames_analysed=(study.timings or {}).get("frames_analysed"),
        windowing=study.modality in WINDOWED_MODALITIES and bool(study.frame_name),
        presets=[
            {"name": name, "label": name.capitalize(), "center": c, "width": w}
            for name, (c, w) in WINDOW_PRESETS.items()
        ],
        report=report,
        report_form=report_form,
        may_report=may_report,
        analysed_in=duration(
            (study.finished_at - study.uploaded_at).total_seconds() if study.finished_at else 0.0
        ),
    )
    return context


@login_required
@require_GET
def study_detail(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    study = study_get(request, public_id)
    _read(request, study, "study")
    return render(request, "imaging/study.html", study_context(request, study))


@poll_login_required
@require_GET
def study_status(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    """The viewer's live region, polled by htmx while the study is pending; it carries no polling
    attributes once DONE or FAILED, so the polling stops by itself."""
    study = study_get(request, public_id, want="status")
    if not study.is_pending:
        _read(request, study, "study_status", state=study.state)
    return render(request, "imaging/_study_status.html", study_context(request, study))


# --- files --------------------------------------------------------------------------------------


def _file(request: AuthedRequest, public_id: UUID, which: str) -> HttpResponseBase:
    study = study_get(request, public_id, want=which)
    response = downloads.study_file_response(study, which)
    _read(request, study, "study_file", file=which)
    return response


@login_required
@require_GET
def study_image(request: AuthedRequest, public_id: UUID) -> HttpResponseBase:
    """The rendered key frame; `?window=lung` or `?wc=40&ww=400` re-windows a CT frame."""
    study = study_get(request, public_id, want="image")
    try:
        window = downloads.window_parse(
            request.GET.get("window", ""), request.GET.get("wc", ""), request.GET.get("ww", "")
        )
    except ValueError as error:
        # float("abc") says "could not convert string to float": not words for a person.
        said = str(error)
        message = said if "window" in said.lower() else "Window centre and width must be numbers."
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
    response = downloads.study_file_response(study, "image", window=window)
    _read(request, study, "study_file", file="image", windowed=window is not None)
    return response


@login_required
@require_GET
def study_heatmap(request: AuthedRequest, public_id: UUID) -> HttpResponseBase:
    return _file(request, public_id, "heatmap")


@login_required
@require_GET
def study_mask(request: AuthedRequest, public_id: UUID) -> HttpResponseBase:
    return _file(request, public_id, "mask")


def _export(
    request: AuthedRequest, study: Study, file: str, build: Callable[[Study], HttpResponseBase]
) -> HttpResponseBase:
    """A file of the study leaving the portal: audited as an export once it is served; a refusal
    (downloads.DownloadRefused) is a plain-text 409 with its reason."""
    try:
        response = build(study)
    except downloads.DownloadRefused as refused:
        return HttpResponse(refused.message, status=409, content_type="text/plain; charset=utf-8")
    audit_request(
        request,
        action=AuditAction.EXPORT,
        obj=study,
        detail={"file": file, "patient": str(study.patient.public_id)},
    )
    return response


@login_required
@require_GET
def study_original(request: AuthedRequest, public_id: UUID) -> HttpResponseBase:
    study = study_get(request, public_id, want="original")
    return _export(request, study, "original", downloads.study_original_response)


@login_required
@require_GET
def study_deidentified(request: AuthedRequest, public_id: UUID) -> HttpResponseBase:
    """The study's DICOM file de-identified (PS3.15 basic profile) under the research pseudonym;
    a 409 with the reason for a study that is not one DICOM file or cannot be cleaned safely."""
    study = study_get(request, public_id, want="deidentified")
    return _export(request, study, "deidentified_dicom", downloads.study_deidentified_response)
