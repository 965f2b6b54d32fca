"""Admin: recommendations and feedback are read-only records (decisions are made in the portal or
through CDS Hooks, and audited there); benefit-model versions are activated from here; CDS Hooks
clients are registered here."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from healthmentor.admin_mixins import PatientRefAdminMixin, ReadOnlyAdminMixin, json_pre
from recommendations.models import BenefitModelVersion, CdsClient, Feedback, Recommendation


@admin.register(Recommendation)
class RecommendationAdmin(PatientRefAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "public_id",
        "patient_ref",
        "rule_id",
        "urgency",
        "status",
        "is_current",
        "evaluated_at",
    )
    list_filter = ("status", "is_current", "category", "urgency")
    search_fields = ("public_id", "rule_id")
    exclude = ("reasons", "suppressed", "details", "benefit", "source", "suggestions")
    readonly_fields = ("reasons_pretty", "suppressed_pretty", "benefit_pretty")

    @admin.display(description="Reasons")
    def reasons_pretty(self, obj: Recommendation) -> str:
        return json_pre(obj.reasons)

    @admin.display(description="Suppressed options")
    def suppressed_pretty(self, obj: Recommendation) -> str:
        return json_pre(obj.suppressed)

    @admin.display(description="Benefit estimate")
    def benefit_pretty(self, obj: Recommendation) -> str:
        return json_pre(obj.benefit)


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("public_id", "rule_id", "outcome", "reason_code", "user", "client", "at")
    list_filter = ("outcome", "rule_id")
    search_fields = ("public_id", "rule_id")


@admin.register(BenefitModelVersion)
class BenefitModelVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "version", "is_active", "registered_at", "activated_at")
    exclude = ("manifest",)
    readonly_fields = ("manifest_pretty",)
    actions = ["activate"]

    @admin.display(description="Manifest")
    def manifest_pretty(self, obj: BenefitModelVersion) -> str:
        return json_pre(obj.manifest)

    @admin.action(description="Activate the selected version")
    def activate(self, request: HttpRequest, queryset: QuerySet[BenefitModelVersion]) -> None:
        from recommendations.benefit import benefit_model_activate

        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        version = benefit_model_activate(version=queryset.get())
        self.message_user(request, f"{version} is now active.", messages.SUCCESS)


@admin.register(CdsClient)
class CdsClientAdmin(admin.ModelAdmin):
    list_display = ("name", "issuer", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "issuer")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("public_id", "created_at")
