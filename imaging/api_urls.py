"""/api/v1/imaging/: studies (submit is 202 + a status URL), their files, reports and FHIR export,
and the imaging models."""

from django.urls import URLPattern, path

from imaging import apis

urlpatterns: list[URLPattern] = [
    path("imaging/studies/", apis.StudyListApi.as_view(), name="api-imaging-studies"),
    path(
        "imaging/studies/<uuid:public_id>/",
        apis.StudyDetailApi.as_view(),
        name="api-imaging-study",
    ),
    path(
        "imaging/studies/<uuid:public_id>/<str:which>.png",
        apis.StudyFileApi.as_view(),
        name="api-imaging-study-file",
    ),
    path(
        "imaging/studies/<uuid:public_id>/deidentified.dcm",
        apis.StudyDeidentifiedApi.as_view(),
        name="api-imaging-study-deidentified",
    ),
    path(
        "imaging/studies/<uuid:public_id>/report/",
        apis.StudyReportApi.as_view(),
        name="api-imaging-report",
    ),
    path(
        "imaging/studies/<uuid:public_id>/report/sign/",
        apis.StudyReportSignApi.as_view(),
        name="api-imaging-report-sign",
    ),
    path(
        "imaging/studies/<uuid:public_id>/report/fhir/",
        apis.StudyReportFhirApi.as_view(),
        name="api-imaging-report-fhir",
    ),
    path("imaging/models/", apis.ImagingModelListApi.as_view(), name="api-imaging-models"),
]
