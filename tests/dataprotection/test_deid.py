"""Safe Harbor transform: identifiers gone, dates shifted per patient, ages grouped."""

import datetime as dt

import pytest
from django.test import override_settings

from patients.deid import (
    _CONDITION_DISPLAY,
    age_group,
    date_offset_days,
    date_shift,
    deid_csv_rows,
    deid_fhir_bundle,
    deid_patient,
    subject_id,
)
from tests import factories


def test_ages_over_89_are_grouped():
    today = dt.date(2026, 6, 1)
    assert age_group(dt.date(1936, 6, 2), today) == "89"
    assert age_group(dt.date(1936, 6, 1), today) == "90+"
    assert age_group(dt.date(1900, 1, 1), today) == "90+"
    assert age_group(dt.date(2026, 1, 1), today) == "0"


def test_the_date_offset_is_per_patient_nonzero_within_a_year_and_keyed():
    offsets = [date_offset_days(pk) for pk in range(1, 400)]
    assert all(1 <= abs(o) <= 365 for o in offsets)
    assert len(set(offsets)) > 200  # patients do not share one shift
    assert any(o < 0 for o in offsets) and any(o > 0 for o in offsets)
    assert date_offset_days(7) == date_offset_days(7)
    with override_settings(DEID_SECRET_KEY="another-secret"):
        assert [date_offset_days(pk) for pk in range(1, 50)] != offsets[:49]


def test_a_subject_id_changes_with_the_key():
    before = subject_id(7)
    with override_settings(DEID_SECRET_KEY="another-secret"):
        assert subject_id(7) != before


def test_date_shift_keeps_intervals_and_cuts_datetimes_to_the_day():
    a, b = dt.date(2020, 1, 1), dt.date(2020, 3, 1)
    assert (date_shift(b, -40) - date_shift(a, -40)) == (b - a)
    assert date_shift(dt.datetime(2020, 1, 1, 23, 59, tzinfo=dt.UTC), 1) == dt.date(2020, 1, 2)
    assert date_shift(None, 5) is None


@pytest.fixture
def record(db, team, clinician):
    patient = factories.patient_make(
        team=team,
        by=clinician,
        mrn="MRNCANARY77",
        given_name="Zebulonia",
        family_name="Quaxtonby",
        date_of_birth=dt.date(1930, 5, 17),
        phone="+1 555 0100 777",
        email="zebulonia@example.org",
        address="17 Quaxton Lane, Springfield 90210",
    )
    factories.record_entry_make("observations", patient=patient, by=clinician)
    factories.record_entry_make(
        "conditions",
        patient=patient,
        by=clinician,
        display="Zebulonia's hypertension",
        notes="Lives at 17 Quaxton Lane",
    )
    return patient


IDENTIFIERS = [
    "MRNCANARY77",
    "Zebulonia",
    "Quaxtonby",
    "555",
    "example.org",
    "Quaxton",
    "90210",
    "1930",
    "05-17",
]


def test_a_patient_is_exported_without_identifiers(record):
    deid = deid_patient(record, today=dt.date(2026, 6, 1))
    flat = repr(deid) + repr(list(deid_csv_rows([deid]))) + repr(deid_fhir_bundle([deid]))
    for identifier in [*IDENTIFIERS, str(record.public_id)]:
        assert identifier not in flat, identifier
    assert deid.age == "90+"
    assert deid.sex == record.sex


def test_every_date_is_shifted_by_the_patients_offset(record):
    deid = deid_patient(record)
    offset = date_offset_days(record.pk)
    obs = record.observations.get()
    assert deid.observations[0]["date"] == obs.effective_at.date() + dt.timedelta(days=offset)
    cond = record.conditions.get()
    assert deid.conditions[0]["onset"] == cond.onset_date + dt.timedelta(days=offset)
    # A typed display is free text: dropped unless it is the catalog's name for the code.
    assert deid.conditions[0]["display"] == _CONDITION_DISPLAY["I10"] != cond.display


def test_the_fhir_bundle_links_resources_to_the_patient(record):
    bundle = deid_fhir_bundle([deid_patient(record)])
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == ["Patient", "Observation", "Condition"]
    patient_url = bundle["entry"][0]["fullUrl"]
    assert all(e["resource"]["subject"]["reference"] == patient_url for e in bundle["entry"][1:])
    assert len({e["fullUrl"] for e in bundle["entry"]}) == 3
    assert "birthDate" not in bundle["entry"][0]["resource"]
