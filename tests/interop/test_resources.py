"""Every resource we emit validates against FHIR (the fhir.resources package, R4B models: the
package's 8.x line carries R4B and R5; R4B is R4 with errata for these resources)."""

from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from interop import resources
from patients.models import Observation
from tests.security.world import CANARY, world_make

pytestmark = pytest.mark.django_db


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, once fhir.resources accepted it: model_validate raises on an element FHIR
    does not define, a value of the wrong type, or a missing required element."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


@pytest.fixture
def world():
    return world_make()


def test_the_patient_carries_mrn_name_birth_date_and_gender(world):
    resource = valid(resources.patient_resource(world.patient))
    assert resource["identifier"][0]["value"] == CANARY["mrn"]
    assert resource["identifier"][0]["system"] == resources.MRN_SYSTEM
    assert resource["name"][0] == {
        "use": "official",
        "family": CANARY["family_name"],
        "given": [CANARY["given_name"]],
    }
    assert resource["birthDate"] == "1931-02-03" and resource["gender"] == "female"


def test_every_record_entry_of_the_world_validates(world):
    entries = world.objects["entries"]
    builders = {
        "observations": resources.observation_resource,
        "conditions": resources.condition_resource,
        "allergies": resources.allergy_resource,
        "medications": resources.medication_statement_resource,
        "family-history": resources.family_history_resource,
    }
    built = {kind: valid(build(entries[kind])) for kind, build in builders.items()}
    assert built["observations"]["code"]["coding"][0]["system"] == resources.LOINC
    assert built["observations"]["valueQuantity"]["system"] == resources.UCUM
    assert built["conditions"]["code"]["coding"][0]["system"] == resources.ICD10CM


def test_a_vital_sign_and_a_lab_are_categorised_by_the_catalog(world):
    patient = world.patient
    from patients.catalog import OBSERVATION_TYPES

    for code, kind in list(OBSERVATION_TYPES.items()):
        obs = Observation(
            patient=patient,
            code=code,
            display=kind.display,
            value=(kind.low + kind.high) / 2,
            unit=kind.unit,
            effective_at=patient.created_at,
        )
        resource = valid(resources.observation_resource(obs))
        assert resource["category"][0]["coding"][0]["code"] == kind.category


def test_the_risk_assessment_names_its_model_version(world):
    assessment = world.objects["assessment"]
    resource = valid(resources.risk_assessment_resource(assessment))
    method = resource["method"]["coding"][0]
    assert method["code"] == f"diabetes/{assessment.model_version.version}"
    prediction = resource["prediction"][0]
    assert prediction["probabilityDecimal"] == pytest.approx(assessment.probability)
    assert prediction["qualitativeRisk"]["coding"][0]["code"] == assessment.risk_band


def test_the_signed_imaging_report_is_a_diagnostic_report(world):
    report = world.objects["study"].report
    resource = valid(resources.diagnostic_report_resource(report))
    assert resource["subject"]["reference"] == f"Patient/{world.patient.public_id}"
