"""The patient services: validation field by field with nothing written on error, units and
plausible ranges, role permissions, care-team visibility, and an audit trail without PHI."""

import datetime as dt
import json
import math

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts.models import AuditEvent
from patients.models import LifestyleAssessment, Medication, Observation, Patient
from patients.selectors import patient_search, patients_visible_to
from patients.services import (
    care_team_add_patient,
    care_team_remove_patient,
    condition_add,
    lifestyle_record,
    medication_add,
    observation_record,
    patient_create,
)
from tests.factories import (
    ClinicianFactory,
    NurseFactory,
    RadiologistFactory,
    ResearcherFactory,
    care_team_make,
    patient_make,
)

NOW = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)


def _create(by, **overrides):
    fields = {
        "mrn": "SVC-0001",
        "given_name": "Serviceable",
        "family_name": "Testcase",
        "date_of_birth": dt.date(1980, 2, 29),
        "sex": "female",
    }
    return patient_create(by=by, **{**fields, **overrides})


def _field_errors(exc_info) -> dict[str, list[str]]:
    return exc_info.value.message_dict


# --- patient_create ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_patient_create_refuses_a_future_date_of_birth_and_writes_nothing(clinician):
    events = AuditEvent.objects.count()
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as exc:
        _create(clinician, date_of_birth=tomorrow)
    assert "future" in _field_errors(exc)["date_of_birth"][0]
    assert Patient.objects.count() == 0
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_patient_create_refuses_a_duplicate_mrn_as_a_field_error(clinician, team):
    _create(clinician, care_teams=[team])
    count, events = Patient.objects.count(), AuditEvent.objects.count()
    with pytest.raises(ValidationError) as exc:
        _create(clinician, mrn="  svc 0001 ", given_name="Other", care_teams=[team])
    assert list(_field_errors(exc)) == ["mrn"]
    assert (Patient.objects.count(), AuditEvent.objects.count()) == (count, events)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [("mrn", ""), ("given_name", "  "), ("sex", "plural"), ("email", "not-an-email")],
)
def test_patient_create_reports_invalid_fields_by_name(clinician, field, value):
    with pytest.raises(ValidationError) as exc:
        _create(clinician, **{field: value})
    assert field in _field_errors(exc)
    assert Patient.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "value"), [("mrn", "--/--"), ("family_name", "-")])
def test_identifiers_without_letters_or_digits_are_refused(clinician, field, value):
    # Their blind index would be empty: a search for any punctuation would find them, and a
    # second such MRN would break the unique index instead of giving a field error.
    with pytest.raises(ValidationError) as exc:
        _create(clinician, **{field: value})
    assert field in _field_errors(exc)
    assert Patient.objects.count() == 0


@pytest.mark.django_db
def test_patient_create_strips_and_audits_without_phi(clinician, team):
    patient = _create(
        clinician,
        mrn="  SVC-0042 ",
        phone=" +44 7700 900111 ",
        email="serviceable@example.org",
        address="3 Audit Row",
        care_teams=[team],
    )
    assert patient.mrn == "SVC-0042" and patient.phone == "+44 7700 900111"
    events = list(AuditEvent.objects.order_by("seq"))
    create = [e for e in events if e.action == "create" and e.object_type == "patients.patient"]
    assert len(create) == 1 and create[0].object_id == str(patient.public_id)
    assert create[0].actor == clinician
    dumped = json.dumps(list(AuditEvent.objects.values()), default=str)
    for phi in ("SVC-0042", "Serviceable", "Testcase", "1980-02-29", "900111", "serviceable@"):
        assert phi.lower() not in dumped.lower()


# --- roles ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("factory", [ResearcherFactory, NurseFactory, RadiologistFactory])
def test_only_clinicians_and_admins_add_patients(factory):
    with pytest.raises(PermissionDenied):
        _create(factory())
    assert Patient.objects.count() == 0


@pytest.mark.django_db
def test_a_nurse_records_observations_but_not_conditions(patient):
    nurse = NurseFactory()
    observation_record(
        by=nurse, patient=patient, code="8480-6", value=120, unit="mm[Hg]", effective_at=NOW
    )
    with pytest.raises(PermissionDenied):
        condition_add(by=nurse, patient=patient, code="I10", display="Hypertension")
    with pytest.raises(PermissionDenied):
        observation_record(
            by=RadiologistFactory(),
            patient=patient,
            code="8480-6",
            value=120,
            unit="mm[Hg]",
            effective_at=NOW,
        )


# --- observations -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "value", "unit", "stored", "canonical_unit"),
    [
        ("2345-7", 5.5, "mmol/L", 99.088, "mg/dL"),
        ("2345-7", 99, "mg/dL", 99.0, "mg/dL"),
        ("8310-5", 98.6, "[degF]", 37.0, "Cel"),
        ("29463-7", 150, "[lb_av]", 68.0389, "kg"),
        ("8302-2", 1.72, "m", 172.0, "cm"),
        ("2093-3", 5.0, "mmol/L", 193.35, "mg/dL"),
        ("4548-4", 48, "mmol/mol", 6.5430, "%"),
    ],
)
def test_observations_are_stored_in_the_canonical_unit(
    clinician, patient, code, value, unit, stored, canonical_unit
):
    obs = observation_record(
        by=clinician, patient=patient, code=code, value=value, unit=unit, effective_at=NOW
    )
    obs.refresh_from_db()
    assert obs.value == pytest.approx(stored, abs=1e-3)
    assert obs.unit == canonical_unit


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "value", "unit", "field"),
    [
        ("8480-6", math.nan, "mm[Hg]", "value"),
        ("8480-6", math.inf, "mm[Hg]", "value"),
        ("8480-6", -math.inf, "mm[Hg]", "value"),
        ("8480-6", "abc", "mm[Hg]", "value"),
        ("8480-6", 1200, "mm[Hg]", "value"),  # a typing error
        ("2345-7", 120, "mmol/L", "value"),  # 2162 mg/dL: mg/dL entered as mmol/L
        ("2345-7", 5.5, "g/L", "unit"),
        ("8480-6", 120, "kPa", "unit"),
        ("0000-0", 1, "mm[Hg]", "code"),
    ],
)
def test_observation_errors_name_the_field_and_write_nothing(
    clinician, patient, code, value, unit, field
):
    with pytest.raises(ValidationError) as exc:
        observation_record(
            by=clinician, patient=patient, code=code, value=value, unit=unit, effective_at=NOW
        )
    assert field in _field_errors(exc)
    assert Observation.objects.count() == 0


@pytest.mark.django_db
def test_an_observation_in_the_future_is_refused(clinician, patient):
    with pytest.raises(ValidationError) as exc:
        observation_record(
            by=clinician,
            patient=patient,
            code="8480-6",
            value=120,
            unit="mm[Hg]",
            effective_at=timezone.now() + dt.timedelta(hours=1),
        )
    assert "effective_at" in _field_errors(exc)


# --- other entries ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_never_smoker_has_no_pack_years(clinician, patient):
    with pytest.raises(ValidationError) as exc:
        lifestyle_record(by=clinician, patient=patient, smoking="never", pack_years=5)
    assert "pack_years" in _field_errors(exc)
    lifestyle_record(by=clinician, patient=patient, smoking="former", pack_years=5)
    assert LifestyleAssessment.objects.count() == 1


@pytest.mark.django_db
def test_a_medication_cannot_end_before_it_starts(clinician, patient):
    with pytest.raises(ValidationError) as exc:
        medication_add(
            by=clinician,
            patient=patient,
            name="Metformin",
            start_date=dt.date(2024, 3, 1),
            end_date=dt.date(2024, 2, 1),
        )
    assert "end_date" in _field_errors(exc)
    assert Medication.objects.count() == 0


@pytest.mark.django_db
def test_a_condition_cannot_start_in_the_future(clinician, patient):
    with pytest.raises(ValidationError) as exc:
        condition_add(
            by=clinician,
            patient=patient,
            code="I10",
            display="Hypertension",
            onset_date=timezone.localdate() + dt.timedelta(days=2),
        )
    assert "onset_date" in _field_errors(exc)


@pytest.mark.django_db
def test_entry_audit_events_name_the_patient_by_public_id_only(clinician, patient):
    obs = observation_record(
        by=clinician, patient=patient, code="8480-6", value=131, unit="mm[Hg]", effective_at=NOW
    )
    event = AuditEvent.objects.filter(object_id=str(obs.public_id)).get()
    assert event.detail == {"patient": str(patient.public_id)}


# --- care teams -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_adding_and_removing_a_patient_from_a_team_changes_who_sees_it(clinician, team):
    other_team = care_team_make()
    patient = patient_make(team=other_team, family_name="Movable")
    assert patient not in patients_visible_to(user=clinician)

    care_team_add_patient(team=team, patient=patient, by=clinician)
    assert patient in patients_visible_to(user=clinician)
    assert list(patient_search(user=clinician, query="movable")) == [patient]
    assert clinician.has_perm("patients.change_patient", patient)

    care_team_remove_patient(team=team, patient=patient, by=clinician)
    clinician = type(clinician).objects.get(pk=clinician.pk)  # drop guardian's permission cache
    assert patient not in patients_visible_to(user=clinician)
    assert list(patient_search(user=clinician, query="movable")) == []
    assert not clinician.has_perm("patients.view_patient", patient)
    details = [
        e.detail
        for e in AuditEvent.objects.filter(object_id=str(patient.public_id), action="update")
    ]
    assert {"care_team_added": str(team.public_id)} in details
    assert {"care_team_removed": str(team.public_id)} in details


@pytest.mark.django_db
def test_a_clinician_on_no_team_sees_no_patient(patient):
    assert list(patients_visible_to(user=ClinicianFactory())) == []
