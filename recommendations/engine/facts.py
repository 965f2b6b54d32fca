"""What the rules see of a patient: plain, frozen, Django-free facts.

The web side builds a PatientFacts from the record (recommendations.facts_from_record), the CDS
Hooks side from a FHIR prefetch (recommendations.cds.fhir_facts); the rules cannot tell which.
Observations are in the catalog's canonical units (patients.catalog); only the latest value of
each LOINC code is kept. Conditions, medications are the active ones.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ObservationFact:
    code: str  # LOINC
    display: str
    value: float
    unit: str  # UCUM, canonical for the code
    at: dt.date


@dataclass(frozen=True)
class ConditionFact:
    code: str  # ICD-10 (e.g. "E11.9"); FHIR SNOMED codes are mapped to ICD-10 on the way in
    display: str
    onset: dt.date | None = None


@dataclass(frozen=True)
class MedicationFact:
    name: str
    code: str = ""  # ATC (e.g. "A10BA02" metformin) when known
    since: dt.date | None = None


@dataclass(frozen=True)
class AllergyFact:
    substance: str
    code: str = ""  # ATC of the drug, when known
    severity: str = "moderate"


@dataclass(frozen=True)
class GeneticFact:
    gene: str
    variant: str
    interpretation: str  # pathogenic, likely_pathogenic, uncertain, ...


@dataclass(frozen=True)
class RiskFact:
    """The latest risk assessment of one disease model (prediction app)."""

    disease: str  # diabetes, heart_disease, breast_cancer, ischemic_stroke, mi_mortality
    title: str
    probability: float
    band: str  # low, moderate, high
    at: dt.date
    model: str  # "<disease> <version>"
    synthetic: bool = False


@dataclass(frozen=True)
class ImagingFact:
    """A finished imaging study (imaging app); `synthetic` when its model is the demo model."""

    study_id: str
    modality: str  # DX, CT, MR, ...
    body_part: str
    predicted_class: str  # normal, nodule, opacity
    abnormal_probability: float
    probabilities: dict[str, float]
    lesion_area_mm2: float | None
    at: dt.date
    model: str
    synthetic: bool = True
    report_signed: bool = False


@dataclass(frozen=True)
class BenefitEstimate:
    """Estimated 5-year recurrence-free survival with and without hormonal therapy for patients
    like this one (recommendations.ml.benefit), with 95% bootstrap intervals."""

    rfs_with: float
    rfs_without: float
    difference: float  # rfs_with - rfs_without
    ci_with: tuple[float, float]
    ci_without: tuple[float, float]
    ci_difference: tuple[float, float]
    horizon_years: float
    model: str  # "<name> <version>"
    cohort: str  # e.g. "GBSG2 trial, 686 patients"
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PatientFacts:
    today: dt.date
    age: int | None
    sex: str  # female, male, other, unknown
    observations: dict[str, ObservationFact] = field(default_factory=dict)
    conditions: tuple[ConditionFact, ...] = ()
    medications: tuple[MedicationFact, ...] = ()
    allergies: tuple[AllergyFact, ...] = ()
    genetics: tuple[GeneticFact, ...] = ()
    smoking: str | None = None  # never, former, current, unknown
    smoking_at: dt.date | None = None
    activity_minutes_per_week: int | None = None
    activity_at: dt.date | None = None
    risks: dict[str, RiskFact] = field(default_factory=dict)
    imaging: tuple[ImagingFact, ...] = ()  # newest first
    benefit: BenefitEstimate | None = None

    # --- lookups the rules share -------------------------------------------------------------

    def obs(self, code: str, max_age_days: int | None = None) -> ObservationFact | None:
        """The latest observation of LOINC `code`, or None (also when older than max_age_days)."""
        fact = self.observations.get(code)
        if fact is None:
            return None
        if max_age_days is not None and (self.today - fact.at).days > max_age_days:
            return None
        return fact

    def condition(self, *prefixes: str) -> ConditionFact | None:
        """The first active condition whose ICD-10 code starts with one of `prefixes`."""
        wanted = tuple(p.upper() for p in prefixes)
        for fact in self.conditions:
            if fact.code.upper().startswith(wanted):
                return fact
        return None

    def medication(self, *atc_prefixes: str, names: Iterable[str] = ()) -> MedicationFact | None:
        """The first active medication whose ATC code starts with one of `atc_prefixes`, or whose
        name contains one of `names` (case-insensitive), or None."""
        codes = tuple(p.upper() for p in atc_prefixes)
        words = tuple(n.lower() for n in names)
        for fact in self.medications:
            if codes and fact.code and fact.code.upper().startswith(codes):
                return fact
            if words and any(w in fact.name.lower() for w in words):
                return fact
        return None

    def allergy(self, *atc_prefixes: str, names: Iterable[str] = ()) -> AllergyFact | None:
        """The first recorded allergy to a substance matching an ATC prefix or a name word."""
        codes = tuple(p.upper() for p in atc_prefixes)
        words = tuple(n.lower() for n in names)
        for fact in self.allergies:
            if codes and fact.code and fact.code.upper().startswith(codes):
                return fact
            if words and any(w in fact.substance.lower() for w in words):
                return fact
        return None
