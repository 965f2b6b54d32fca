"""Output serializers of the imaging API: studies (a list row and the full detail), their reports
and the imaging model cards. Read-only renderings; inputs are validated in imaging.apis and every
write is a service of imaging.services.

Studies, reports and people are named by their public UUIDs. The uploaded file's own name and
the DICOM header's identifiers stay out of every rendering but the detail's `study_date`.
URLs are absolute when the serializer has the request in its context.
"""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from imaging.models import ImagingModelVersion, Study, StudyReport
from imaging.selectors import queue_estimate


def _url(serializer: serializers.Serializer, name: str, **kwargs: Any) -> str:
    path = reverse(name, kwargs=kwargs)
    request = serializer.context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


def study_report_or_none(study: Study) -> StudyReport | None:
    try:
        return study.report
    except StudyReport.DoesNotExist:
        return None


class FailureSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    reason = serializers.CharField(read_only=True)


class QueueSerializer(serializers.Serializer):
    position = serializers.IntegerField(
        read_only=True, help_text="Studies queued ahead of this one (0: next, or running now)."
    )
    eta_seconds = serializers.FloatField(
        read_only=True, help_text="Estimated seconds until the result, from recent studies."
    )


class StudyModelSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    version = serializers.CharField(read_only=True)
    is_synthetic = serializers.BooleanField(read_only=True)
    warning = serializers.SerializerMethodField(
        help_text="The model card's warning (for example: trained on synthetic images)."
    )

    def get_warning(self, version: ImagingModelVersion) -> str:
        return str((version.manifest or {}).get("card_warning", ""))


class StudyResultSerializer(serializers.Serializer):
    probabilities = serializers.DictField(
        child=serializers.FloatField(), read_only=True, help_text="{class: probability}"
    )
    predicted_class = serializers.CharField(read_only=True)
    abnormal_probability = serializers.FloatField(
        read_only=True, help_text="1 - P(normal): the worklist's urgency."
    )
    key_frame = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="0-based frame the heatmap and mask show."
    )
    lesion_area_px = serializers.IntegerField(read_only=True, allow_null=True)
    lesion_area_mm2 = serializers.FloatField(read_only=True, allow_null=True)
    model = StudyModelSerializer(source="model_version", read_only=True, allow_null=True)


class StudyLinksSerializer(serializers.Serializer):
    image = serializers.CharField(read_only=True, allow_null=True)
    heatmap = serializers.CharField(read_only=True, allow_null=True)
    mask = serializers.CharField(read_only=True, allow_null=True)
    viewer = serializers.CharField(read_only=True, help_text="The study as a web page.")
    report = serializers.CharField(read_only=True, allow_null=True)


class StudyReportBriefSerializer(serializers.Serializer):
    # Not a ChoiceField: "status" names other choice sets too (conditions, medications), and
    # drf-spectacular names an enum shared by two components only with a settings override.
    status = serializers.CharField(read_only=True, help_text="draft or signed.")
    signed_at = serializers.DateTimeField(read_only=True, allow_null=True)


class StudySerializer(serializers.Serializer):
    """A list row: what a worklist needs, no PHI beyond the patient's id."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    state = serializers.ChoiceField(choices=Study.State.choices, read_only=True)
    kind = serializers.ChoiceField(choices=Study.Kind.choices, read_only=True)
    modality = serializers.CharField(read_only=True)
    body_part = serializers.CharField(read_only=True)
    uploaded_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    predicted_class = serializers.CharField(read_only=True)
    abnormal_probability = serializers.FloatField(read_only=True, allow_null=True)
    report = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField(help_text="This study in the API.")

    @extend_schema_field(StudyReportBriefSerializer(allow_null=True))
    def get_report(self, study: Study) -> dict[str, Any] | None:
        report = study_report_or_none(study)
        return StudyReportBriefSerializer(report).data if report is not None else None

    def get_url(self, study: Study) -> str:
        return _url(self, "api-imaging-study", public_id=study.public_id)


class StudyDetailSerializer(StudySerializer):
    """One study: its metadata, where it stands in the queue, and its result once DONE."""

    study_date = serializers.CharField(
        read_only=True, help_text="From the DICOM header (ISO date), or blank."
    )
    rows = serializers.IntegerField(read_only=True)
    columns = serializers.IntegerField(read_only=True)
    frames = serializers.IntegerField(read_only=True)
    pixel_spacing_mm = serializers.ListField(
        child=serializers.FloatField(),
        read_only=True,
        allow_null=True,
        help_text="[row, column] in mm; null when the file does not say.",
    )
    size_bytes = serializers.IntegerField(read_only=True)
    failure = serializers.SerializerMethodField()
    queue = serializers.SerializerMethodField(help_text="While queued or running; else null.")
    timings = serializers.DictField(
        child=serializers.FloatField(), read_only=True, help_text="Milliseconds per stage."
    )
    result = serializers.SerializerMethodField(help_text="Once the state is done; else null.")
    links = serializers.SerializerMethodField()

    @extend_schema_field(FailureSerializer(allow_null=True))
    def get_failure(self, study: Study) -> dict[str, str] | None:
        if study.state != Study.State.FAILED:
            return None
        return {"code": study.failure_code, "reason": study.failure_reason}

    @extend_schema_field(QueueSerializer(allow_null=True))
    def get_queue(self, study: Study) -> dict[str, Any] | None:
        estimate = queue_estimate(study=study)
        if estimate is None:
            return None
        return {"position": estimate.position, "eta_seconds": round(estimate.eta_seconds, 1)}

    @extend_schema_field(StudyResultSerializer(allow_null=True))
    def get_result(self, study: Study) -> dict[str, Any] | None:
        if study.state != Study.State.DONE:
            return None
        return StudyResultSerializer(study).data

    @extend_schema_field(StudyLinksSerializer)
    def get_links(self, study: Study) -> dict[str, Any]:
        def file(which: str, present: str) -> str | None:
            if not present:
                return None
            return _url(self, "api-imaging-study-file", public_id=study.public_id, which=which)

        has_report = study_report_or_none(study) is not None
        return {
            "image": file("image", study.preview_name),
            "heatmap": file("heatmap", study.heatmap_name),
            "mask": file("mask", study.mask_name),
            "viewer": _url(self, "imaging:study", public_id=study.public_id),
            "report": _url(self, "api-imaging-report", public_id=study.public_id)
            if has_report
            else None,
        }


class StudySubmittedSerializer(serializers.Serializer):
    """The 202 of a submit: where to poll, and the page that updates by itself."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    state = serializers.ChoiceField(choices=Study.State.choices, read_only=True)
    status_url = serializers.SerializerMethodField(help_text="Poll this (the study in the API).")
    viewer_url = serializers.SerializerMethodField(help_text="The study as a web page.")

    def get_status_url(self, study: Study) -> str:
        return _url(self, "api-imaging-study", public_id=study.public_id)

    def get_viewer_url(self, study: Study) -> str:
        return _url(self, "imaging:study", public_id=study.public_id)


class StudyReportSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    study = serializers.UUIDField(source="study.public_id", read_only=True)
    status = serializers.ChoiceField(choices=StudyReport.Status.choices, read_only=True)
    text = serializers.CharField(read_only=True, help_text="As edited; final once signed.")
    draft_text = serializers.CharField(read_only=True, help_text="The AI draft as generated.")
    drafted_at = serializers.DateTimeField(read_only=True)
    edited_at = serializers.DateTimeField(read_only=True, allow_null=True)
    edited_by = serializers.UUIDField(source="edited_by.public_id", read_only=True, allow_null=True)
    signed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    signed_by = serializers.UUIDField(source="signed_by.public_id", read_only=True, allow_null=True)
    signed_sha256 = serializers.CharField(
        read_only=True, help_text="SHA-256 of the signed text (blank until signed)."
    )
    fhir_url = serializers.SerializerMethodField(
        help_text="The signed report as a FHIR R4 DiagnosticReport (409 until signed)."
    )

    def get_fhir_url(self, report: StudyReport) -> str:
        return _url(self, "api-imaging-report-fhir", public_id=report.study.public_id)


class ImagingModelCardSerializer(serializers.Serializer):
    """selectors.model_card's dictionary, with the version's id."""

    id = serializers.UUIDField(read_only=True)
    kind = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    version = serializers.CharField(read_only=True)
    active = serializers.BooleanField(read_only=True)
    is_synthetic = serializers.BooleanField(read_only=True)
    warning = serializers.CharField(read_only=True)
    classes = serializers.ListField(child=serializers.CharField(), read_only=True)
    normal_class = serializers.CharField(read_only=True)
    input_size = serializers.JSONField(read_only=True, allow_null=True)
    modalities = serializers.ListField(child=serializers.CharField(), read_only=True)
    training_data = serializers.DictField(read_only=True)
    metrics = serializers.DictField(read_only=True)
    parameters = serializers.DictField(read_only=True)
    intended_use = serializers.CharField(read_only=True)
    limitations = serializers.ListField(child=serializers.CharField(), read_only=True)
    sha256 = serializers.CharField(read_only=True)
    registered_at = serializers.CharField(read_only=True, help_text="ISO 8601.")


class StudyRefusedSerializer(serializers.Serializer):
    """Why an upload was refused: `code` for programs, `detail` for the person."""

    code = serializers.CharField(
        read_only=True,
        help_text="For example too_large, empty_file, unknown_format, too_many_pixels.",
    )
    detail = serializers.CharField(read_only=True)
