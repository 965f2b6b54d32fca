"""The imaging pages (HTML): upload, the study viewer and its live status, the study's files,
reports, the worklist and the model cards. URL names and views: imaging/urls.py."""

from imaging.views.card_pages import model_detail, model_list
from imaging.views.report_pages import report_edit, report_fhir_view, report_sign_view
from imaging.views.study_pages import (
    imaging_panel,
    study_deidentified,
    study_detail,
    study_heatmap,
    study_image,
    study_mask,
    study_original,
    study_status,
    study_upload,
)
from imaging.views.worklist_pages import worklist, worklist_rows

__all__ = [
    "imaging_panel",
    "model_detail",
    "model_list",
    "report_edit",
    "report_fhir_view",
    "report_sign_view",
    "study_deidentified",
    "study_detail",
    "study_heatmap",
    "study_image",
    "study_mask",
    "study_original",
    "study_status",
    "study_upload",
    "worklist",
    "worklist_rows",
]
