"""Django admin of the patient record.

Lists never show decrypted PHI (a changelist is a bulk disclosure that nobody asked for): patients
appear by public id, record entries by their patient's public id. A patient's PHI is shown only
on its change page, and each view of it is audited. Writes go through patients.services, so blind
indexes, care-team grants and the audit trail stay right whichever way a record was changed.
"""

import uuid
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Model, QuerySet
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from accounts.audit import audit_request
from accounts.models import AuditAction, Role, User
from patients import services
from patients.catalog import OBSERVATION_TYPES, ObservationValueError, observation_normalize
from patients.models import (
    Allergy,
    CareTeam,
    Condition,
    FamilyHistory,
    GeneticMarker,
    LifestyleAssessment,
    Medication,
    Observation,
    Patient,
    RecordEntry,
)
from patients.selectors import patients_matching


def _errors_onto(form: BaseForm, exc: ValidationError) -> None:
    """A service's ValidationError onto a form, by field where the form has that field."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _adopt(obj: Model, created: Model) -> None:
    """Make the admin's unsaved `obj` stand for the row a service created (admin goes on to use
    obj: its pk for many-to-many fields, the change message, the redirect)."""
    for field in type(created)._meta.concrete_fields:
        setattr(obj, field.attname, getattr(created, field.attname))
    obj._state.adding = False
    obj._state.db = created._state.db


# --- patients ---------------------------------------------------------------------------------


class PatientAdminForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = (*services.PATIENT_EDITABLE_FIELDS, "care_teams", "is_synthetic")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        # The rules patient_create/patient_update apply (MRN not taken, plausible date of birth),
        # as field errors here rather than a failure at save time.
        candidate = Patient(
            pk=self.instance.pk,
            **{name: data.get(name, "") for name in services.PATIENT_EDITABLE_FIELDS},
        )
        candidate._state.adding = self.instance._state.adding
        try:
            services.patient_check(patient=candidate)
        except ValidationError as exc:
            _errors_onto(self, exc)
        return data


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    form = PatientAdminForm
    list_display = ("public_id", "synthetic", "team_names", "created_at", "updated_at")
    list_filter = ("is_synthetic", "care_teams", "created_at")
    # Only there to show the search box: get_search_results matches through blind indexes.
    search_fields = ("public_id",)
    search_help_text = "Exact MRN, full name or family name (case-insensitive), or a public id."
    filter_horizontal = ("care_teams",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Patient]:
        return super().get_queryset(request).prefetch_related("care_teams")

    @admin.display(description="Synthetic demo", boolean=True, ordering="is_synthetic")
    def synthetic(self, obj: Patient) -> bool:
        return obj.is_synthetic

    @admin.display(description="Care teams")
    def team_names(self, obj: Patient) -> str:
        return ", ".join(team.name for team in obj.care_teams.all()) or "—"

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets: list[Any] = [
            ("Identity", {"fields": ("mrn", "given_name", "family_name", "date_of_birth", "sex")}),
            ("Contact", {"fields": ("phone", "email", "address")}),
            ("Care", {"fields": ("care_teams", "is_synthetic")}),
        ]
        if obj is not None:
            fieldsets.append(
                ("Record", {"fields": ("public_id", "created_at", "created_by", "updated_at")})
            )
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        # The synthetic flag is set when demo data are generated; it is not a correction to make.
        return ("public_id", "is_synthetic", "created_at", "created_by", "updated_at")

    # Seeing a patient is never a model permission (see patients.selectors): in admin, only
    # portal admins see or edit patients. Nobody deletes one here: guardian's grants on the row
    # would outlive it, and records are retained.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_portal_admin", False))

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Patient], search_term: str
    ) -> tuple[QuerySet[Patient], bool]:
        """Encrypted columns cannot be searched; their blind indexes match exact values."""
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(public_id=uuid.UUID(term)), False
        except ValueError:
            pass
        return patients_matching(queryset, term), False

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200:
            # The change page shows the patient's PHI.
            patient = self.get_object(request, unquote(object_id))
            if patient is not None:
                audit_request(
                    request, action=AuditAction.READ, obj=patient, detail={"page": "admin"}
                )
        return response

    def save_model(self, request: HttpRequest, obj: Patient, form: Any, change: bool) -> None:
        user = request.user if isinstance(request.user, User) else None
        data = form.cleaned_data
        if change:
            stored = Patient.objects.get(pk=obj.pk)
            changed = {
                name: data[name]
                for name in services.PATIENT_EDITABLE_FIELDS
                if name in form.changed_data
            }
            services.patient_update(by=user, patient=stored, **changed)
            return
        created = services.patient_create(
            by=user,
            is_synthetic=bool(data.get("is_synthetic")),
            **{name: data[name] for name in services.PATIENT_EDITABLE_FIELDS},
        )
        _adopt(obj, created)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        patient = form.instance
        user = request.user if isinstance(request.user, User) else None
        wanted = set(form.cleaned_data.get("care_teams", ()))
        current = set(patient.care_teams.all())
        # Through the services, which grant or revoke the teams' object permissions and audit.
        for team in wanted - current:
            services.care_team_add_patient(team=team, patient=patient, by=user)
        for team in current - wanted:
            services.care_team_remove_patient(team=team, patient=patient, by=user)
        super().save_related(request, form, formsets, change)
        services.care_team_sync_permissions(patient=patient)


# --- care teams -------------------------------------------------------------------------------


class CareTeamAdminForm(forms.ModelForm):
    members = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=FilteredSelectMultiple("members", is_stacked=False),
        help_text="Members see and edit the record of every patient of the team.",
    )

    class Meta:
        model = CareTeam
        fields = ("name", "description")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.group.user_set.all() if self.instance.pk else User.objects.none()
        # Researchers see no identified patient, so a team is of no use to them; a current
        # member stays listed (even if deactivated) so that saving does not drop them silently.
        eligible = User.objects.filter(is_active=True).exclude(role=Role.RESEARCHER)
        field = self.fields["members"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = (eligible | current).distinct().order_by("full_name", "email")
        if self.instance.pk:
            self.initial["members"] = list(current.values_list("pk", flat=True))


@admin.register(CareTeam)
class CareTeamAdmin(admin.ModelAdmin):
    form = CareTeamAdminForm
    list_display = ("name", "member_count", "patient_count", "created_at")
    search_fields = ("name",)
    readonly_fields = ("public_id", "created_at")
    fields = ("name", "description", "members", "public_id", "created_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[CareTeam]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                members_n=Count("group__user", distinct=True),
                patients_n=Count("patients", distinct=True),
            )
        )

    @admin.display(description="Members", ordering="members_n")
    def member_count(self, obj: Any) -> int:
        return int(obj.members_n)

    @admin.display(description="Patients", ordering="patients_n")
    def patient_count(self, obj: Any) -> int:
        return int(obj.patients_n)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The team's Group holds its object permissions and would outlive the team, members
        # still in it: take members and patients off a team instead.
        return False

    def save_model(self, request: HttpRequest, obj: CareTeam, form: Any, change: bool) -> None:
        if change:
            obj.save()
            return
        created = services.care_team_create(
            name=form.cleaned_data["name"], description=form.cleaned_data.get("description", "")
        )
        _adopt(obj, created)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        team = form.instance
        wanted = set(form.cleaned_data.get("members", ()))
        current = set(team.group.user_set.all())
        for user in wanted - current:
            services.care_team_add_member(team=team, user=user)
        for user in current - wanted:
            services.care_team_remove_member(team=team, user=user)


# --- record entries ---------------------------------------------------------------------------


class RecordEntryAdmin(admin.ModelAdmin):
    """Entries are listed by their patient's public id (no PHI); adds and changes go through the
    service of the entry's kind, which validates, audits and stamps who recorded it."""

    raw_id_fields = ("patient",)
    list_filter: ClassVar[tuple[str, ...]] = ("source",)
    readonly_fields: ClassVar[tuple[str, ...]] = (
        "public_id",
        "recorded_at",
        "recorded_by",
        "source",
    )
    change_readonly: ClassVar[tuple[str, ...]] = ("patient",)
    date_hierarchy = "recorded_at"

    def add_entry(self, *, by: User | None, patient: Patient, **fields: Any) -> RecordEntry:
        raise NotImplementedError

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # The patient's public id without loading (and decrypting) the patient row.
        return super().get_queryset(request).annotate(patient_public_id=F("patient__public_id"))

    @admin.display(description="Patient")
    def patient_ref(self, obj: Any) -> str:
        return str(obj.patient_public_id)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.readonly_fields
        return (*self.readonly_fields, *self.change_readonly)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as exc:
            # A rule only the service checks (an onset date in the future, say). The admin view's
            # transaction has rolled back, so nothing was written.
            self.message_user(request, "Not saved: " + " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        user = request.user if isinstance(request.user, User) else None
        data = {k: v for k, v in form.cleaned_data.items() if k in form.changed_data or not change}
        if change:
            stored = type(obj).objects.get(pk=obj.pk)
            services.record_entry_update(by=user, entry=stored, **data)
            return
        patient = data.pop("patient")
        _adopt(obj, self.add_entry(by=user, patient=patient, **data))


@admin.register(Condition)
class ConditionAdmin(RecordEntryAdmin):
    list_display = ("code", "display", "status", "onset_date", "patient_ref", "recorded_at")
    list_filter = ("status", "system", "code", "source")
    search_fields = ("code", "display")

    def add_entry(self, **kwargs: Any) -> RecordEntry:
        return services.condition_add(**kwargs)


@admin.register(Medication)
class MedicationAdmin(RecordEntryAdmin):
    list_display = ("name", "dose", "dose_unit", "frequency", "route", "status", "patient_ref")
    list_filter = ("status", "route", "source")
    search_fields = ("name", "code")

    def add_entry(self, **kwargs: Any) -> RecordEntry:
        return services.medication_add(**kwargs)


@admin.register(Allergy)
class AllergyAdmin(RecordEntryAdmin):
    list_display = ("substance", "severity", "reaction", "noted_on", "patient_ref")
    list_filter = ("severity", "source")
    search_fields = ("substance", "code")

    def add_entry(self, **kwargs: Any) -> RecordEntry:
        return services.allergy_add(**kwargs)


class ObservationAdminForm(forms.ModelForm):
    code = forms.ChoiceField(
        choices=[(k.code, f"{k.display} ({k.code})") for k in OBSERVATION_TYPES.values()]
    )

    class Meta:
        model = Observation
        fields = ("patient", "code", "value", "unit", "effective_at")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        code = data.get("code") or getattr(self.instance, "code", "")
        if data.get("value") is not None and data.get("unit"):
            try:
                observation_normalize(str(code), data["value"], data["unit"])
            except ObservationValueError as exc:
                self.add_error(exc.field if exc.field in self.fields else None, str(exc))
        return data


@admin.register(Observation)
class ObservationAdmin(RecordEntryAdmin):
    form = ObservationAdminForm
    list_display = ("display", "code", "value", "unit", "effective_at", "patient_ref")
    list_filter = ("code", "source")
    search_fields = ("code", "display")
    readonly_fields = ("public_id", "display", "recorded_at", "recorded_by", "source")
    # Changing the code would leave `display` and the unit describing another measurement.
    change_readonly = ("patient", "code")

    def add_entry(self, **kwargs: Any) -> RecordEntry:
        return services.observation_record(**kwargs)


@admin.register(LifestyleAssessment)
class LifestyleAssessmentAdmin(RecordEntryAdmin):
    list_display = (
        "assessed_on",
        "smoking",
        "alcohol_units_per_week",
        "activity_minutes_per_week",
        "diet",
        "patient_ref",
    )
    list_filter = ("smoking", "diet", "source")

    def add_entry(self, **kwargs: Any) -> RecordEntry:
        return services.lifestyle_record(**kwargs)


@admin.register(FamilyHistory)
class FamilyHistoryAdmin(RecordEntryAdmin):
    list_display = ("relation", "condition_display", "condition_code", "onset_age", "patient_ref")
    list_filter = ("relation", "condition_code", "source")
    search_fields = ("condition_code", "condition_display")

    def add_entry(self, **kwargs: Any) -> RecordEntry:
        return services.family_history_add(**kwargs)


@admin.register(GeneticMarker)
class GeneticMarkerAdmin(RecordEntryAdmin):
    list_display = ("gene", "variant", "zygosity", "interpretation", "tested_on", "patient_ref")
    list_filter = ("interpretation", "zygosity", "gene", "source")
    search_fields = ("gene", "variant")

    def add_entry(self, **kwargs: Any) -> RecordEntry:
        return services.genetic_marker_add(**kwargs)
