"""Django admin of the risk models: versions are registered by `train_risk_models` and only
activated here (one per disease); assessments are read-only evidence, listed without PHI (the
patient's public id only)."""

from collections import Counter
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from accounts.audit import audit_request
from accounts.models import AuditAction, User
from healthmentor.admin_mixins import PatientRefAdminMixin, ReadOnlyAdminMixin, json_pre
from healthmentor.artifacts import ArtifactIntegrityError
from prediction.models import ModelVersion, RiskAssessment
from prediction.services import model_version_activate


def _portal_admin(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_portal_admin", False))


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("disease", "version", "algorithm", "auroc", "is_active", "registered_at")
    list_filter = ("disease", "is_active", "is_synthetic")
    search_fields = ("version", "algorithm")
    ordering = ("disease", "-registered_at")
    actions = ("activate",)
    fields = (
        "public_id",
        "disease",
        "version",
        "algorithm",
        "auroc",
        "is_active",
        "activated_at",
        "activated_by",
        "is_synthetic",
        "artifact_dir",
        "sha256",
        "registered_at",
        "dataset",
        "metrics",
        "manifest_json",
    )
    readonly_fields = fields

    @admin.display(description="AUROC [95 % CI]")
    def auroc(self, obj: ModelVersion) -> str:
        metrics = (obj.manifest or {}).get("metrics", {})
        value, ci = metrics.get("auroc"), metrics.get("auroc_ci")
        if not isinstance(value, int | float):
            return "—"
        if isinstance(ci, list | tuple) and len(ci) == 2:
            return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
        return f"{value:.3f}"

    @admin.display(description="Dataset")
    def dataset(self, obj: ModelVersion) -> str:
        return json_pre((obj.manifest or {}).get("dataset", {}))

    @admin.display(description="Metrics (out of fold)")
    def metrics(self, obj: ModelVersion) -> str:
        return json_pre((obj.manifest or {}).get("metrics", {}))

    @admin.display(description="Manifest")
    def manifest_json(self, obj: ModelVersion) -> str:
        return json_pre(obj.manifest)

    @admin.action(description="Activate this version (one per disease)", permissions=["activate"])
    def activate(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        chosen = list(queryset.order_by("disease"))
        twice = sorted(d for d, n in Counter(v.disease for v in chosen).items() if n > 1)
        if twice:
            self.message_user(
                request,
                "Select one version per disease; more than one was selected for "
                f"{', '.join(twice)}. Nothing was activated.",
                messages.ERROR,
            )
            return
        user = request.user if isinstance(request.user, User) else None
        for version in chosen:
            try:
                model_version_activate(by=user, version=version)
            except (ArtifactIntegrityError, ValidationError, PermissionDenied) as exc:
                reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.message_user(request, f"{version}: not activated. {reason}", messages.ERROR)
                continue
            self.message_user(
                request, f"{version} is now the active {version.disease} model.", messages.SUCCESS
            )

    # Versions come from artifacts (`train_risk_models`), never typed in; they are kept because
    # assessments name them.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _portal_admin(request)

    def has_activate_permission(self, request: HttpRequest) -> bool:
        return _portal_admin(request)


@admin.register(RiskAssessment)
class RiskAssessmentAdmin(PatientRefAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "public_id",
        "patient_ref",
        "disease",
        "version",
        "probability_percent",
        "risk_band",
        "outcome",
        "created_at",
    )
    list_filter = ("model_version__disease", "risk_band", "outcome")
    search_fields = ("public_id",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = (
        "public_id",
        "patient_ref",
        "model_version",
        "probability",
        "risk_band",
        "inputs_json",
        "contributions_json",
        "created_at",
        "created_by",
        "outcome",
        "outcome_date",
        "outcome_recorded_at",
        "outcome_recorded_by",
    )
    readonly_fields = fields

    @admin.display(description="Disease", ordering="model_version__disease")
    def disease(self, obj: RiskAssessment) -> str:
        return obj.model_version.disease

    @admin.display(description="Version")
    def version(self, obj: RiskAssessment) -> str:
        return obj.model_version.version

    @admin.display(description="Probability", ordering="probability")
    def probability_percent(self, obj: RiskAssessment) -> str:
        return f"{100 * obj.probability:.1f} %"

    @admin.display(description="Inputs")
    def inputs_json(self, obj: RiskAssessment) -> str:
        return json_pre(obj.inputs)

    @admin.display(description="Contributions")
    def contributions_json(self, obj: RiskAssessment) -> str:
        return json_pre(obj.contributions)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST":
            raise PermissionDenied  # view-only, whatever the form says
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = self.get_object(request, object_id)
        if obj is not None and response.status_code == 200:
            # The inputs are a patient's clinical values: reading them is audited.
            audit_request(
                request,
                action=AuditAction.READ,
                obj=obj,
                detail={"patient": str(obj.patient_public_id), "view": "admin"},
            )
        return response

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _portal_admin(request)
