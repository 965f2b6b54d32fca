"""The recommendation pages (HTML): the record page's panel, one recommendation, the accept and
decline posts, what awaits the user's decision, the rule catalogue and the benefit model card.

Access follows the patient pages: a patient through `patient_get_for_user` and a recommendation
through `recommendation_get_for_user` (a 404, audited, for anyone outside the patient's care
teams). Researchers see none of it. Only clinicians and admins decide
(`selectors.user_may_decide`); the services check that again and raise PermissionDenied (403) or
ValidationError (shown next to its field, 400). The panel never evaluates rules: record changes
queue that in a worker, and until the first run the panel says so and polls.

Accept and decline are plain form posts that redirect back to the record; with htmx they answer
the card alone, swapped in place. htmx swaps no 4xx answer, so a refused decline answers an htmx
request with 200 and the card showing its errors (a plain post gets the 400 page).
"""

from collections.abc import Callable
from functools import wraps
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import audit_request, client_ip
from accounts.decorators import AuthedRequest
from accounts.models import AuditAction, Role
from patients.models import Patient
from patients.selectors import patient_get_for_user
from recommendations import selectors, services
from recommendations.forms import DeclineForm
from recommendations.models import Recommendation
from recommendations.views.benefit_card import benefit_card_context
from recommendations.views.wording import DECLINE_LABELS, URGENCY, card_context, decision_words

AWAITING_LIMIT = 200


# --- access ---------------------------------------------------------------------------------------


def _refuse_researchers(request: AuthedRequest) -> None:
    # Recommendations are about identified patients; researchers work on de-identified data.
    if request.user.role == Role.RESEARCHER and not request.user.is_portal_admin:
        raise PermissionDenied("Recommendations are shown to care teams only.")


def _get(request: AuthedRequest, public_id: UUID, want: str = "view") -> Recommendation:
    _refuse_researchers(request)
    return selectors.recommendation_get_for_user(
        user=request.user, public_id=public_id, ip=client_ip(request), want=want
    )


def _is_htmx(request: AuthedRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _read(request: AuthedRequest, patient: Patient, page: str, **detail: Any) -> None:
    audit_request(request, action=AuditAction.READ, obj=patient, detail={"page": page, **detail})


# --- the panel of the patient page --------------------------------------------------------------


def panel_context(request: AuthedRequest, patient: Patient) -> dict[str, Any]:
    run = selectors.evaluation_run_for(patient=patient)
    may_decide = selectors.user_may_decide(user=request.user)
    recs = list(selectors.recommendations_for_patient(patient=patient))
    return {
        "run": run,
        "cards": [card_context(rec, may_decide=may_decide) for rec in recs],
        "pending": sum(1 for rec in recs if rec.status == Recommendation.Status.PENDING),
        "may_decide": may_decide,
    }


def recommendations_panel(
    request: AuthedRequest, patient: Patient
) -> tuple[str, dict[str, Any]] | None:
    """The record page's recommendations panel (registered in RecommendationsConfig.ready): the
    patient's current recommendations, ranked, with accept and decline for those who decide."""
    if request.user.role == Role.RESEARCHER and not request.user.is_portal_admin:
        return None
    return "recommendations/_patient_panel.html", panel_context(request, patient)


def poll_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """login_required for a fragment htmx polls: once the session has ended the poll asks htmx
    to reload the page (which then shows the sign-in page) rather than swap the form in."""
    guarded = login_required(view)

    @wraps(view)
    def poll(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated and request.headers.get("HX-Request") == "true":
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        return guarded(request, *args, **kwargs)

    return poll


@poll_login_required
@require_GET
def patient_panel(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    """The panel alone: polled by htmx while the first evaluation is being worked out."""
    _refuse_researchers(request)
    patient = patient_get_for_user(user=request.user, public_id=public_id, ip=client_ip(request))
    context = panel_context(request, patient)
    if context["run"] is not None:
        _read(request, patient, "recommendations_panel", count=len(context["cards"]))
    return render(
        request,
        "recommendations/_patient_panel.html",
        {"patient": patient, "panel": context},
    )


# --- one recommendation, and the decisions -------------------------------------------------------


def _card_page(
    request: AuthedRequest,
    rec: Recommendation,
    *,
    form: DeclineForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    card = card_context(
        rec, may_decide=selectors.user_may_decide(user=request.user), form=form, error=error
    )
    if _is_htmx(request):
        # htmx swaps 2xx answers only: a refused decision still comes back as the card.
        return render(request, "recommendations/_card.html", {"card": card})
    _read(request, rec.patient, "recommendation", recommendation=str(rec.public_id))
    return render(
        request,
        "recommendations/detail.html",
        {"card": card, "patient": rec.patient},
        status=status,
    )


def _decided(request: AuthedRequest, rec: Recommendation) -> HttpResponse:
    if _is_htmx(request):
        return _card_page(request, rec)
    messages.success(request, f"{decision_words(rec)}: {rec.title}.")
    url = reverse("patients:detail", kwargs={"public_id": rec.patient.public_id})
    return redirect(f"{url}#rec-{rec.public_id}")


def _messages_of(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


@login_required
@require_GET
def recommendation_detail(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    return _card_page(request, _get(request, public_id))


@login_required
@require_POST
def recommendation_accept(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    rec = _get(request, public_id, want="accept")
    try:
        rec = services.recommendation_accept(
            by=request.user, recommendation=rec, ip=client_ip(request)
        )
    except ValidationError as exc:
        return _card_page(request, rec, error=_messages_of(exc), status=400)
    return _decided(request, rec)


@login_required
@require_POST
def recommendation_decline(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    rec = _get(request, public_id, want="decline")
    if not selectors.user_may_decide(user=request.user):
        # Before the form: a nurse learns that the role cannot decide, not that a field is empty.
        raise PermissionDenied("Your role does not allow deciding on recommendations.")
    form = DeclineForm(request.POST, recommendation_id=rec.public_id)
    if form.is_valid():
        try:
            rec = services.recommendation_decline(
                by=request.user,
                recommendation=rec,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
                ip=client_ip(request),
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.error_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc)
        else:
            return _decided(request, rec)
    return _card_page(request, rec, form=form, status=400)


# --- across patients ------------------------------------------------------------------------------


@login_required
@require_GET
def awaiting(request: AuthedRequest) -> HttpResponse:
    """The current recommendations of the user's patients that nobody has decided on yet."""
    _refuse_researchers(request)
    recs = list(selectors.recommendations_awaiting(user=request.user)[: AWAITING_LIMIT + 1])
    capped = len(recs) > AWAITING_LIMIT
    recs = recs[:AWAITING_LIMIT]
    rows = []
    for rec in recs:
        level, urgency = URGENCY.get(rec.urgency, ("routine", "Routine"))
        rows.append({"rec": rec, "patient": rec.patient, "level": level, "urgency": urgency})
    audit_request(
        request,
        action=AuditAction.READ,
        object_type="patients.patient",
        detail={"page": "recommendations_awaiting", "count": len(rows)},
    )
    return render(
        request,
        "recommendations/awaiting.html",
        {
            "rows": rows,
            "capped": capped,
            "limit": AWAITING_LIMIT,
            "may_decide": selectors.user_may_decide(user=request.user),
        },
    )


@login_required
@require_GET
def rule_list(request: AuthedRequest) -> HttpResponse:
    """The rule catalogue with each rule's acceptance rate (no PHI; clinicians and admins)."""
    if not selectors.user_may_decide(user=request.user):
        raise PermissionDenied("The rule catalogue is shown to clinicians and administrators.")
    rates = {row["rule_id"]: row for row in selectors.acceptance_rates()}
    rules = []
    for rule in selectors.rule_catalogue():
        rate = rates.get(rule["id"]) or {}
        reasons = sorted((rate.get("reasons") or {}).items(), key=lambda kv: -kv[1])
        rules.append(
            {
                **rule,
                "category_label": str(rule["category"]).replace("_", " ").capitalize(),
                "decided": rate.get("decided", 0),
                "accepted": rate.get("accepted", 0),
                "declined": rate.get("declined", 0),
                "rate": None if rate.get("rate") is None else round(100 * rate["rate"]),
                "reasons": [
                    {"label": DECLINE_LABELS.get(code, code), "count": n} for code, n in reasons
                ],
            }
        )
    rules.sort(key=lambda r: (r["category"], r["title"]))
    return render(request, "recommendations/rules.html", {"rules": rules})


@login_required
@require_GET
def benefit_model(request: AuthedRequest) -> HttpResponse:
    """The active treatment-benefit model's card: its trial cohort, validation and limits."""
    return render(request, "recommendations/benefit_model.html", benefit_card_context())
