"""CDS Hooks test helpers: client keys, signed tokens, FHIR resources and a realistic prefetch.

Also used by bench/cds.py (the same patient under load).
"""

import datetime as dt
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SERVICE_ID = "health-mentor-recommendations"
SERVICE_PATH = f"/cds-services/{SERVICE_ID}"
FEEDBACK_PATH = f"{SERVICE_PATH}/feedback"
ISSUER = "https://ehr.example.org/cds-client"
PATIENT_ID = "pt-4821"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def public_pem(key: PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def signed_token(
    key: PrivateKey,
    *,
    aud: str | list[str],
    iss: str = ISSUER,
    lifetime_s: int = 300,
    iat: float | None = None,
    jti: str | None = None,
    alg: str | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    """A CDS Hooks client JWT (RS384 for an RSA key, ES384 for an EC key unless `alg`)."""
    issued = int(iat if iat is not None else time.time())
    claims: dict[str, Any] = {
        "iss": iss,
        "aud": aud,
        "iat": issued,
        "exp": issued + lifetime_s,
        "jti": jti or str(uuid.uuid4()),
        "tenant": "example-hospital",
    }
    for name in drop:
        claims.pop(name, None)
    algorithm = alg or ("RS384" if isinstance(key, rsa.RSAPrivateKey) else "ES384")
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": "ehr-key-1"})


def quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


def observation(
    loinc: str,
    day: dt.date,
    *,
    value: dict[str, Any] | None = None,
    patient_id: str = PATIENT_ID,
    status: str = "final",
    **fields: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"obs-{uuid.uuid4().hex[:8]}",
        "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": f"{day.isoformat()}T09:30:00Z",
        **fields,
    }
    if value is not None:
        resource["valueQuantity"] = value
    return resource


def blood_pressure(day: dt.date, systolic: float, diastolic: float) -> dict[str, Any]:
    return observation(
        "85354-9",
        day,
        component=[
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": quantity(systolic, "mm[Hg]"),
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueQuantity": quantity(diastolic, "mm[Hg]"),
            },
        ],
    )


def smoking_status(day: dt.date, snomed: str) -> dict[str, Any]:
    return observation(
        "72166-2",
        day,
        valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct", "code": snomed}]},
    )


def condition(
    system: str,
    code: str,
    display: str,
    *,
    clinical: str = "active",
    verification: str = "confirmed",
    patient_id: str = PATIENT_ID,
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": f"cond-{uuid.uuid4().hex[:8]}",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": clinical,
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": verification,
                }
            ]
        },
        "code": {"coding": [{"system": system, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "onsetDateTime": "2019-04-02",
    }


def medication_statement(
    system: str, code: str, display: str, *, status: str = "active"
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": f"med-{uuid.uuid4().hex[:8]}",
        "status": status,
        "medicationCodeableConcept": {
            "coding": [{"system": system, "code": code, "display": display}],
            "text": display,
        },
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectivePeriod": {"start": "2021-01-10"},
    }


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"


def prefetch_diabetic_hypertensive_smoker_with_af(today: dt.date) -> dict[str, Any]:
    """A 62-year-old man: type 2 diabetes (HbA1c 8.1 %, not on metformin: it was stopped),
    stage 2 hypertension untreated (152/94 mmHg), atrial fibrillation without anticoagulation,
    current smoker, LDL 3.4 mmol/L, BMI 31, eGFR 72; allergic to penicillin. SNOMED conditions,
    SI lipid units and a BP panel, as an EHR sends them."""
    recent = today - dt.timedelta(days=12)
    older = today - dt.timedelta(days=200)
    born = dt.date(today.year - 62, 3, 14)
    if (today.month, today.day) < (3, 14):
        born = dt.date(today.year - 63, 3, 14)
    return {
        "patient": {
            "resourceType": "Patient",
            "id": PATIENT_ID,
            "gender": "male",
            "birthDate": born.isoformat(),
            "name": [{"family": "Example", "given": ["Test"]}],
        },
        "conditions": bundle(
            condition(SNOMED, "44054006", "Diabetes mellitus type 2"),
            condition(SNOMED, "38341003", "Hypertensive disorder"),
            condition(SNOMED, "49436004", "Atrial fibrillation"),
            condition(SNOMED, "195967001", "Asthma", clinical="resolved"),
        ),
        "observations": bundle(
            observation("4548-4", recent, value=quantity(8.1, "%")),
            observation("4548-4", older, value=quantity(7.2, "%")),
            blood_pressure(recent, 152, 94),
            blood_pressure(older, 148, 92),
            observation("33914-3", recent, value=quantity(72, "mL/min/{1.73_m2}")),
            observation("2093-3", recent, value=quantity(5.6, "mmol/L")),
            observation("2085-9", recent, value=quantity(1.0, "mmol/L")),
            observation("13457-7", recent, value=quantity(3.4, "mmol/L")),
            observation("39156-5", recent, value=quantity(31.2, "kg/m2")),
            observation("2160-0", recent, value=quantity(88, "umol/L")),
            smoking_status(recent, "449868002"),
        ),
        "medications": bundle(
            medication_statement(RXNORM, "6809", "metformin", status="stopped"),
        ),
        "allergies": bundle(
            {
                "resourceType": "AllergyIntolerance",
                "id": "alg-1",
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "verificationStatus": {"coding": [{"code": "confirmed"}]},
                "code": {"text": "Penicillin"},
                "patient": {"reference": f"Patient/{PATIENT_ID}"},
                "criticality": "high",
            }
        ),
    }


def hook_request(prefetch: dict[str, Any] | None, patient_id: str = PATIENT_ID) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "fhirServer": "https://ehr.example.org/fhir",
        "context": {"userId": "Practitioner/dr-7", "patientId": patient_id},
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body
