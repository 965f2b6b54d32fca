"""Pages of the patient record: the list of my patients, the record, and the forms that add to it.

Every view needs a signed-in user, fetches the patient through `patient_get_for_user` (a 404,
audited, for anyone outside the patient's care teams) and records a READ audit event whenever
it shows PHI. Writes go through patients.services; a service's ValidationError becomes field
errors and its PermissionDenied a 403, and as services are atomic nothing is half-written.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.forms import BaseForm
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET, require_http_methods

from accounts.audit import audit_request, client_ip
from accounts.decorators import AuthedRequest
from accounts.models import AuditAction, Role
from patients import forms, services
from patients.catalog import COMMON_CONDITIONS
from patients.models import Patient
from patients.selectors import (
    care_teams_for_user,
    patient_get_for_user,
    patient_list_for_user,
    patient_record,
    record_permissions,
    user_may_add_patient,
)

PAGE_SIZE = 25
View = Callable[..., HttpResponse]

# Panels of the record page contributed by apps above patients (the risk panel of prediction...),
# which must not be imported from here: each app registers its panels in its AppConfig.ready().
# A panel gets the request and a patient the user may see and returns (template name, context),
# or None to show nothing. Registered by dotted path, resolved on first use: registering imports
# nothing, so a process that never renders the record (a worker, a command) never loads an app's
# views and what they pull in.
PatientPanel = Callable[[AuthedRequest, Patient], tuple[str, dict[str, Any]] | None]
PATIENT_PANELS: list[str] = []


def patient_panel_register(panel: str) -> None:
    """Add the panel at dotted path `panel` to the record page (registering twice changes
    nothing)."""
    if panel not in PATIENT_PANELS:
        PATIENT_PANELS.append(panel)


def _patient_panels(request: AuthedRequest, patient: Patient) -> list[dict[str, Any]]:
    panels: list[PatientPanel] = [import_string(path) for path in PATIENT_PANELS]
    shown = (panel(request, patient) for panel in panels)
    return [{"template": name, "context": ctx} for name, ctx in filter(None, shown)]


def _add_service_errors(form: BaseForm, exc: ValidationError) -> None:
    """A service's ValidationError onto the form: by field where the form has that field."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        # add_error raises ValueError for a field the form lacks; that message still belongs
        # on the page, at the top.
        form.add_error(field if field in form.fields else None, errors)


def _bound(request: AuthedRequest) -> Any:
    return request.POST if request.method == "POST" else None


def _status(form: BaseForm) -> int:
    return 400 if form.is_bound and form.errors else 200


def _read_patient(request: AuthedRequest, patient: Patient, page: str) -> None:
    audit_request(request, action=AuditAction.READ, obj=patient, detail={"page": page})


# --- list -------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def patient_list(request: AuthedRequest) -> HttpResponse:
    # Search is a POST. An MRN or a name in a query string would be copied into the access logs
    # of every server and proxy on the way, into browser history and into Referer headers; kept in
    # the session it would sit in the (unencrypted) session table. So the query only ever travels
    # in request bodies, and the pages of a search result re-post it (patients/_pagination.html).
    # Browsing without a query pages with ?page=k, which reveals nothing.
    form = forms.PatientSearchForm(_bound(request))
    query = ""
    page_number: Any = request.GET.get("page")
    if form.is_bound:
        if not form.is_valid():
            return render(
                request,
                "patients/list.html",
                {"form": form, "page": None, "query": ""},
                status=400,
            )
        query = form.cleaned_data["q"]
        if not query:
            return redirect("patients:list")
        page_number = form.cleaned_data["page"] or 1
    page = Paginator(patient_list_for_user(user=request.user, query=query), PAGE_SIZE).get_page(
        page_number
    )
    shown = len(page.object_list)
    has_team = care_teams_for_user(user=request.user).exists()
    audit_request(
        request,
        action=AuditAction.READ,
        object_type="patients.patient",
        detail={"count": shown, "page": page.number, "search": bool(query)},
    )
    return render(
        request,
        "patients/list.html",
        {
            "form": form if form.is_bound else forms.PatientSearchForm(),
            "page": page,
            "query": query,
            "is_researcher": request.user.role == Role.RESEARCHER,
            # A patient must be placed in one of the creator's teams: no team, no button.
            "may_add_patient": user_may_add_patient(user=request.user)
            and (has_team or request.user.is_portal_admin),
            "has_team": has_team,
        },
    )


# --- one patient ------------------------------------------------------------------------------


@login_required
@require_GET
def patient_detail(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    patient = patient_get_for_user(user=request.user, public_id=public_id, ip=client_ip(request))
    record = patient_record(patient=patient)
    _read_patient(request, patient, "detail")
    return render(
        request,
        "patients/detail.html",
        {
            "patient": patient,
            "record": record,
            "perms_on_record": record_permissions(user=request.user, patient=patient),
            "panels": _patient_panels(request, patient),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def patient_create(request: AuthedRequest) -> HttpResponse:
    if not user_may_add_patient(user=request.user):
        raise PermissionDenied
    teams = care_teams_for_user(user=request.user)
    form = forms.PatientForm(_bound(request), care_teams=teams)
    if request.user.is_portal_admin:
        # Admins see every patient anyway; a patient may wait for a team to be chosen later.
        form.fields["care_teams"].required = False
    if form.is_bound and form.is_valid():
        try:
            patient = services.patient_create(by=request.user, **form.service_kwargs())
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, "Patient added.")
            return redirect("patients:detail", public_id=patient.public_id)
    return render(
        request,
        "patients/patient_form.html",
        {"form": form, "patient": None, "has_team": teams.exists()},
        status=_status(form),
    )


@login_required
@require_http_methods(["GET", "POST"])
def patient_edit(request: AuthedRequest, public_id: UUID) -> HttpResponse:
    patient = patient_get_for_user(
        user=request.user, public_id=public_id, for_change=True, ip=client_ip(request)
    )
    initial = {name: getattr(patient, name) for name in services.PATIENT_EDITABLE_FIELDS}
    form = forms.PatientForm(_bound(request), initial=initial)
    if form.is_bound and form.is_valid():
        try:
            services.patient_update(by=request.user, patient=patient, **form.service_kwargs())
        except ValidationError as exc:
            _add_service_errors(form, exc)
            # The service set the refused values on this instance; the page heading must not
            # show them as if saved.
            patient.refresh_from_db()
        else:
            messages.success(request, "Patient details saved.")
            return redirect("patients:detail", public_id=patient.public_id)
    _read_patient(request, patient, "edit")
    return render(
        request,
        "patients/patient_form.html",
        {"form": form, "patient": patient},
        status=_status(form),
    )


# --- record entries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryKind:
    form: type[forms.ServiceForm]
    service: Callable[..., Any]
    title: str
    saved: str
    anchor: str


ENTRY_KINDS: dict[str, EntryKind] = {
    "observation": EntryKind(
        forms.ObservationForm,
        services.observation_record,
        "Record a vital sign or lab result",
        "Result recorded.",
        "vitals",
    ),
    "condition": EntryKind(
        forms.ConditionForm,
        services.condition_add,
        "Add a condition",
        "Condition added.",
        "conditions",
    ),
    "medication": EntryKind(
        forms.MedicationForm,
        services.medication_add,
        "Add a medication",
        "Medication added.",
        "medications",
    ),
    "allergy": EntryKind(
        forms.AllergyForm, services.allergy_add, "Add an allergy", "Allergy added.", "allergies"
    ),
    "lifestyle": EntryKind(
        forms.LifestyleForm,
        services.lifestyle_record,
        "Record a lifestyle assessment",
        "Lifestyle assessment recorded.",
        "lifestyle",
    ),
    "family_history": EntryKind(
        forms.FamilyHistoryForm,
        services.family_history_add,
        "Add family history",
        "Family history added.",
        "family",
    ),
    "genetic_marker": EntryKind(
        forms.GeneticMarkerForm,
        services.genetic_marker_add,
        "Add a genetic marker",
        "Genetic marker added.",
        "genetics",
    ),
}


@login_required
@require_http_methods(["GET", "POST"])
def entry_add(request: AuthedRequest, public_id: UUID, kind: str) -> HttpResponse:
    """One view for every kind of entry; `kind` comes from the URL pattern, never the user."""
    spec = ENTRY_KINDS[kind]
    patient = patient_get_for_user(
        user=request.user, public_id=public_id, for_change=True, ip=client_ip(request)
    )
    if not record_permissions(user=request.user, patient=patient).can_add[kind]:
        raise PermissionDenied
    form = spec.form(_bound(request))
    if form.is_bound and form.is_valid():
        try:
            spec.service(by=request.user, patient=patient, **form.service_kwargs())
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, spec.saved)
            detail = reverse("patients:detail", kwargs={"public_id": patient.public_id})
            return redirect(f"{detail}#{spec.anchor}")
    _read_patient(request, patient, kind)
    return render(
        request,
        "patients/entry_form.html",
        {
            "form": form,
            "patient": patient,
            "kind": kind,
            "spec": spec,
            "common_conditions": COMMON_CONDITIONS,
        },
        status=_status(form),
    )
