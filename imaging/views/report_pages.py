"""The report of a study: a radiologist saves edits of the AI draft and signs it; anyone on the
care team reads it, and a signed report is exported as a FHIR R4 DiagnosticReport.

Writes go through imaging.services (report_update, report_sign): their PermissionDenied is a 403
and their ValidationError (an empty text, a report already signed) comes back as form errors on
the viewer, with nothing changed.
"""

import json
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import audit_request, client_ip
from accounts.decorators import AuthedRequest
from accounts.models import AuditAction
from imaging.forms import ReportForm
from imaging.models import Study, StudyReport
from imaging.reports import report_fhir
from imaging.selectors import user_may_report
from imaging.services import report_sign, report_update
from imaging.views.study_pages import study_context, study_get

CONFIRM_MISSING = "Tick the box to confirm that you have reviewed the images and this report."


def _report(study: Study) -> StudyReport:
    report: StudyReport | None = getattr(study, "report", None)
    if report is None:
        raise Http404("This study has no report yet: it is written when the analysis is done.")
    return report


def _back(study: Study) -> HttpResponse:
    return redirect(reverse("imaging:study", kwargs={"public_id": study.public_id}) + "#report")


def _with_errors(request: AuthedRequest, study: Study, form: ReportForm) -> HttpResponse:
    study.refresh_from_db()
    audit_request(
        request,
        action=AuditAction.READ,
        obj=study,
        detail={"page": "study", "patient": str(study.patient.public_id)},
    )
    return render(
        request, "imaging/study.html", study_context(request, study, report_form=form), status=400
    )


def _add_service_errors(form: ReportForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _reporter_study(request: AuthedRequest, public_id: UUID) -> tuple[Study, StudyReport]:
    study = study_get(request, public_id, want="report")
    report = _report(study)
    if not user_may_report(user=request.user):
        raise PermissionDenied("Only radiologists edit and sign imaging reports.")
    return study, report


@login_required
@require_POST
def report_edit(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    """Save the radiologist's edit; the report stays unsigned (an AI draft, edited)."""
    study, report = _reporter_study(request, public_id)
    form = ReportForm(request.POST)
    if form.is_valid():
        try:
            report_update(
                report=report,
                by=request.user,
                text=form.cleaned_data["text"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, "Report saved. It is still a draft until you sign it.")
            return _back(study)
    return _with_errors(request, study, form)


@login_required
@require_POST
def report_sign_view(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    """Sign with the text as it stands in the form; the report becomes final."""
    study, report = _reporter_study(request, public_id)
    form = ReportForm(request.POST)
    if form.is_valid() and not form.cleaned_data["confirm"]:
        form.add_error("confirm", CONFIRM_MISSING)
    if form.is_valid():
        try:
            report_sign(
                report=report,
                by=request.user,
                text=form.cleaned_data["text"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, "Report signed. It is final and can be exported (FHIR).")
            return _back(study)
    return _with_errors(request, study, form)


@login_required
@require_GET
def report_fhir_view(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    """The signed report as a FHIR R4 DiagnosticReport (JSON attachment); 409 before signing."""
    study = study_get(request, public_id, want="report_fhir")
    report = _report(study)
    if report.status != StudyReport.Status.SIGNED:
        return JsonResponse(
            {"error": "The report is not signed yet; only a signed report is exported."},
            status=409,
        )
    resource = report_fhir(report, base_url=request.build_absolute_uri("/")[:-1])
    audit_request(
        request,
        action=AuditAction.EXPORT,
        obj=report,
        detail={"format": "fhir", "patient": str(study.patient.public_id)},
    )
    response = HttpResponse(
        json.dumps(resource, indent=2, ensure_ascii=False),
        content_type="application/fhir+json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="report-{study.public_id}.fhir.json"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
