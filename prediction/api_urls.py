"""/api/v1/: risk assessments and the model cards. Ids are UUIDs; an id that is not one does not
match (404)."""

from django.urls import URLPattern, path

from prediction import apis

urlpatterns: list[URLPattern] = [
    path("risk-assessments/", apis.AssessmentListApi.as_view(), name="api-risk-assessments"),
    path(
        "risk-assessments/<uuid:public_id>/",
        apis.AssessmentDetailApi.as_view(),
        name="api-risk-assessment",
    ),
    path(
        "risk-assessments/<uuid:public_id>/outcome/",
        apis.AssessmentOutcomeApi.as_view(),
        name="api-risk-assessment-outcome",
    ),
    path("models/", apis.ModelListApi.as_view(), name="api-models"),
    path("models/<uuid:public_id>/", apis.ModelDetailApi.as_view(), name="api-model"),
]
