"""FHIR prefetch -> PatientFacts: units, code mappings, statuses, and malformed input skipped."""

import datetime as dt
from typing import Any

import pytest

from recommendations.cds.fhir_facts import fhir_facts, patient_age, resources
from tests.recommendations import cds_helpers as h

TODAY = dt.date(2026, 12, 1)
RECENT = dt.date(2026, 11, 20)
PATIENT = {
    "resourceType": "Patient",
    "id": h.PATIENT_ID,
    "gender": "female",
    "birthDate": "1960-05-17",
}


def facts_of(**prefetch):
    return fhir_facts(patient=prefetch.pop("patient", PATIENT), today=TODAY, **prefetch)


def test_the_realistic_prefetch_becomes_the_facts_the_rules_read():
    prefetch = h.prefetch_diabetic_hypertensive_smoker_with_af(TODAY)
    facts = fhir_facts(
        patient=prefetch["patient"],
        today=TODAY,
        observations=prefetch["observations"],
        conditions=prefetch["conditions"],
        medications=prefetch["medications"],
        allergies=prefetch["allergies"],
    )
    assert facts.age == 62 and facts.sex == "male"
    assert {c.code for c in facts.conditions} == {"E11", "I10", "I48"}  # resolved asthma left out
    assert facts.obs("4548-4").value == 8.1  # the latest of two HbA1c values
    assert facts.obs("8480-6").value == 152 and facts.obs("8462-4").value == 94  # BP panel split
    assert facts.obs("13457-7").value == pytest.approx(131.48, abs=0.01)  # 3.4 mmol/L LDL
    assert facts.obs("13457-7").unit == "mg/dL"
    assert facts.obs("2160-0").value == pytest.approx(0.995, abs=0.001)  # 88 umol/L creatinine
    assert facts.smoking == "current"
    assert facts.medications == ()  # metformin was stopped
    assert facts.allergies[0].substance == "Penicillin" and facts.allergies[0].severity == "severe"


@pytest.mark.parametrize(
    ("loinc", "value", "unit", "expected"),
    [
        ("2345-7", 7.0, "mmol/L", 126.11),  # glucose
        ("4548-4", 64, "mmol/mol", 8.007),  # HbA1c IFCC -> NGSP %
        ("2093-3", 200, "mg/dL", 200),
        ("29463-7", 180, "[lb_av]", 81.65),
        ("8480-6", 141, "mmHg", 141),  # the display spelling of mm[Hg], in `code`
    ],
)
def test_units_are_converted_to_the_catalog_units(loinc, value, unit, expected):
    facts = facts_of(observations=[h.observation(loinc, RECENT, value=h.quantity(value, unit))])
    assert facts.obs(loinc).value == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(
    "value",
    [
        h.quantity(8.1, "g/dL"),  # not an HbA1c unit
        h.quantity(81, "%"),  # implausible
        {"value": 8.1},  # no unit at all
        {"value": 8.1, "unit": "%", "comparator": ">"},  # a bound, not a value
        {"value": "8.1", "unit": "%", "code": "%"},  # a string
        {"value": True, "code": "%"},
        {"value": 8.1, "system": "http://example.org/units", "code": "pct"},
    ],
)
def test_unknown_units_and_implausible_values_are_skipped_not_guessed(value):
    facts = facts_of(observations=[h.observation("4548-4", RECENT, value=value)])
    assert facts.obs("4548-4") is None


def test_only_final_results_of_this_patient_and_not_in_the_future_count():
    observations = h.bundle(
        h.observation("4548-4", RECENT, value=h.quantity(9.0, "%"), status="preliminary"),
        h.observation("4548-4", RECENT, value=h.quantity(9.5, "%"), status="entered-in-error"),
        h.observation("4548-4", RECENT, value=h.quantity(9.9, "%"), patient_id="someone-else"),
        h.observation("4548-4", TODAY + dt.timedelta(days=30), value=h.quantity(10.0, "%")),
        h.observation("4548-4", dt.date(2026, 6, 1), value=h.quantity(7.4, "%"), status="amended"),
    )
    assert facts_of(observations=observations).obs("4548-4").value == 7.4


@pytest.mark.parametrize(
    ("snomed", "expected"),
    [("449868002", "current"), ("8517006", "former"), ("266919005", "never"), ("123", None)],
)
def test_smoking_status_is_read_from_its_snomed_answer(snomed, expected):
    assert facts_of(observations=[h.smoking_status(RECENT, snomed)]).smoking == expected


@pytest.mark.parametrize(
    ("snomed", "icd10"),
    [
        ("44054006", "E11"),
        ("38341003", "I10"),
        ("49436004", "I48"),
        ("84114007", "I50"),
        ("22298006", "I21"),
        ("230690007", "I63"),
        ("254837009", "C50"),
        ("709044004", "N18"),
        ("433144002", "N18.3"),
    ],
)
def test_snomed_conditions_the_rules_use_map_to_icd10(snomed, icd10):
    facts = facts_of(conditions=h.bundle(h.condition(h.SNOMED, snomed, "x")))
    assert [c.code for c in facts.conditions] == [icd10]


def test_icd10_conditions_are_kept_and_inactive_or_unconfirmed_ones_are_not():
    icd = "http://hl7.org/fhir/sid/icd-10-cm"
    conditions = h.bundle(
        h.condition(icd, "E11.9", "Type 2 diabetes"),
        h.condition(icd, "I50.9", "Heart failure", clinical="resolved"),
        h.condition(icd, "I48.91", "AF", verification="refuted"),
        h.condition(icd, "N18.3", "CKD 3", verification="provisional"),
        h.condition(h.SNOMED, "73211009", "Diabetes mellitus (not a mapped code)"),
        h.condition(icd, "C50.9", "Breast cancer", patient_id="someone-else"),
    )
    assert [c.code for c in facts_of(conditions=conditions).conditions] == ["E11.9"]


def test_medications_by_atc_by_rxnorm_ingredient_and_by_name():
    medications = h.bundle(
        h.medication_statement("http://www.whocc.no/atc", "C10AA05", "Atorvastatin 40 mg"),
        h.medication_statement(h.RXNORM, "1364430", "apixaban 5 MG Oral Tablet"),
        h.medication_statement(h.RXNORM, "860975", "24 HR Metformin 500 MG Tablet"),
        h.medication_statement(h.RXNORM, "29046", "lisinopril", status="completed"),
    )
    found = facts_of(medications=medications)
    assert [(m.code, m.name) for m in found.medications] == [
        ("C10AA05", "Atorvastatin 40 mg"),
        ("B01AF02", "apixaban 5 MG Oral Tablet"),
        ("", "24 HR Metformin 500 MG Tablet"),
    ]
    assert found.medication(names=("metformin",)) is not None
    assert found.medication("C09") is None  # lisinopril is no longer taken


def test_a_medication_in_a_contained_resource_is_read():
    statement = {
        "resourceType": "MedicationStatement",
        "status": "active",
        "contained": [
            {
                "resourceType": "Medication",
                "id": "m1",
                "code": {"coding": [{"system": h.RXNORM, "code": "6809"}]},
            }
        ],
        "medicationReference": {"reference": "#m1"},
    }
    assert facts_of(medications=[statement]).medications[0].code == "A10BA02"


def test_refuted_and_resolved_allergies_are_left_out():
    def allergy(clinical, verification):
        return {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {"coding": [{"code": clinical}]},
            "verificationStatus": {"coding": [{"code": verification}]},
            "code": {"coding": [{"system": h.RXNORM, "code": "6809", "display": "Metformin"}]},
        }

    allergies = [allergy("active", "confirmed"), allergy("resolved", "confirmed")]
    allergies.append(allergy("active", "refuted"))
    found = facts_of(allergies=allergies).allergies
    assert [(a.substance, a.code) for a in found] == [("Metformin", "A10BA02")]


@pytest.mark.parametrize(
    ("birth", "age"),
    [("1960-05-17", 66), ("1960-12-02", 65), ("1960-12", 65), ("1960", 65), ("bad", None)],
)
def test_age_from_full_and_partial_birth_dates_is_never_overstated(birth, age):
    assert patient_age({"birthDate": birth}, TODAY) == age


MALFORMED: list[Any] = [
    None,
    42,
    "Observation",
    [],
    [None, 1, "x", [], {}],
    {"resourceType": "Bundle", "entry": "nope"},
    {"resourceType": "Bundle", "entry": [None, {"resource": 5}, {"resource": {"x": 1}}]},
    [{"resourceType": "Observation", "status": "final", "code": "4548-4"}],
    [{"resourceType": "Observation", "status": "final", "code": {"coding": "x"}}],
    [{"resourceType": "Observation", "status": "final", "code": {"coding": [{"code": 5}]}}],
    [h.observation("85354-9", RECENT, component=7)],
    [h.observation("85354-9", RECENT, component=[None, {"code": 3}])],
    [h.observation("4548-4", RECENT, effectiveDateTime="2026-13-45", value=h.quantity(8, "%"))],
    [h.observation("4548-4", RECENT, value={"value": float("nan"), "code": "%"})],
    [h.observation("4548-4", RECENT, value={"value": 1e308 * 10, "code": "%"})],
    [{"resourceType": "Condition", "clinicalStatus": 5, "code": None}],
    [{"resourceType": "Condition", "clinicalStatus": "active", "code": {"coding": [{}]}}],
    [{"resourceType": "MedicationStatement", "status": "active", "medicationReference": 1}],
    [{"resourceType": "MedicationStatement", "status": "active", "contained": 3}],
    [{"resourceType": "AllergyIntolerance", "reaction": 5, "code": {"text": 7}}],
    [{"resourceType": "AllergyIntolerance", "reaction": [{"severity": []}], "code": {}}],
]


@pytest.mark.parametrize("value", MALFORMED)
def test_malformed_resources_are_skipped_without_an_exception(value):
    facts = fhir_facts(
        patient=PATIENT,
        today=TODAY,
        observations=value,
        conditions=value,
        medications=value,
        allergies=value,
    )
    assert facts.observations == {} and facts.conditions == () and facts.medications == ()


@pytest.mark.parametrize(
    "patient",
    [{}, {"birthDate": 1960, "gender": ["male"]}, {"birthDate": "0000-00-00", "gender": "x"}],
)
def test_a_malformed_patient_gives_unknown_age_and_sex(patient):
    facts = fhir_facts(patient=patient, today=TODAY)
    assert facts.age is None and facts.sex == "unknown"


def test_resources_reads_bundles_lists_and_single_resources():
    obs = h.observation("4548-4", RECENT, value=h.quantity(8, "%"))
    assert len(list(resources(h.bundle(obs, obs), "Observation"))) == 2
    assert len(list(resources([obs, h.bundle(obs)], "Observation"))) == 2
    assert len(list(resources(obs, "Observation"))) == 1
    assert list(resources(obs, "Condition")) == []
