"""Django admin of imaging: model versions are registered by `train_imaging_models` and only
activated here (one at a time); studies and reports are read-only evidence, listed without PHI
(no patient name, no uploaded file name, no DICOM header, no report text)."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse

from accounts.models import User
from healthmentor.admin_mixins import PatientRefAdminMixin, ReadOnlyAdminMixin, json_pre
from imaging.models import ImagingModelVersion, Study, StudyReport
from imaging.services import imaging_model_activate


def _portal_admin(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_portal_admin", False))


class _ViewOnly(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Shown to portal administrators only; a POST to a change page is refused whatever it says."""

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied
        return super().change_view(request, object_id, form_url, extra_context)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _portal_admin(request)


@admin.register(ImagingModelVersion)
class ImagingModelVersionAdmin(_ViewOnly):
    list_display = ("name", "version", "is_active", "is_synthetic", "registered_at", "sha_short")
    list_filter = ("is_active", "is_synthetic")
    search_fields = ("name", "version")
    ordering = ("-registered_at",)
    actions = ("activate",)
    fields = (
        "public_id",
        "name",
        "version",
        "is_active",
        "activated_at",
        "activated_by",
        "is_synthetic",
        "artifact_dir",
        "sha256",
        "registered_at",
        "files_json",
        "metrics",
        "manifest_json",
    )
    readonly_fields = fields

    @admin.display(description="SHA-256")
    def sha_short(self, obj: ImagingModelVersion) -> str:
        return f"{obj.sha256[:12]}…"

    @admin.display(description="Files and digests")
    def files_json(self, obj: ImagingModelVersion) -> str:
        return json_pre(obj.files)

    @admin.display(description="Test metrics")
    def metrics(self, obj: ImagingModelVersion) -> str:
        return json_pre((obj.manifest or {}).get("metrics", {}))

    @admin.display(description="Manifest")
    def manifest_json(self, obj: ImagingModelVersion) -> str:
        return json_pre(obj.manifest)

    @admin.action(
        description="Activate this version (new studies use it)", permissions=["activate"]
    )
    def activate(self, request: HttpRequest, queryset: QuerySet[ImagingModelVersion]) -> None:
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(
                request, "Select exactly one version to activate. Nothing changed.", messages.ERROR
            )
            return
        version = chosen[0]
        user = request.user if isinstance(request.user, User) else None
        imaging_model_activate(version=version, by=user)
        self.message_user(request, f"{version} is now the active imaging model.", messages.SUCCESS)

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return _portal_admin(request)


@admin.register(Study)
class StudyAdmin(PatientRefAdminMixin, _ViewOnly):
    list_display = (
        "public_id",
        "modality",
        "state",
        "uploaded_at",
        "abnormal_probability",
        "model_version",
    )
    list_filter = ("state", "modality", "kind")
    search_fields = ("public_id",)
    date_hierarchy = "uploaded_at"
    show_full_result_count = False
    # Never original_name or dicom_phi (they may name the patient), nor the patient row itself.
    fields = (
        "public_id",
        "patient_ref",
        "uploaded_at",
        "kind",
        "modality",
        "body_part",
        "rows",
        "columns",
        "frames",
        "size_bytes",
        "sha256",
        "state",
        "attempts",
        "enqueued_at",
        "claimed_at",
        "lease_expires_at",
        "finished_at",
        "failure_code",
        "failure_reason",
        "model_version",
        "predicted_class",
        "abnormal_probability",
        "probabilities_json",
        "timings_json",
    )
    readonly_fields = fields

    @admin.display(description="Probabilities")
    def probabilities_json(self, obj: Study) -> str:
        return json_pre(obj.probabilities)

    @admin.display(description="Timings (ms)")
    def timings_json(self, obj: Study) -> str:
        return json_pre(obj.timings)


@admin.register(StudyReport)
class StudyReportAdmin(_ViewOnly):
    list_display = ("public_id", "study_ref", "status", "drafted_at", "signed_at")
    list_filter = ("status",)
    search_fields = ("public_id",)
    show_full_result_count = False
    # The text stays out: it is read on the study page, by the patient's care team.
    fields = (
        "public_id",
        "study_ref",
        "status",
        "drafted_at",
        "edited_at",
        "edited_by",
        "signed_at",
        "signed_by",
        "signed_sha256",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[StudyReport]:
        return super().get_queryset(request).annotate(study_public_id=F("study__public_id"))

    @admin.display(description="Study")
    def study_ref(self, obj: Any) -> str:
        return str(obj.study_public_id)
