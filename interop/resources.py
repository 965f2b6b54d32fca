"""Our records as FHIR R4 resources (JSON objects), one function per resource type.

Ids are the records' public UUIDs, so `Patient/<id>` here is `/patients/<id>/` in the portal.
Observations carry their LOINC code and UCUM unit (every catalog code is LOINC, every canonical
unit UCUM: patients/catalog.py); conditions their ICD-10-CM code. A code we do not have travels as
text only, never as an invented coding. The builders read what they are given and query nothing
more; `interop.selectors` fetches with the caller's permissions.
"""

import datetime as dt
from typing import Any

from imaging.models import StudyReport
from imaging.reports import report_fhir
from patients.catalog import OBSERVATION_TYPES
from patients.models import (
    Allergy,
    Condition,
    FamilyHistory,
    Medication,
    Observation,
    Patient,
)
from prediction.models import RiskAssessment

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ATC = "http://www.whocc.no/atc"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
MRN_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
# Our own identifier and code systems (URNs: no host of ours is implied).
MRN_SYSTEM = "urn:healthmentor:mrn"
RISK_MODEL_SYSTEM = "urn:healthmentor:risk-model"
SYNTHETIC_TAG = {"system": "urn:healthmentor:tag", "code": "synthetic", "display": "Synthetic"}

# Family relations as HL7 v3 RoleCode.
RELATION_CODES: dict[str, tuple[str, str]] = {
    FamilyHistory.Relation.MOTHER: ("MTH", "mother"),
    FamilyHistory.Relation.FATHER: ("FTH", "father"),
    FamilyHistory.Relation.SISTER: ("SIS", "sister"),
    FamilyHistory.Relation.BROTHER: ("BRO", "brother"),
    FamilyHistory.Relation.DAUGHTER: ("DAU", "daughter"),
    FamilyHistory.Relation.SON: ("SON", "son"),
    FamilyHistory.Relation.GRANDPARENT: ("GRPRN", "grandparent"),
    FamilyHistory.Relation.AUNT_UNCLE: ("EXT", "extended family member"),
    FamilyHistory.Relation.OTHER: ("FAMMEMB", "family member"),
}


def _date(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _instant(moment: dt.datetime) -> str:
    return moment.isoformat()


def _patient_ref(patient_id: Any) -> dict[str, str]:
    return {"reference": f"Patient/{patient_id}"}


def _meta(patient: Patient) -> dict[str, Any]:
    return {"tag": [SYNTHETIC_TAG]} if patient.is_synthetic else {}


def _drop_empty(resource: dict[str, Any]) -> dict[str, Any]:
    """FHIR forbids empty values: keys whose value is None, "", [] or {} are left out."""
    return {k: v for k, v in resource.items() if v not in (None, "", [], {})}


def patient_resource(patient: Patient) -> dict[str, Any]:
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": str(patient.phone), "use": "home"})
    if patient.email:
        telecom.append({"system": "email", "value": str(patient.email)})
    return _drop_empty(
        {
            "resourceType": "Patient",
            "id": str(patient.public_id),
            "meta": _meta(patient),
            "identifier": [
                {
                    "use": "usual",
                    "type": {"coding": [{"system": MRN_TYPE, "code": "MR"}]},
                    "system": MRN_SYSTEM,
                    "value": str(patient.mrn),
                }
            ],
            "active": True,
            "name": [
                {
                    "use": "official",
                    "family": str(patient.family_name),
                    "given": [str(patient.given_name)],
                }
            ],
            "telecom": telecom,
            "gender": patient.sex or "unknown",
            "birthDate": _date(patient.date_of_birth),
            "address": [{"text": str(patient.address)}] if patient.address else [],
        }
    )


def observation_resource(observation: Observation) -> dict[str, Any]:
    kind = OBSERVATION_TYPES.get(observation.code)
    category = kind.category if kind else "laboratory"
    return _drop_empty(
        {
            "resourceType": "Observation",
            "id": str(observation.public_id),
            "status": "final",
            "category": [
                {"coding": [{"system": OBSERVATION_CATEGORY, "code": category}]},
            ],
            "code": {
                "coding": [
                    {"system": LOINC, "code": observation.code, "display": observation.display}
                ],
                "text": observation.display,
            },
            "subject": _patient_ref(observation.patient.public_id),
            "effectiveDateTime": _instant(observation.effective_at),
            "issued": _instant(observation.recorded_at),
            "valueQuantity": {
                "value": observation.value,
                "unit": observation.unit,
                "system": UCUM,
                "code": observation.unit,
            },
        }
    )


def condition_resource(condition: Condition) -> dict[str, Any]:
    icd = condition.system.upper().replace("-", "").startswith("ICD10")
    coding = {"code": condition.code, "display": condition.display}
    if icd:
        coding["system"] = ICD10CM
    return _drop_empty(
        {
            "resourceType": "Condition",
            "id": str(condition.public_id),
            "clinicalStatus": {
                "coding": [{"system": CONDITION_CLINICAL, "code": condition.status}],
            },
            "code": {"coding": [coding], "text": condition.display},
            "subject": _patient_ref(condition.patient.public_id),
            "onsetDateTime": _date(condition.onset_date),
            "abatementDateTime": _date(condition.resolved_date),
            "recordedDate": _instant(condition.recorded_at),
            "note": [{"text": condition.notes}] if condition.notes else [],
        }
    )


def allergy_resource(allergy: Allergy) -> dict[str, Any]:
    reaction = {
        "severity": allergy.severity,  # our choices are FHIR's codes
        # FHIR requires a manifestation for a reaction.
        "manifestation": [{"text": allergy.reaction or "Not recorded"}],
    }
    return _drop_empty(
        {
            "resourceType": "AllergyIntolerance",
            "id": str(allergy.public_id),
            "clinicalStatus": {"coding": [{"system": ALLERGY_CLINICAL, "code": "active"}]},
            "code": {"text": allergy.substance},
            "patient": _patient_ref(allergy.patient.public_id),
            "onsetDateTime": _date(allergy.noted_on),
            "recordedDate": _instant(allergy.recorded_at),
            "reaction": [_drop_empty(reaction)],
        }
    )


def _dose(medication: Medication) -> dict[str, Any]:
    if medication.dose is None:
        return {}
    quantity = {"value": float(medication.dose), "unit": medication.dose_unit or None}
    return {"doseAndRate": [{"doseQuantity": _drop_empty(quantity)}]}


def medication_statement_resource(medication: Medication) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": medication.name}
    if medication.code:
        concept["coding"] = [{"system": ATC, "code": medication.code, "display": medication.name}]
    dosage: dict[str, Any] = {
        "text": " ".join(
            part
            for part in (
                f"{medication.dose:g} {medication.dose_unit}".strip()
                if medication.dose is not None
                else "",
                medication.frequency,
                medication.get_route_display().lower(),
            )
            if part
        ),
        "route": {"text": medication.get_route_display()},
        **_dose(medication),
    }
    period = _drop_empty({"start": _date(medication.start_date), "end": _date(medication.end_date)})
    return _drop_empty(
        {
            "resourceType": "MedicationStatement",
            "id": str(medication.public_id),
            "status": "active" if medication.status == Medication.Status.ACTIVE else "stopped",
            "medicationCodeableConcept": concept,
            "subject": _patient_ref(medication.patient.public_id),
            "effectivePeriod": period,
            "dateAsserted": _instant(medication.recorded_at),
            "dosage": [_drop_empty(dosage)],
        }
    )


def family_history_resource(entry: FamilyHistory) -> dict[str, Any]:
    code, display = RELATION_CODES.get(entry.relation, ("FAMMEMB", "family member"))
    condition: dict[str, Any] = {"code": {"text": entry.condition_display}}
    if entry.condition_code:
        condition["code"]["coding"] = [
            {"system": ICD10CM, "code": entry.condition_code, "display": entry.condition_display}
        ]
    if entry.onset_age is not None:
        condition["onsetAge"] = {
            "value": entry.onset_age,
            "unit": "a",
            "system": UCUM,
            "code": "a",
        }
    return {
        "resourceType": "FamilyMemberHistory",
        "id": str(entry.public_id),
        "status": "completed",
        "patient": _patient_ref(entry.patient.public_id),
        "date": _date(entry.recorded_at.date()),
        "relationship": {
            "coding": [{"system": ROLE_CODE, "code": code, "display": display}],
            "text": entry.get_relation_display(),
        },
        "condition": [condition],
    }


def risk_assessment_resource(assessment: RiskAssessment) -> dict[str, Any]:
    """Our assessment: the model version is the `method` (and its card the `basis`), the
    probability and band the `prediction`; a recorded outcome travels as a note."""
    version = assessment.model_version
    label = f"{version.disease} risk model {version.algorithm} {version.version}"
    prediction = {
        "outcome": {"text": version.disease.replace("_", " ")},
        "probabilityDecimal": round(float(assessment.probability), 6),
        "qualitativeRisk": {
            "coding": [{"system": RISK_PROBABILITY, "code": assessment.risk_band}],
            "text": assessment.get_risk_band_display(),
        },
    }
    notes = []
    if version.is_synthetic:
        notes.append({"text": "Model trained on synthetic data: not for clinical decisions."})
    if assessment.outcome:
        outcome = assessment.get_outcome_display()
        notes.append({"text": f"Outcome recorded: {outcome} on {_date(assessment.outcome_date)}."})
    return _drop_empty(
        {
            "resourceType": "RiskAssessment",
            "id": str(assessment.public_id),
            "status": "final",
            "method": {
                "coding": [
                    {
                        "system": RISK_MODEL_SYSTEM,
                        "code": f"{version.disease}/{version.version}",
                        "display": label,
                    }
                ],
                "text": label,
            },
            "subject": _patient_ref(assessment.patient.public_id),
            "occurrenceDateTime": _instant(assessment.created_at),
            "basis": [{"display": f"Model card: {label} (sha256 {version.sha256[:12]})"}],
            "prediction": [prediction],
            "note": notes,
        }
    )


def diagnostic_report_resource(report: StudyReport, *, base_url: str = "") -> dict[str, Any]:
    """A signed imaging report (imaging.reports builds it; one definition for both routes).
    `base_url` is the portal's root URL, the namespace of the study identifier."""
    return report_fhir(report, base_url=base_url)


# OperationOutcome issue severities and codes: http://hl7.org/fhir/R4/valueset-issue-type.html
def operation_outcome(*, code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    """One issue, as the FHIR API answers an error: `code` from the IssueType value set
    ("invalid", "not-found", "login", ...), `diagnostics` words for the client's developer."""
    issue = _drop_empty({"severity": severity, "code": code, "diagnostics": diagnostics})
    return {"resourceType": "OperationOutcome", "issue": [issue]}
