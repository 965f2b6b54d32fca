"""PatientFacts from a CDS Hooks prefetch (FHIR R4 JSON). Django-free.

The EHR sends FHIR resources (a Patient, and searchset Bundles, lists or single resources of
Observation, Condition, MedicationStatement and AllergyIntolerance); the rules read PatientFacts
in our own terms. On the way in:

- observations keep LOINC codes the catalog knows (patients.catalog) and are converted to its
  canonical units; an unknown unit, a comparator ("<5") or a value outside the plausible range is
  skipped, never guessed. Only final/amended/corrected results count, the latest per code. The
  components of a blood-pressure panel (85354-9, 55284-4) become systolic 8480-6 / diastolic
  8462-4; smoking status (72166-2) becomes `smoking` from its SNOMED answer;
- conditions keep ICD-10 codes as they are and map the SNOMED codes our rules ask about to ICD-10
  (codes.SNOMED_TO_ICD10); only active, not refuted/unconfirmed ones count;
- medications keep ATC codes, map the RxNorm ingredients our rules ask about
  (codes.RXNORM_TO_ATC), and otherwise keep the name (the rules also match on names); only
  `active` statements count;
- allergies the same way, unless inactive, resolved, refuted or entered in error.

A resource about another patient than the one in context, or one that is malformed in any way, is
skipped: this module never raises on what an EHR sends.
"""

import datetime as dt
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from patients.catalog import OBSERVATION_TYPES, ObservationValueError, observation_normalize
from recommendations.cds.codes import (
    ACTIVITY_MINUTES_WEEK,
    ATC,
    BP_PANELS,
    LOINC,
    RXNORM,
    RXNORM_TO_ATC,
    SMOKING_SNOMED,
    SMOKING_STATUS,
    SNOMED,
    SNOMED_TO_ICD10,
    UCUM,
    UNIT_ALIASES,
)
from recommendations.engine.facts import (
    AllergyFact,
    ConditionFact,
    MedicationFact,
    ObservationFact,
    PatientFacts,
)

_RESULT_STATUSES = {"final", "amended", "corrected"}
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


# --- small readers that never raise ---------------------------------------------------------


def _text(value: Any, limit: int = 200) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _date(value: Any) -> dt.date | None:
    """The day of a FHIR date/dateTime/instant ("2026-10-02T09:30:00Z" -> 2026-10-02); None for a
    partial date (year or year-month) or anything unreadable."""
    if not isinstance(value, str):
        return None
    match = _DATE.match(value.strip())
    if not match or match.group(3) is None:
        return None
    try:
        return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    if not isinstance(concept, Mapping):
        return []
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return []
    return [c for c in codings if isinstance(c, Mapping) and isinstance(c.get("code"), str)]


def _code_in(concept: Any, system: str) -> list[str]:
    return [c["code"].strip() for c in _codings(concept) if c.get("system") == system]


def _status_code(concept: Any) -> str:
    """The code of a FHIR status CodeableConcept (clinicalStatus, verificationStatus; a plain
    string in FHIR STU3)."""
    if isinstance(concept, str):
        return concept.strip()
    codes = [c["code"] for c in _codings(concept)]
    return codes[0] if codes else ""


def _concept_name(concept: Any) -> str:
    if not isinstance(concept, Mapping):
        return ""
    name = _text(concept.get("text"))
    if name:
        return name
    for coding in _codings(concept):
        name = _text(coding.get("display"))
        if name:
            return name
    return ""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def resources(value: Any, resource_type: str) -> Iterator[Mapping[str, Any]]:
    """The `resource_type` resources in a prefetch value: a searchset Bundle, a list of resources
    or bundles, or one resource. Anything else yields nothing."""
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("resourceType")
        if kind == resource_type:
            yield item
        elif kind == "Bundle":
            for entry in _list(item.get("entry")):
                resource = entry.get("resource") if isinstance(entry, Mapping) else None
                if isinstance(resource, Mapping) and resource.get("resourceType") == resource_type:
                    yield resource


def _about(resource: Mapping[str, Any], patient_id: str, *fields: str) -> bool:
    """False when the resource names another patient (subject/patient reference)."""
    if not patient_id:
        return True
    for name in fields:
        ref = resource.get(name)
        if isinstance(ref, Mapping) and isinstance(ref.get("reference"), str):
            reference = ref["reference"].strip()
            return reference in (f"Patient/{patient_id}", patient_id) or reference.endswith(
                f"/Patient/{patient_id}"
            )
    return True


# --- Patient --------------------------------------------------------------------------------


def patient_age(patient: Mapping[str, Any], today: dt.date) -> int | None:
    """Age in whole years on `today` from birthDate; a year-only or year-month birthDate gives the
    youngest age it allows (a rule never treats a patient as older than they may be)."""
    value = patient.get("birthDate")
    if not isinstance(value, str):
        return None
    match = _DATE.match(value.strip())
    if not match:
        return None
    year = int(match.group(1))
    try:
        if match.group(3):
            born = dt.date(year, int(match.group(2)), int(match.group(3)))
        elif match.group(2):
            month = int(match.group(2))
            born = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        else:
            born = dt.date(year, 12, 31)
    except ValueError:
        return None
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return age if 0 <= age <= 130 else None


def patient_sex(patient: Mapping[str, Any]) -> str:
    gender = patient.get("gender")
    return gender if gender in ("female", "male", "other") else "unknown"


# --- Observation ----------------------------------------------------------------------------


def _observation_day(resource: Mapping[str, Any]) -> dt.date | None:
    for name in ("effectiveDateTime", "effectiveInstant"):
        day = _date(resource.get(name))
        if day:
            return day
    period = resource.get("effectivePeriod")
    if isinstance(period, Mapping):
        return _date(period.get("end")) or _date(period.get("start"))
    return _date(resource.get("issued"))


def _quantity(code: str, quantity: Any) -> tuple[float, str] | None:
    """(value, unit) in the catalog's canonical unit for LOINC `code`, or None when the quantity
    is missing, qualified by a comparator, in an unknown unit or implausible."""
    if not isinstance(quantity, Mapping) or quantity.get("comparator"):
        return None
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(float(value)):
        return None
    # UCUM `code` first; the display `unit` when the code is absent or not UCUM.
    units = [quantity.get("unit")]
    if quantity.get("system") in (None, UCUM):
        units.insert(0, quantity.get("code"))
    for unit in units:
        if isinstance(unit, str) and unit.strip():
            try:
                return observation_normalize(
                    code, float(value), UNIT_ALIASES.get(unit.strip(), unit.strip())
                )
            except ObservationValueError:
                continue
    return None


def _keep_latest(latest: dict[str, ObservationFact], fact: ObservationFact) -> None:
    current = latest.get(fact.code)
    if current is None or fact.at > current.at:
        latest[fact.code] = fact


def _observations(
    value: Any, patient_id: str, today: dt.date
) -> tuple[dict[str, ObservationFact], tuple[str, dt.date] | None, tuple[int, dt.date] | None]:
    latest: dict[str, ObservationFact] = {}
    smoking: tuple[str, dt.date] | None = None
    activity: tuple[int, dt.date] | None = None
    for resource in resources(value, "Observation"):
        if resource.get("status") not in _RESULT_STATUSES or not _about(
            resource, patient_id, "subject"
        ):
            continue
        day = _observation_day(resource)
        if day is None or day > today + dt.timedelta(days=1):
            continue
        codes = _code_in(resource.get("code"), LOINC)
        known = (SMOKING_STATUS, ACTIVITY_MINUTES_WEEK, *BP_PANELS)
        code = next((c for c in codes if c in known or c in OBSERVATION_TYPES), None)
        if code == SMOKING_STATUS:
            status = _smoking_answer(resource)
            if status and (smoking is None or day > smoking[1]):
                smoking = (status, day)
        elif code == ACTIVITY_MINUTES_WEEK:
            minutes = _activity_minutes(resource)
            if minutes is not None and (activity is None or day > activity[1]):
                activity = (minutes, day)
        elif code in BP_PANELS:
            for component in _list(resource.get("component")):
                if isinstance(component, Mapping):
                    part = _code_in(component.get("code"), LOINC)
                    if part and part[0] in ("8480-6", "8462-4"):
                        _observation_add(latest, part[0], component, day)
        elif code is not None:
            _observation_add(latest, code, resource, day)
    return latest, smoking, activity


def _smoking_answer(resource: Mapping[str, Any]) -> str | None:
    answers = _code_in(resource.get("valueCodeableConcept"), SNOMED)
    return next((SMOKING_SNOMED[a] for a in answers if a in SMOKING_SNOMED), None)


def _activity_minutes(resource: Mapping[str, Any]) -> int | None:
    quantity = resource.get("valueQuantity")
    if not isinstance(quantity, Mapping) or quantity.get("code") != "min/wk":
        return None
    minutes = quantity.get("value")
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        return None
    return round(minutes) if 0 <= minutes <= 10_080 else None


def _observation_add(
    latest: dict[str, ObservationFact], code: str, holder: Mapping[str, Any], day: dt.date
) -> None:
    normal = _quantity(code, holder.get("valueQuantity"))
    if normal is not None:
        value, unit = normal
        _keep_latest(
            latest, ObservationFact(code, OBSERVATION_TYPES[code].display, value, unit, day)
        )


# --- Condition ------------------------------------------------------------------------------


def _condition_active(resource: Mapping[str, Any]) -> bool:
    clinical = _status_code(resource.get("clinicalStatus"))
    if clinical not in ("active", "recurrence", "relapse"):
        return False
    verification = _status_code(resource.get("verificationStatus"))
    return verification in ("", "confirmed")


def _conditions(value: Any, patient_id: str) -> tuple[ConditionFact, ...]:
    found: dict[str, ConditionFact] = {}
    for resource in resources(value, "Condition"):
        if not _condition_active(resource) or not _about(resource, patient_id, "subject"):
            continue
        onset = _date(resource.get("onsetDateTime"))
        period = resource.get("onsetPeriod")
        if onset is None and isinstance(period, Mapping):
            onset = _date(period.get("start"))
        name = _concept_name(resource.get("code"))
        for coding in _codings(resource.get("code")):
            system = coding.get("system")
            code = coding["code"].strip().upper()
            if isinstance(system, str) and "icd-10" in system.lower() and code:
                found.setdefault(code, ConditionFact(code, name or code, onset))
            elif system == SNOMED and coding["code"].strip() in SNOMED_TO_ICD10:
                icd, display = SNOMED_TO_ICD10[coding["code"].strip()]
                found.setdefault(icd, ConditionFact(icd, name or display, onset))
    return tuple(found.values())


# --- MedicationStatement ------------------------------------------------------------------


def _drug(concept: Any) -> tuple[str, str] | None:
    """(name, ATC code or "") of a medication CodeableConcept, or None when it names nothing."""
    name = _concept_name(concept)
    atc_codes = [code for code in _code_in(concept, ATC) if code]
    if atc_codes:
        return name or atc_codes[0], atc_codes[0].upper()
    mapped = [RXNORM_TO_ATC[code] for code in _code_in(concept, RXNORM) if code in RXNORM_TO_ATC]
    if mapped:
        return name or mapped[0][1], mapped[0][0]
    return (name, "") if name else None


def _medication_concept(resource: Mapping[str, Any]) -> Any:
    """medicationCodeableConcept, or the code of a contained Medication it references."""
    concept = resource.get("medicationCodeableConcept")
    if concept is not None:
        return concept
    ref = resource.get("medicationReference")
    target = ref.get("reference") if isinstance(ref, Mapping) else None
    if isinstance(target, str) and target.startswith("#"):
        for contained in _list(resource.get("contained")):
            if (
                isinstance(contained, Mapping)
                and contained.get("resourceType") == "Medication"
                and contained.get("id") == target[1:]
            ):
                return contained.get("code")
    return None


def _medications(value: Any, patient_id: str) -> tuple[MedicationFact, ...]:
    found: list[MedicationFact] = []
    for resource in resources(value, "MedicationStatement"):
        if resource.get("status") != "active" or not _about(resource, patient_id, "subject"):
            continue
        drug = _drug(_medication_concept(resource))
        if drug is None:
            continue
        period = resource.get("effectivePeriod")
        since = _date(resource.get("effectiveDateTime"))
        if since is None and isinstance(period, Mapping):
            since = _date(period.get("start"))
        found.append(MedicationFact(name=drug[0], code=drug[1], since=since))
    return tuple(found)


# --- AllergyIntolerance -------------------------------------------------------------------


def _allergy_severity(resource: Mapping[str, Any]) -> str:
    severities = [
        r.get("severity")
        for r in _list(resource.get("reaction"))
        if isinstance(r, Mapping) and r.get("severity") in ("mild", "moderate", "severe")
    ]
    for level in ("severe", "moderate", "mild"):
        if level in severities:
            return level
    criticality = resource.get("criticality")
    return {"high": "severe", "low": "mild"}.get(criticality, "moderate")  # type: ignore[arg-type]


def _allergies(value: Any, patient_id: str) -> tuple[AllergyFact, ...]:
    found: list[AllergyFact] = []
    for resource in resources(value, "AllergyIntolerance"):
        clinical = _status_code(resource.get("clinicalStatus"))
        verification = _status_code(resource.get("verificationStatus"))
        if clinical in ("inactive", "resolved") or verification in (
            "refuted",
            "entered-in-error",
        ):
            continue
        if not _about(resource, patient_id, "patient"):
            continue
        drug = _drug(resource.get("code"))
        if drug is None:
            continue
        found.append(
            AllergyFact(substance=drug[0], code=drug[1], severity=_allergy_severity(resource))
        )
    return tuple(found)


# --- all together ---------------------------------------------------------------------------


def fhir_facts(
    *,
    patient: Mapping[str, Any],
    today: dt.date,
    observations: Any = None,
    conditions: Any = None,
    medications: Any = None,
    allergies: Any = None,
) -> PatientFacts:
    """The PatientFacts of a prefetch: `patient` a FHIR Patient, the others what the EHR sent for
    the matching prefetch keys (None when it had no data)."""
    patient_id = _text(patient.get("id"), 64) if isinstance(patient, Mapping) else ""
    latest, smoking, activity = _observations(observations, patient_id, today)
    return PatientFacts(
        today=today,
        age=patient_age(patient, today) if isinstance(patient, Mapping) else None,
        sex=patient_sex(patient) if isinstance(patient, Mapping) else "unknown",
        observations=latest,
        conditions=_conditions(conditions, patient_id),
        medications=_medications(medications, patient_id),
        allergies=_allergies(allergies, patient_id),
        smoking=smoking[0] if smoking else None,
        smoking_at=smoking[1] if smoking else None,
        activity_minutes_per_week=activity[0] if activity else None,
        activity_at=activity[1] if activity else None,
    )
