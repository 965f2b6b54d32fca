"""/risk/: assessing a patient, the results, and the model cards. Ids are UUIDs."""

from django.urls import path

from prediction import views

app_name = "prediction"

urlpatterns = [
    path(
        "patients/<uuid:public_id>/<slug:disease>/",
        views.assessment_create,
        name="assess",
    ),
    path("assessments/<uuid:public_id>/", views.assessment_detail, name="assessment"),
    path(
        "assessments/<uuid:public_id>/outcome/",
        views.assessment_outcome,
        name="assessment_outcome",
    ),
    path("models/", views.model_list, name="model_list"),
    path("models/<uuid:public_id>/", views.model_detail, name="model_detail"),
]
