"""Features read from the patient record: each source type, its date and source, stale and
missing values."""

import datetime as dt

import pytest
from django.utils import timezone

from patients import services as record
from prediction.features import (
    TO_BE_ENTERED,
    FeatureValue,
    feature_values_for_specs,
    features_for_patient,
)
from prediction.ml.diseases import DISEASES, FeatureKind, FeatureSpec
from tests import factories

pytestmark = pytest.mark.django_db

MAX_AGE = 365


def spec(name: str, source: dict, *, kind: FeatureKind = "binary", unit: str = "") -> FeatureSpec:
    return FeatureSpec(name, name.replace("_", " ").title(), unit, 0, 1000, kind, source)


SPECS = [
    spec("glucose", {"type": "observation", "code": "2345-7"}, kind="numeric", unit="mg/dL"),
    spec("hba1c", {"type": "observation", "code": "4548-4"}, kind="numeric", unit="%"),
    spec("age", {"type": "age"}, kind="integer"),
    spec("male", {"type": "sex_male"}),
    spec("diabetes", {"type": "condition", "codes": ["E11", "E10"]}),
    spec("hypertension", {"type": "condition", "codes": ["I10"]}),
    spec("family_breast", {"type": "family_history", "codes": ["C50"]}),
    spec("brca", {"type": "genetic", "genes": ["BRCA1", "BRCA2"]}),
    spec("smoker", {"type": "smoking", "ever": False}),
    spec("ever_smoker", {"type": "smoking", "ever": True}),
    spec("statin", {"type": "medication", "names": ["statin", "atorvastatin"]}),
    spec("pregnancies", {"type": "entered"}, kind="integer"),
]


def values(patient) -> dict[str, FeatureValue]:
    found = feature_values_for_specs(patient=patient, specs=SPECS, max_age_days=MAX_AGE)
    assert [fv.spec.name for fv in found] == [s.name for s in SPECS]
    return {fv.spec.name: fv for fv in found}


@pytest.fixture
def person(team, clinician):
    return factories.patient_make(
        team=team, by=clinician, sex="male", date_of_birth=dt.date(1960, 6, 15)
    )


def test_an_empty_record_gives_missing_values_and_zero_flags(person):
    found = values(person)
    assert found["glucose"].value is None and found["glucose"].missing
    assert found["glucose"].source == "No observation 2345-7 on record"
    assert found["smoker"].value is None  # never asked: to be entered, not assumed
    assert found["pregnancies"].value is None
    assert found["pregnancies"].source == TO_BE_ENTERED
    for name in ("diabetes", "hypertension", "family_breast", "brca", "statin"):
        assert found[name].value == 0.0, name
        assert not found[name].stale
    assert found["male"].value == 1.0
    assert found["male"].source == "Sex on record: male"


def test_age_is_whole_years_from_the_date_of_birth(person):
    found = values(person)
    assert found["age"].value == float(person.age_on(timezone.localdate()))
    assert found["age"].source == "Date of birth"
    assert found["age"].observed_at == timezone.localdate()


def test_female_and_unknown_sex(team, clinician):
    woman = factories.patient_make(team=team, by=clinician, sex="female")
    other = factories.patient_make(team=team, by=clinician, sex="unknown")
    assert values(woman)["male"].value == 0.0
    assert values(other)["male"].value is None


def test_the_latest_observation_with_its_date_and_a_stale_flag(person, clinician):
    now = timezone.now()
    record.observation_record(
        by=clinician,
        patient=person,
        code="2345-7",
        value=5.5,
        unit="mmol/L",
        effective_at=now - dt.timedelta(days=30),
    )
    record.observation_record(
        by=clinician,
        patient=person,
        code="2345-7",
        value=140,
        unit="mg/dL",
        effective_at=now - dt.timedelta(days=3),
    )
    record.observation_record(
        by=clinician,
        patient=person,
        code="4548-4",
        value=6.1,
        unit="%",
        effective_at=now - dt.timedelta(days=MAX_AGE + 10),
    )
    found = values(person)
    glucose = found["glucose"]
    assert glucose.value == 140.0
    assert not glucose.stale
    assert glucose.observed_at == now - dt.timedelta(days=3)
    day = timezone.localdate(now - dt.timedelta(days=3))
    assert glucose.source == f"Observation 2345-7, {day.day} {day:%b %Y}"
    assert found["hba1c"].value == 6.1
    assert found["hba1c"].stale


def test_observations_are_read_in_the_catalog_canonical_unit(person, clinician):
    record.observation_record(
        by=clinician,
        patient=person,
        code="2345-7",
        value=7.0,
        unit="mmol/L",
        effective_at=timezone.now(),
    )
    assert values(person)["glucose"].value == pytest.approx(7.0 * 18.016)


def test_only_active_conditions_count_matched_by_icd10_prefix(person, clinician):
    record.condition_add(
        by=clinician,
        patient=person,
        code="I10",
        display="Hypertension",
        status="resolved",
        onset_date=dt.date(2015, 1, 1),
    )
    record.condition_add(
        by=clinician,
        patient=person,
        code="E11.9",
        display="Type 2 diabetes",
        onset_date=dt.date(2019, 4, 2),
    )
    found = values(person)
    assert found["hypertension"].value == 0.0
    assert found["diabetes"].value == 1.0
    assert found["diabetes"].source == "Condition E11.9 (active)"
    assert found["diabetes"].observed_at == dt.date(2019, 4, 2)


def test_family_history_by_condition_code_prefix(person, clinician):
    record.family_history_add(
        by=clinician,
        patient=person,
        relation="mother",
        condition_code="C50.9",
        condition_display="Breast cancer",
        onset_age=52,
    )
    found = values(person)["family_breast"]
    assert found.value == 1.0
    assert found.source == "Family history C50.9 (mother)"


def test_only_pathogenic_or_likely_pathogenic_markers_count(person, clinician):
    record.genetic_marker_add(
        by=clinician,
        patient=person,
        gene="BRCA2",
        variant="c.1A>G",
        zygosity="heterozygous",
        interpretation="uncertain",
    )
    assert values(person)["brca"].value == 0.0
    record.genetic_marker_add(
        by=clinician,
        patient=person,
        gene="BRCA1",
        variant="c.68_69del",
        zygosity="heterozygous",
        interpretation="likely_pathogenic",
        tested_on=dt.date(2021, 3, 12),
    )
    found = values(person)["brca"]
    assert found.value == 1.0
    assert found.source == "Genetic marker BRCA1 (likely pathogenic), 12 Mar 2021"
    assert found.observed_at == dt.date(2021, 3, 12)


def test_the_latest_lifestyle_gives_smoking_current_and_ever(person, clinician):
    today = timezone.localdate()
    record.lifestyle_record(
        by=clinician,
        patient=person,
        assessed_on=today - dt.timedelta(days=900),
        smoking="current",
    )
    record.lifestyle_record(
        by=clinician,
        patient=person,
        assessed_on=today - dt.timedelta(days=10),
        smoking="former",
        pack_years=10,
    )
    found = values(person)
    assert found["smoker"].value == 0.0
    assert found["ever_smoker"].value == 1.0
    assert found["smoker"].observed_at == today - dt.timedelta(days=10)
    assert "former smoker" in found["smoker"].source
    assert not found["smoker"].stale


def test_an_old_lifestyle_assessment_is_stale(person, clinician):
    record.lifestyle_record(
        by=clinician,
        patient=person,
        assessed_on=timezone.localdate() - dt.timedelta(days=MAX_AGE + 1),
        smoking="current",
    )
    found = values(person)["smoker"]
    assert found.value == 1.0
    assert found.stale


def test_active_medications_by_name_case_insensitively(person, clinician):
    record.medication_add(
        by=clinician,
        patient=person,
        name="Atorvastatin",
        status="stopped",
        start_date=dt.date(2018, 1, 1),
    )
    assert values(person)["statin"].value == 0.0
    record.medication_add(
        by=clinician, patient=person, name="ROSUVASTATIN 10 mg", start_date=dt.date(2020, 5, 1)
    )
    found = values(person)["statin"]
    assert found.value == 1.0
    assert found.source == "Medication ROSUVASTATIN 10 mg (active)"


@pytest.mark.parametrize("disease", sorted(DISEASES))
def test_every_disease_schema_is_served_in_model_order(disease, patient):
    found = features_for_patient(patient=patient, disease=disease)
    assert [fv.spec.name for fv in found] == [s.name for s in DISEASES[disease].features]
    for fv in found:
        if fv.spec.source.get("type") == "entered":
            assert fv.value is None and fv.source == TO_BE_ENTERED


def test_an_unknown_disease_is_refused(patient):
    with pytest.raises(KeyError, match="nonsense"):
        features_for_patient(patient=patient, disease="nonsense")
