"""FHIR Bundles of our records: a search's page (`searchset`) and a patient's whole record
(`patient_everything`, which the FHIR API's $everything answers and the import round trip reads
back).

`base_url` is the portal's root ("https://portal.example.org"): entries' fullUrl are then the
resources' addresses in the FHIR API (`<base>/fhir/Observation/<id>`), against which the
relative references inside them ("Patient/<id>") resolve. Without one (a bundle built outside a
request) fullUrl is `urn:uuid:<id>`: our ids are UUIDs, so that is still a stable, absolute
name.
"""

from collections.abc import Callable, Iterable
from typing import Any

from django.urls import reverse
from django.utils import timezone

from interop import resources
from interop.selectors import fhir_everything_objects
from patients.models import Patient

# Resource type -> builder of interop.resources (a report also takes the base URL).
BUILDERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "Patient": resources.patient_resource,
    "Observation": resources.observation_resource,
    "Condition": resources.condition_resource,
    "AllergyIntolerance": resources.allergy_resource,
    "MedicationStatement": resources.medication_statement_resource,
    "FamilyMemberHistory": resources.family_history_resource,
    "RiskAssessment": resources.risk_assessment_resource,
}


def fhir_base(base_url: str) -> str:
    """The FHIR API's base URL under the portal's root `base_url` ("" when there is none)."""
    if not base_url:
        return ""
    return base_url.rstrip("/") + reverse("fhir:metadata").removesuffix("/metadata")


def resource_of(resource_type: str, obj: Any, *, base_url: str = "") -> dict[str, Any]:
    """`obj` as a FHIR resource of `resource_type` (one of BUILDERS, or DiagnosticReport)."""
    if resource_type == "DiagnosticReport":
        return resources.diagnostic_report_resource(obj, base_url=base_url.rstrip("/"))
    return BUILDERS[resource_type](obj)


def full_url(resource: dict[str, Any], *, base_url: str = "") -> str:
    base = fhir_base(base_url)
    if not base:
        return f"urn:uuid:{resource['id']}"
    return f"{base}/{resource['resourceType']}/{resource['id']}"


def searchset(
    resources_found: Iterable[dict[str, Any]],
    *,
    total: int,
    base_url: str = "",
    links: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A searchset Bundle of `resources_found` (one page of `total` matches), each entry with its
    fullUrl; `links` maps relations ("self", "next", "previous") to URLs."""
    found = list(resources_found)
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": timezone.now().isoformat(),
        "total": total,
    }
    if links:
        bundle["link"] = [{"relation": rel, "url": url} for rel, url in links.items()]
    if found:
        bundle["entry"] = [
            {
                "fullUrl": full_url(resource, base_url=base_url),
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in found
        ]
    return bundle


def patient_everything(
    *, patient: Patient, base_url: str = "", links: dict[str, str] | None = None
) -> dict[str, Any]:
    """Everything of `patient` the FHIR API serves, as one searchset Bundle (FHIR's $everything
    answers a searchset): the Patient first, then its Observations, Conditions,
    AllergyIntolerances, MedicationStatements, FamilyMemberHistories, RiskAssessments and signed
    imaging reports as DiagnosticReports, every one a match of the operation (so `total` counts
    them all). A fixed number of queries, whatever the record's size. The caller has checked
    access and writes the audit event."""
    found = [resources.patient_resource(patient)]
    for resource_type, objects in fhir_everything_objects(patient=patient).items():
        found += [resource_of(resource_type, obj, base_url=base_url) for obj in objects]
    return searchset(found, total=len(found), base_url=base_url, links=links)
