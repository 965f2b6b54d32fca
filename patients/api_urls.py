"""/api/v1/: patients, their record and the observation catalog (API tokens: accounts.api_urls).
Ids are UUIDs; an id that is not one does not match (404)."""

from django.urls import URLPattern, path

from patients import apis

urlpatterns: list[URLPattern] = [
    path(
        "observation-codes/",
        apis.ObservationCodeListApi.as_view(),
        name="api-observation-codes",
    ),
    path("care-teams/", apis.CareTeamListApi.as_view(), name="api-care-teams"),
    path("patients/", apis.PatientListApi.as_view(), name="api-patients"),
    path("patients/<uuid:public_id>/", apis.PatientDetailApi.as_view(), name="api-patient"),
    path(
        "patients/<uuid:public_id>/timeline/",
        apis.PatientTimelineApi.as_view(),
        name="api-patient-timeline",
    ),
]

for segment, (list_api, detail_api) in apis.RECORD_APIS.items():
    urlpatterns += [
        path(
            f"patients/<uuid:public_id>/{segment}/",
            list_api.as_view(),
            name=f"api-patient-{segment}",
        ),
        path(
            f"patients/<uuid:public_id>/{segment}/<uuid:entry_id>/",
            detail_api.as_view(),
            name=f"api-patient-{segment}-detail",
        ),
    ]
