"""Django admin of interop: import jobs are read-only evidence for portal administrators, listed
without PHI (never the uploaded file's name, the file or its report: those are served, audited,
from the job's page to its uploader and administrators)."""

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from healthmentor.admin_mixins import ReadOnlyAdminMixin, json_pre
from interop.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "public_id",
        "format",
        "state",
        "created_at",
        "patients_created",
        "observations_imported",
        "rejected",
    )
    list_filter = ("state", "format")
    search_fields = ("public_id", "sha256")
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_select_related = ("created_by", "care_team")
    fields = (
        "public_id",
        "created_by",
        "care_team",
        "created_at",
        "format",
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
        "bytes_read",
        "rows_total",
        "rows_done",
        "patients_created",
        "patients_matched",
        "observations_imported",
        "observations_present",
        "entries_imported",
        "entries_present",
        "rejected",
        "skipped_json",
    )
    readonly_fields = fields

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(getattr(request.user, "is_portal_admin", False))

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

    @admin.display(description="Skipped (derived results)")
    def skipped_json(self, obj: ImportJob) -> str:
        return json_pre(obj.skipped)
