"""/imaging/: upload, the study viewer and its live status, the files (permission-checked), the
worklist, reports and the model card. Ids are UUIDs; the files carry no name from the upload."""

from django.urls import path

from imaging import views

app_name = "imaging"

urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("worklist/rows/", views.worklist_rows, name="worklist_rows"),
    path("patients/<uuid:public_id>/upload/", views.study_upload, name="upload"),
    path("studies/<uuid:public_id>/", views.study_detail, name="study"),
    path("studies/<uuid:public_id>/status/", views.study_status, name="study_status"),
    path("studies/<uuid:public_id>/image.png", views.study_image, name="study_image"),
    path("studies/<uuid:public_id>/heatmap.png", views.study_heatmap, name="study_heatmap"),
    path("studies/<uuid:public_id>/mask.png", views.study_mask, name="study_mask"),
    path("studies/<uuid:public_id>/original/", views.study_original, name="study_original"),
    path(
        "studies/<uuid:public_id>/deidentified.dcm",
        views.study_deidentified,
        name="study_deidentified",
    ),
    path("studies/<uuid:public_id>/report/", views.report_edit, name="report"),
    path("studies/<uuid:public_id>/report/sign/", views.report_sign_view, name="report_sign"),
    path("studies/<uuid:public_id>/report/fhir/", views.report_fhir_view, name="report_fhir"),
    path("models/", views.model_list, name="model_list"),
    path("models/<uuid:public_id>/", views.model_detail, name="model_detail"),
]
