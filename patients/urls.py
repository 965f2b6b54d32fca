from django.urls import path

from patients import exports, views

app_name = "patients"

# Record entries: URL segment -> kind in views.ENTRY_KINDS (url name "<kind>_add").
_ENTRY_SEGMENTS = {
    "observations": "observation",
    "conditions": "condition",
    "medications": "medication",
    "allergies": "allergy",
    "lifestyle": "lifestyle",
    "family-history": "family_history",
    "genetic-markers": "genetic_marker",
}

urlpatterns = [
    path("", views.patient_list, name="list"),
    path("new/", views.patient_create, name="create"),
    path("export/", exports.export_page, name="export"),
    path("export/deid.csv", exports.export_csv, name="export_csv"),
    path("export/deid.fhir.json", exports.export_fhir, name="export_fhir"),
    path("<uuid:public_id>/", views.patient_detail, name="detail"),
    path("<uuid:public_id>/edit/", views.patient_edit, name="edit"),
    *(
        path(
            f"<uuid:public_id>/{segment}/new/",
            views.entry_add,
            {"kind": kind},
            name=f"{kind}_add",
        )
        for segment, kind in _ENTRY_SEGMENTS.items()
    ),
]
