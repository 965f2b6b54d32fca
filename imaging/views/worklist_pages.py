"""The imaging worklist: the studies a user may see, most urgent first (the AI's probability of an
abnormal finding), then the longest waiting. The table body is a fragment that htmx re-fetches
every five seconds with the same filters, so new results re-sort without a reload.

The filters (modality, state, reported) are not PHI and travel in the query string. The page view
is audited (a READ of the patients listed, by count); the polls that refresh it are not, or an
open worklist would write an audit event every five seconds.
"""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.audit import audit_request
from accounts.decorators import AuthedRequest
from accounts.models import AuditAction
from imaging.forms import WorklistFilterForm
from imaging.selectors import user_may_report, worklist_modalities
from imaging.selectors import worklist as worklist_select
from imaging.views.study_pages import poll_login_required
from imaging.views.wording import (
    finding,
    percent,
    report_state,
    study_heading,
    urgency_level,
    waited,
    warning_of,
)

WORKLIST_LIMIT = 200


def _rows(request: AuthedRequest) -> dict[str, Any]:
    form = WorklistFilterForm(request.GET, modalities=worklist_modalities(user=request.user))
    filters = form.filters()
    studies = worklist_select(user=request.user, **filters)
    shown = list(studies[: WORKLIST_LIMIT + 1])
    capped = len(shown) > WORKLIST_LIMIT
    shown = shown[:WORKLIST_LIMIT]
    now = timezone.now()
    rows = []
    for study in shown:
        report_key, report_words = report_state(study)
        rows.append(
            {
                "study": study,
                "patient": study.patient,
                "title": study_heading(study),
                "urgency": percent(study.abnormal_probability),
                "level": urgency_level(study.abnormal_probability),
                "finding": finding(study),
                "waited": waited(study, now) if report_key != "signed" else "",
                "report_key": report_key,
                "report_words": report_words,
            }
        )
    warnings = sorted({w for w in (warning_of(s.model_version) for s in shown) if w})
    return {
        "form": form,
        "filters": filters,
        "filtered": any(filters.values()),
        "rows": rows,
        "capped": capped,
        "total": studies.count() if capped else len(rows),
        "limit": WORKLIST_LIMIT,
        "warnings": warnings,
        "refreshed_at": now,
    }


@login_required
@require_GET
def worklist(request: AuthedRequest) -> HttpResponse:
    context = _rows(request)
    audit_request(
        request,
        action=AuditAction.READ,
        object_type="imaging.study",
        detail={"page": "worklist", "count": len(context["rows"]), **context["filters"]},
    )
    context["is_radiologist"] = user_may_report(user=request.user)
    return render(request, "imaging/worklist.html", context)


@poll_login_required
@require_GET
def worklist_rows(request: AuthedRequest) -> HttpResponse:
    """The table body alone, for the htmx poll (and audited when fetched other than by it)."""
    context = _rows(request)
    if request.headers.get("HX-Request") != "true":
        audit_request(
            request,
            action=AuditAction.READ,
            object_type="imaging.study",
            detail={"page": "worklist_rows", "count": len(context["rows"]), **context["filters"]},
        )
    return render(request, "imaging/_worklist_rows.html", context)
