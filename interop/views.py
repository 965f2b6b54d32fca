"""The import pages: the list of one's imports with the upload form, a job's page (its progress
bar updates from the JSON status endpoint without a reload), the rejected-rows report (CSV,
audited as an export) and the CSV template.

Admins and clinicians import; anyone else gets a 403 on the list and the template. A job is its
uploader's (admins see all): anyone else's is a 404 (interop.importing.selectors).
"""

from typing import Any
from uuid import UUID

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from accounts.audit import audit_request, client_ip
from accounts.decorators import AuthedRequest
from accounts.models import AuditAction, User
from healthmentor.csv_safe import csv_rows
from interop.importing import files
from interop.importing.selectors import (
    import_care_teams,
    import_job_get_for_user,
    import_jobs_for_user,
    user_may_import,
)
from interop.importing.tabular import TEMPLATE_HELP, template_rows
from interop.models import ImportJob
from interop.services import STORAGE_UNAVAILABLE, ImportRefused, import_submit
from patients.models import CareTeam

# A multipart body carries a little more than the file: boundaries, part headers, the team, CSRF.
UPLOAD_ENVELOPE_BYTES = 64 * 1024
LIST_LIMIT = 50
REFUSED_STATUS = {"too_large": 413, STORAGE_UNAVAILABLE: 503}
NOTHING_STORED = "Nothing was stored."


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text="A FHIR Bundle (JSON) or a CSV file made from the template; recognised by its "
        "content, not its name.",
        widget=forms.FileInput(attrs={"accept": ".json,.csv,application/json,text/csv"}),
        error_messages={"required": "Choose a file to import.", "empty": "The file is empty."},
    )
    care_team = forms.ModelChoiceField(
        queryset=CareTeam.objects.none(),
        to_field_name="public_id",
        label="Care team",
        help_text="New patients join this team; its members will see them.",
        empty_label=None,
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["care_team"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = import_care_teams(user=user)


def _guard(request: AuthedRequest) -> None:
    if not user_may_import(user=request.user):
        raise PermissionDenied("Only clinicians and administrators import records.")


def _limits() -> dict[str, Any]:
    return {"max_mb": settings.INTEROP_IMPORT_MAX_BYTES // (1024 * 1024)}


def _list_page(
    request: AuthedRequest,
    form: ImportUploadForm,
    *,
    error: str = "",
    code: str = "",
    status: int = 200,
) -> HttpResponse:
    jobs = import_jobs_for_user(user=request.user)[:LIST_LIMIT]
    return render(
        request,
        "interop/imports.html",
        {
            "form": form,
            "jobs": jobs,
            "error": error,
            "code": code,
            "columns": TEMPLATE_HELP,
            **_limits(),
        },
        status=status,
    )


def _declared_length(request: AuthedRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@csrf_protect
def _upload(request: AuthedRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST, request.FILES, user=request.user)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    try:
        job = import_submit(
            by=request.user,
            care_team=form.cleaned_data["care_team"].public_id,
            upload=upload,
            original_name=upload.name or "",
            ip=client_ip(request),
        )
    except ImportRefused as refused:
        return _list_page(
            request,
            ImportUploadForm(user=request.user),
            error=f"{refused.message} {NOTHING_STORED}",
            code=refused.code,
            status=REFUSED_STATUS.get(refused.code, 400),
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return _list_page(request, form, status=400)
    messages.success(request, "File received; the import is queued.")
    return redirect(reverse("interop:import", kwargs={"public_id": job.public_id}))


# The CSRF middleware would read (and spool) the whole body before this view could look at its
# declared size: the size check comes first, then csrf_protect (as imaging's upload does).
@csrf_exempt
@login_required
@require_http_methods(["GET", "POST"])
def imports(request: AuthedRequest) -> HttpResponse:
    """The user's imports (admins: everyone's) and the upload form."""
    _guard(request)
    if request.method == "POST":
        limit = settings.INTEROP_IMPORT_MAX_BYTES
        if _declared_length(request) > limit + UPLOAD_ENVELOPE_BYTES:
            return _list_page(
                request,
                ImportUploadForm(user=request.user),
                error=f"The file is larger than the {limit // (1024 * 1024)} MB import limit. "
                + NOTHING_STORED,
                code="too_large",
                status=413,
            )
        return _upload(request)
    return _list_page(request, ImportUploadForm(user=request.user))


def _job(request: AuthedRequest, public_id: UUID, want: str = "view") -> ImportJob:
    return import_job_get_for_user(
        user=request.user, public_id=public_id, ip=client_ip(request), want=want
    )


def import_status_data(job: ImportJob) -> dict[str, Any]:
    """What the job page shows and polls: state, progress and counts (no PHI)."""
    return {
        "id": str(job.public_id),
        "state": job.state,
        "state_display": job.get_state_display(),
        "phase": job.phase,
        "percent": job.percent,
        "pending": job.is_pending,
        "counts": {
            "patients_created": job.patients_created,
            "patients_matched": job.patients_matched,
            "observations_imported": job.observations_imported,
            "observations_present": job.observations_present,
            "entries_imported": job.entries_imported,
            "entries_present": job.entries_present,
            "rejected": job.rejected,
            "rows_done": job.rows_done,
            "rows_total": job.rows_total,
        },
        "skipped": job.skipped or {},
        "failure_reason": job.failure_reason,
        "report_url": (
            reverse("interop:import_report", kwargs={"public_id": job.public_id})
            if job.report_available
            else ""
        ),
    }


def files_removed_words(job: ImportJob) -> str:
    """Why an ended import no longer offers its report ("" while it does)."""
    if not job.files_removed_at:
        return ""
    return (
        f"The uploaded file and the rejected-rows report were removed on "
        f"{date_format(timezone.localtime(job.files_removed_at), 'j F Y')}: an import's files "
        f"are kept {settings.INTEROP_IMPORT_KEEP_DAYS} days after it ends. Its counts remain."
    )


@login_required
@require_GET
def import_detail(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    job = _job(request, public_id)
    return render(
        request,
        "interop/import.html",
        {"job": job, "status": import_status_data(job), "files_removed": files_removed_words(job)},
    )


@login_required
@require_GET
def import_status(request: AuthedRequest, public_id: UUID) -> JsonResponse:
    """The job page's progress, polled every two seconds while the job is pending."""
    job = _job(request, public_id, want="status")
    response = JsonResponse(import_status_data(job))
    response["Cache-Control"] = "private, no-store"
    return response


def report_response(job: ImportJob) -> HttpResponseBase:
    """The rejected-rows report as a CSV attachment (authenticated end to end before any byte is
    sent); a 404 before the job is done, a 410 once its files were removed, a plain-text 409
    when the stored report is damaged."""
    if job.files_removed_at:
        return HttpResponse(
            files_removed_words(job), status=410, content_type="text/plain; charset=utf-8"
        )
    if not job.report_name:
        return HttpResponse(
            "The report is written when the import is done.",
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    try:
        size = files.plain_verify(job.report_name)
    except FileNotFoundError:
        return HttpResponse(
            "The report is missing from storage.", status=404, content_type="text/plain"
        )
    except files.StoredFileCorrupt:
        return HttpResponse(
            "The stored report failed its integrity check and is not served.",
            status=409,
            content_type="text/plain; charset=utf-8",
        )
    response = StreamingHttpResponse(
        files.plain_chunks(job.report_name), content_type="text/csv; charset=utf-8"
    )
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = f'attachment; filename="import-{job.public_id}-rejected.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def import_report(request: AuthedRequest, public_id: UUID) -> HttpResponseBase:
    job = _job(request, public_id, want="report")
    response = report_response(job)
    if response.status_code == 200:
        audit_request(
            request,
            action=AuditAction.EXPORT,
            obj=job,
            detail={"file": "rejected_rows", "rows": job.rejected},
        )
    return response


@login_required
@require_GET
def import_template(request: AuthedRequest) -> HttpResponse:
    """The CSV template: the header line the import accepts, exactly."""
    _guard(request)
    response = HttpResponse(
        "".join(csv_rows(template_rows())), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="healthmentor-import-template.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
