"""De-identification of the patient record for research (HIPAA Safe Harbor, 45 CFR 164.514(b)(2)).

What leaves, per patient, and what happens to the 18 Safe Harbor identifiers:

- names, addresses (all geography), phone, fax, email, MRN, account, licence, device, vehicle
  numbers, URLs, IPs, biometrics, photos, the record's own UUID: never exported. The only key is
  `subject_id`, an HMAC of the patient's internal id under a secret (164.514(c): a re-identification
  code that is not derived from the patient's information and not disclosed with the data);
- dates: every date is shifted by the patient's own offset (a secret-keyed HMAC of the patient,
  1 to 365 days either way, never 0) and cut to the day, so intervals within one patient are
  kept while calendar dates are not; the date of birth is not exported at all;
- ages: age at export in whole years, and 90 and over grouped as "90+" (no birth year);
- free text (notes, typed condition names): dropped; coded values keep their catalog display.

Staff identities (who recorded what) are not exported either. The transform reads the record
through the ORM (decrypting in this process) and yields plain dicts; nothing is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from patients.catalog import COMMON_CONDITIONS, OBSERVATION_TYPES
from patients.models import Condition, Observation, Patient

AGE_TOP_CODE = 90  # Safe Harbor: ages over 89 are aggregated into one category
MAX_SHIFT_DAYS = 365
_CONDITION_DISPLAY = {c.code: c.display for c in COMMON_CONDITIONS}


def deid_secret() -> bytes:
    # A key of its own when configured; otherwise derived from the blind-index key (a secret that
    # must already be stable, or blind indexes break), separated from it by purpose below.
    key = settings.DEID_SECRET_KEY or settings.PHI_BLIND_INDEX_KEY
    return str(key).encode()


def _mac(purpose: str, patient_pk: int) -> bytes:
    message = f"deid\x00{purpose}\x00{patient_pk}".encode()
    return hmac.new(deid_secret(), message, hashlib.sha256).digest()


def subject_id(patient_pk: int) -> str:
    """The patient's pseudonym in exports: stable across exports, meaningless without the key."""
    return "S" + _mac("subject", patient_pk).hex()[:20]


def date_offset_days(patient_pk: int) -> int:
    """The patient's date shift: in [-365, -1] or [1, 365], from a secret-keyed HMAC."""
    n = int.from_bytes(_mac("date-shift", patient_pk)[:8], "big")
    magnitude = 1 + n % MAX_SHIFT_DAYS
    return magnitude if (n >> 32) & 1 else -magnitude


def date_shift(value: dt.date | dt.datetime | None, offset_days: int) -> dt.date | None:
    """A date (or a datetime, cut to its day) moved by `offset_days`; None stays None."""
    if value is None:
        return None
    day = value.date() if isinstance(value, dt.datetime) else value
    return day + dt.timedelta(days=offset_days)


def age_group(date_of_birth: dt.date, today: dt.date) -> str:
    """Whole years of age on `today`, "90+" from 90 on."""
    age = (
        today.year
        - date_of_birth.year
        - ((today.month, today.day) < (date_of_birth.month, date_of_birth.day))
    )
    return f"{AGE_TOP_CODE}+" if age >= AGE_TOP_CODE else str(max(age, 0))


@dataclass(frozen=True)
class DeidPatient:
    """One patient, de-identified: nothing here identifies them under Safe Harbor."""

    subject_id: str
    sex: str
    age: str
    is_synthetic: bool
    observations: list[dict[str, Any]] = field(default_factory=list)
    conditions: list[dict[str, Any]] = field(default_factory=list)


def deid_patient(patient: Patient, *, today: dt.date | None = None) -> DeidPatient:
    """The Safe Harbor view of one patient (observations and conditions prefetched or not)."""
    today = today or timezone.localdate()
    offset = date_offset_days(patient.pk)
    observations = [
        {
            "code": obs.code,
            "system": "http://loinc.org",
            "display": OBSERVATION_TYPES[obs.code].display if obs.code in OBSERVATION_TYPES else "",
            "value": obs.value,
            "unit": obs.unit,
            "date": date_shift(obs.effective_at, offset),
        }
        for obs in patient.observations.all()
    ]
    conditions = [
        {
            "code": cond.code,
            "system": cond.system,
            # A typed display is free text and may name people or places: catalog names only.
            "display": _CONDITION_DISPLAY.get(cond.code, ""),
            "status": cond.status,
            "onset": date_shift(cond.onset_date, offset),
            "resolved": date_shift(cond.resolved_date, offset),
        }
        for cond in patient.conditions.all()
    ]
    return DeidPatient(
        subject_id=subject_id(patient.pk),
        sex=patient.sex,
        age=age_group(patient.date_of_birth, today),
        is_synthetic=patient.is_synthetic,
        observations=observations,
        conditions=conditions,
    )


def patients_for_export() -> QuerySet[Patient]:
    """Every patient, with what the export reads fetched in three queries per chunk."""
    return Patient.objects.order_by("pk").prefetch_related(
        Prefetch("observations", queryset=Observation.objects.order_by("effective_at", "pk")),
        Prefetch("conditions", queryset=Condition.objects.order_by("onset_date", "pk")),
    )


def deid_patients(
    patients: Iterable[Patient] | None = None, *, today: dt.date | None = None
) -> Iterator[DeidPatient]:
    """De-identified patients, streamed (2,000 at a time when reading the database)."""
    source = patients if patients is not None else patients_for_export().iterator(chunk_size=2000)
    for patient in source:
        yield deid_patient(patient, today=today)


_DEID_SECURITY_LABEL = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "DELAU",  # de-identified, as the HL7 security label says
}

# --- formats ------------------------------------------------------------------------------------

CSV_HEADER = (
    "subject_id",
    "record_type",
    "sex",
    "age",
    "is_synthetic",
    "system",
    "code",
    "display",
    "value",
    "unit",
    "status",
    "date",
    "end_date",
)


def _csv_row(**cells: object) -> tuple[object, ...]:
    return tuple(cells.get(name, "") for name in CSV_HEADER)


def deid_csv_rows(patients: Iterable[DeidPatient]) -> Iterator[tuple[object, ...]]:
    """Long format: a `patient` row, then one row per observation and per condition."""
    yield CSV_HEADER
    for p in patients:
        sid = p.subject_id
        yield _csv_row(subject_id=sid, record_type="patient", sex=p.sex, age=p.age,
                       is_synthetic=p.is_synthetic)  # fmt: skip
        for o in p.observations:
            yield _csv_row(subject_id=sid, record_type="observation", system=o["system"],
                           code=o["code"], display=o["display"], value=o["value"],
                           unit=o["unit"], date=o["date"])  # fmt: skip
        for c in p.conditions:
            yield _csv_row(subject_id=sid, record_type="condition", system=c["system"],
                           code=c["code"], display=c["display"], status=c["status"],
                           date=c["onset"], end_date=c["resolved"])  # fmt: skip


_FHIR_GENDER = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}
_ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
AGE_EXTENSION_URL = "https://healthmentor.example/fhir/StructureDefinition/deid-age-at-export"


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def deid_fhir_entries(p: DeidPatient) -> Iterator[dict[str, Any]]:
    """Bundle entries (Patient, Observation..., Condition...) of one de-identified patient."""
    ref = f"urn:uuid:{_urn(p.subject_id, 'Patient', 0)}"
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:healthmentor:deid-subject", "value": p.subject_id}],
        "gender": _FHIR_GENDER.get(p.sex, "unknown"),
        "extension": [{"url": AGE_EXTENSION_URL, "valueString": p.age}],
        "meta": {"security": [_DEID_SECURITY_LABEL]},
    }
    yield {"fullUrl": ref, "resource": patient}
    for i, o in enumerate(p.observations):
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "code": {
                "coding": [{"system": o["system"], "code": o["code"], "display": o["display"]}]
            },
            "subject": {"reference": ref},
            "effectiveDateTime": _iso(o["date"]),
            "valueQuantity": {
                "value": o["value"],
                "unit": o["unit"],
                "system": "http://unitsofmeasure.org",
                "code": o["unit"],
            },
        }
        yield {"fullUrl": f"urn:uuid:{_urn(p.subject_id, 'Observation', i)}", "resource": obs}
    for i, c in enumerate(p.conditions):
        system = _ICD10_SYSTEM if c["system"].upper().startswith("ICD-10") else c["system"]
        cond: dict[str, Any] = {
            "resourceType": "Condition",
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": c["status"],
                    }
                ]
            },
            "code": {"coding": [{"system": system, "code": c["code"], "display": c["display"]}]},
            "subject": {"reference": ref},
        }
        if c["onset"] is not None:
            cond["onsetDateTime"] = _iso(c["onset"])
        if c["resolved"] is not None:
            cond["abatementDateTime"] = _iso(c["resolved"])
        yield {"fullUrl": f"urn:uuid:{_urn(p.subject_id, 'Condition', i)}", "resource": cond}


def _urn(subject: str, kind: str, index: int) -> str:
    """A UUID for a bundle entry, derived from the pseudonym (so it reveals nothing more)."""
    digest = hashlib.sha256(f"{subject}/{kind}/{index}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"


def deid_fhir_bundle(
    patients: Iterable[DeidPatient], *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """A FHIR R4 `collection` Bundle of every patient's Patient, Observations and Conditions."""
    entries = [entry for p in patients for entry in deid_fhir_entries(p)]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        # The export's own time is not a patient's date: it stays as it is.
        "timestamp": (now or timezone.now()).isoformat(),
        "meta": {"tag": [{"system": "urn:healthmentor:deid", "code": "hipaa-safe-harbor"}]},
        "entry": entries,
    }
