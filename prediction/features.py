"""A disease model's features, read from the patient record.

Each FeatureSpec's `source` (prediction.ml.diseases) says where its value lives: the latest
observation of a LOINC code, the age, the sex, an active condition, a family history, a genetic
marker, the latest smoking status, an active medication, or nothing (the clinician enters it).
Every value carries its date and a short human source, so that the form and the stored
assessment say where each figure came from; a dated value older than the disease's
`max_age_days` is flagged stale (the form asks for it again).
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils import timezone

from patients.catalog import OBSERVATION_TYPES
from patients.models import (
    Condition,
    GeneticMarker,
    LifestyleAssessment,
    Medication,
    Observation,
    Patient,
    Sex,
)
from patients.selectors import observations_latest
from prediction.ml.diseases import DISEASES, DiseaseSpec, FeatureSpec

TO_BE_ENTERED = "To be entered"
PATHOGENIC = (
    GeneticMarker.Interpretation.PATHOGENIC,
    GeneticMarker.Interpretation.LIKELY_PATHOGENIC,
)


@dataclass(frozen=True)
class FeatureValue:
    """One feature's value as the record gives it: None when the record has none."""

    spec: FeatureSpec
    value: float | None
    source: str
    observed_at: dt.datetime | dt.date | None
    stale: bool

    @property
    def missing(self) -> bool:
        return self.value is None


def day_text(when: dt.datetime | dt.date) -> str:
    """'12 Mar 2026' (the local day of a datetime)."""
    day = timezone.localdate(when) if isinstance(when, dt.datetime) else when
    return f"{day.day} {day:%b %Y}"


def _is_stale(when: dt.datetime | dt.date | None, max_age_days: int, today: dt.date) -> bool:
    if when is None:
        return False
    day = timezone.localdate(when) if isinstance(when, dt.datetime) else when
    return (today - day).days > max_age_days


class _Record:
    """The parts of one patient's record the features read, each fetched once (a disease has up
    to a few dozen features; most read the same few tables)."""

    def __init__(self, patient: Patient) -> None:
        self.patient = patient
        self._latest: dict[str, Observation] | None = None
        self._conditions: list[Condition] | None = None
        self._medications: list[Medication] | None = None
        self._lifestyle_read = False
        self._lifestyle: LifestyleAssessment | None = None

    @property
    def latest(self) -> dict[str, Observation]:
        if self._latest is None:
            self._latest = observations_latest(patient=self.patient)
        return self._latest

    @property
    def active_conditions(self) -> list[Condition]:
        if self._conditions is None:
            self._conditions = list(
                self.patient.conditions.filter(status=Condition.Status.ACTIVE).order_by(
                    "-onset_date", "-recorded_at"
                )
            )
        return self._conditions

    @property
    def active_medications(self) -> list[Medication]:
        if self._medications is None:
            self._medications = list(
                self.patient.medications.filter(status=Medication.Status.ACTIVE).order_by(
                    "-start_date", "-recorded_at"
                )
            )
        return self._medications

    @property
    def lifestyle(self) -> LifestyleAssessment | None:
        if not self._lifestyle_read:
            self._lifestyle = self.patient.lifestyleassessments.order_by(
                "-assessed_on", "-recorded_at"
            ).first()
            self._lifestyle_read = True
        return self._lifestyle


def _prefixes(codes: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(code).strip().upper() for code in codes if str(code).strip())


def _observation(spec: FeatureSpec, record: _Record, max_age: int, today: dt.date) -> FeatureValue:
    code = str(spec.source.get("code", ""))
    obs = record.latest.get(code)
    if obs is None:
        return FeatureValue(spec, None, f"No observation {code} on record", None, False)
    if spec.unit and obs.unit != spec.unit:
        # Stored values are in the catalog's canonical unit; a model asking for another one has
        # a schema the record cannot serve: ask rather than guess a conversion.
        kind = OBSERVATION_TYPES.get(code)
        canonical = kind.unit if kind else obs.unit
        return FeatureValue(
            spec, None, f"Observation {code} is in {canonical}, not {spec.unit}", None, False
        )
    return FeatureValue(
        spec,
        float(obs.value),
        f"Observation {code}, {day_text(obs.effective_at)}",
        obs.effective_at,
        _is_stale(obs.effective_at, max_age, today),
    )


def _age(spec: FeatureSpec, record: _Record, today: dt.date) -> FeatureValue:
    dob = record.patient.date_of_birth
    if not isinstance(dob, dt.date):
        return FeatureValue(spec, None, "No date of birth on record", None, False)
    return FeatureValue(spec, float(record.patient.age_on(today)), "Date of birth", today, False)


def _sex_male(spec: FeatureSpec, record: _Record) -> FeatureValue:
    sex = record.patient.sex
    if sex == Sex.MALE:
        return FeatureValue(spec, 1.0, "Sex on record: male", None, False)
    if sex == Sex.FEMALE:
        return FeatureValue(spec, 0.0, "Sex on record: female", None, False)
    return FeatureValue(spec, None, "Sex on record is neither male nor female", None, False)


def _condition(spec: FeatureSpec, record: _Record) -> FeatureValue:
    prefixes = _prefixes(spec.source.get("codes", ()))
    for cond in record.active_conditions:
        if prefixes and cond.code.strip().upper().startswith(prefixes):
            when = cond.onset_date or cond.recorded_at
            return FeatureValue(spec, 1.0, f"Condition {cond.code} (active)", when, False)
    return FeatureValue(
        spec, 0.0, f"No active condition {', '.join(prefixes)} on record", None, False
    )


def _family_history(spec: FeatureSpec, record: _Record) -> FeatureValue:
    prefixes = _prefixes(spec.source.get("codes", ()))
    if prefixes:
        for fam in record.patient.familyhistorys.order_by("-recorded_at"):
            if fam.condition_code.strip().upper().startswith(prefixes):
                return FeatureValue(
                    spec,
                    1.0,
                    f"Family history {fam.condition_code} ({fam.get_relation_display().lower()})",
                    fam.recorded_at,
                    False,
                )
    return FeatureValue(
        spec, 0.0, f"No family history of {', '.join(prefixes)} on record", None, False
    )


def _genetic(spec: FeatureSpec, record: _Record) -> FeatureValue:
    genes = {str(gene).strip().upper() for gene in spec.source.get("genes", ())}
    markers = record.patient.geneticmarkers.filter(interpretation__in=PATHOGENIC).order_by(
        "-tested_on", "-recorded_at"
    )
    for marker in markers:
        if marker.gene.strip().upper() in genes:
            when = marker.tested_on or marker.recorded_at
            return FeatureValue(
                spec,
                1.0,
                f"Genetic marker {marker.gene} ({marker.get_interpretation_display().lower()}), "
                f"{day_text(when)}",
                when,
                False,
            )
    return FeatureValue(
        spec,
        0.0,
        f"No pathogenic {', '.join(sorted(genes))} variant on record",
        None,
        False,
    )


def _smoking(spec: FeatureSpec, record: _Record, max_age: int, today: dt.date) -> FeatureValue:
    life = record.lifestyle
    if life is None or life.smoking == LifestyleAssessment.Smoking.UNKNOWN:
        return FeatureValue(spec, None, "No smoking status on record", None, False)
    smokers = {LifestyleAssessment.Smoking.CURRENT}
    if spec.source.get("ever"):
        smokers.add(LifestyleAssessment.Smoking.FORMER)
    return FeatureValue(
        spec,
        1.0 if life.smoking in smokers else 0.0,
        f"Lifestyle {day_text(life.assessed_on)}: {life.get_smoking_display().lower()}",
        life.assessed_on,
        _is_stale(life.assessed_on, max_age, today),
    )


def _medication(spec: FeatureSpec, record: _Record) -> FeatureValue:
    names = [str(name).strip().lower() for name in spec.source.get("names", ()) if name]
    for med in record.active_medications:
        if any(name in med.name.lower() for name in names):
            when = med.start_date or med.recorded_at
            return FeatureValue(spec, 1.0, f"Medication {med.name} (active)", when, False)
    return FeatureValue(spec, 0.0, "No such active medication on record", None, False)


def feature_value(
    spec: FeatureSpec, record: _Record, *, max_age_days: int, today: dt.date
) -> FeatureValue:
    kind = spec.source.get("type")
    if kind == "observation":
        return _observation(spec, record, max_age_days, today)
    if kind == "age":
        return _age(spec, record, today)
    if kind == "sex_male":
        return _sex_male(spec, record)
    if kind == "condition":
        return _condition(spec, record)
    if kind == "family_history":
        return _family_history(spec, record)
    if kind == "genetic":
        return _genetic(spec, record)
    if kind == "smoking":
        return _smoking(spec, record, max_age_days, today)
    if kind == "medication":
        return _medication(spec, record)
    # "entered", or a source this code does not know: the clinician types it.
    return FeatureValue(spec, None, TO_BE_ENTERED, None, False)


def feature_values_for_specs(
    *, patient: Patient, specs: Sequence[FeatureSpec], max_age_days: int
) -> list[FeatureValue]:
    """The values of `specs` from `patient`'s record, in the order of `specs`."""
    record = _Record(patient)
    today = timezone.localdate()
    return [feature_value(spec, record, max_age_days=max_age_days, today=today) for spec in specs]


def disease_spec(disease: str) -> DiseaseSpec:
    """The DiseaseSpec of `disease`; KeyError naming it when there is none."""
    try:
        return DISEASES[disease]
    except KeyError:
        raise KeyError(f"Unknown disease model {disease!r}.") from None


def features_for_patient(*, patient: Patient, disease: str) -> list[FeatureValue]:
    """Every feature of `disease`'s model as `patient`'s record gives it (value None where it
    does not), in the model's feature order, each with its date, source and stale flag."""
    spec = disease_spec(disease)
    return feature_values_for_specs(
        patient=patient, specs=spec.features, max_age_days=spec.max_age_days
    )
