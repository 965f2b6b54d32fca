"""/fhir/: the FHIR R4 read API (interop.fhir_apis), with FHIR's paths: `metadata`,
`<Type>` (search), `<Type>/<id>` (read) and `Patient/<id>/$everything`. Ids are UUIDs; any other
path under /fhir/ answers a 404 OperationOutcome rather than the portal's HTML page."""

from django.urls import URLPattern, path, register_converter

from interop import fhir_apis


class FhirOperationConverter:
    """The path segment of a FHIR operation this server runs: `$everything`. A converter rather
    than a literal: drf-spectacular reads a route as a regex and would drop the `$` from the
    documented path; a parameter keeps it (its one value is in the schema)."""

    regex = r"\$everything"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class AnyPathConverter:
    """Any rest of a path, line breaks included (Django's `path` converter stops at one)."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(FhirOperationConverter, "fhir_operation")
register_converter(AnyPathConverter, "fhir_any_path")

app_name = "fhir"
urlpatterns: list[URLPattern] = [
    path("metadata", fhir_apis.FhirMetadataApi.as_view(), name="metadata"),
    path("Patient", fhir_apis.FhirPatientSearchApi.as_view(), name="patient-search"),
    path("Patient/<uuid:public_id>", fhir_apis.FhirPatientReadApi.as_view(), name="patient-detail"),
    path(
        "Patient/<uuid:public_id>/<fhir_operation:operation>",
        fhir_apis.FhirPatientEverythingApi.as_view(),
        name="patient-everything",
    ),
]
for resource_type, (search_api, read_api) in fhir_apis.TYPE_APIS.items():
    slug = resource_type.lower()
    # A report is served once signed only, so its read is not a "-detail" route: those reach
    # any object of the record that exists (tests/security/routes.py treats them so).
    read = "read" if resource_type == "DiagnosticReport" else "detail"
    urlpatterns += [
        path(resource_type, search_api.as_view(), name=f"{slug}-search"),
        path(f"{resource_type}/<uuid:public_id>", read_api.as_view(), name=f"{slug}-{read}"),
    ]
urlpatterns += [
    path("", fhir_apis.FhirUnknownApi.as_view(), name="base"),
    path("<fhir_any_path:rest>", fhir_apis.FhirUnknownApi.as_view(), name="unknown"),
]
