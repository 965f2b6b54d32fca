"""Our record -> FHIR (interop.bundles.patient_everything, what $everything answers) -> an import
into a database without that patient -> the same record, field by field.

The record holds an entry of every kind FHIR carries (observations, conditions, allergies,
medications, family history) with their optional fields set, plus the portal's derived results
(a risk assessment, a signed imaging report), which the import skips by design. Lifestyle
assessments and genetic markers have no FHIR resource in interop.resources: not in the Bundle,
so not in the round trip.
"""

import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Model
from django.utils import timezone

from imaging.models import StudyReport
from interop.bundles import patient_everything
from interop.models import ImportJob
from interop.services import import_run, import_submit
from patients import services as record
from patients.models import Allergy, Condition, FamilyHistory, Medication, Observation, Patient
from tests.security.world import CANARY, world_make

pytestmark = pytest.mark.django_db

PATIENT_FIELDS = (
    "mrn",
    "given_name",
    "family_name",
    "date_of_birth",
    "sex",
    "phone",
    "email",
    "address",
    "is_synthetic",
)
# What an entry is, as opposed to when, by whom and under which id it was written.
NOT_COMPARED = {"id", "public_id", "patient", "recorded_at", "recorded_by", "source"}
KINDS: tuple[type[Model], ...] = (Observation, Condition, Allergy, Medication, FamilyHistory)


def entry_values(entry: Model) -> dict[str, Any]:
    return {
        f.name: getattr(entry, f.name)
        for f in entry._meta.concrete_fields
        if f.name not in NOT_COMPARED
    }


def snapshot(patient: Patient) -> dict[str, Any]:
    """The patient and each kind of entry as sorted lists of field values."""
    shot: dict[str, Any] = {"patient": {f: getattr(patient, f) for f in PATIENT_FIELDS}}
    for model in KINDS:
        rows = [entry_values(e) for e in model._default_manager.filter(patient=patient)]
        shot[model.__name__] = sorted(
            rows, key=lambda r: json.dumps(r, default=str, sort_keys=True)
        )
    return shot


def record_filled(patient: Patient, by: Any) -> None:
    """Entries of every kind with their optional fields set, and units that need converting."""
    now = timezone.now().replace(microsecond=0)
    for code, value, unit, days in (
        ("8462-4", 81, "mm[Hg]", 3),
        ("2345-7", 6.1, "mmol/L", 10),
        ("8310-5", 98.6, "[degF]", 20),
        ("29463-7", 71.25, "kg", 30),
        ("4548-4", 6.4, "%", 40),
    ):
        record.observation_record(
            by=by,
            patient=patient,
            code=code,
            value=value,
            unit=unit,
            effective_at=now - dt.timedelta(days=days, microseconds=123456),
        )
    record.condition_add(
        by=by,
        patient=patient,
        code="E11.9",
        display="Type 2 diabetes mellitus without complications",
        onset_date=dt.date(2015, 4, 2),
        resolved_date=dt.date(2020, 1, 5),
        status=Condition.Status.RESOLVED,
        notes="Diet-controlled since 2019.",
    )
    record.allergy_add(
        by=by,
        patient=patient,
        substance="Latex",
        reaction="Urticaria",
        severity=Allergy.Severity.SEVERE,
        noted_on=dt.date(2010, 7, 1),
    )
    record.allergy_add(by=by, patient=patient, substance="Shellfish", severity="mild")
    record.medication_add(
        by=by,
        patient=patient,
        name="Atorvastatin",
        code="C10AA05",
        dose=Decimal("20"),
        dose_unit="mg",
        frequency="once daily at night",
        route=Medication.Route.ORAL,
        start_date=dt.date(2018, 3, 1),
        end_date=dt.date(2023, 3, 1),
        status=Medication.Status.STOPPED,
    )
    record.medication_add(
        by=by,
        patient=patient,
        name="Insulin glargine",
        dose=Decimal("12.5"),
        dose_unit="[iU]",
        frequency="at bedtime",
        route=Medication.Route.SC,
        start_date=dt.date(2022, 9, 9),
    )
    record.medication_add(by=by, patient=patient, name="Paracetamol")
    record.family_history_add(
        by=by,
        patient=patient,
        relation=FamilyHistory.Relation.FATHER,
        condition_code="I21.9",
        condition_display="Myocardial infarction",
        onset_age=58,
    )
    record.family_history_add(
        by=by,
        patient=patient,
        relation=FamilyHistory.Relation.AUNT_UNCLE,
        condition_display="Glaucoma",
    )


def test_our_record_through_fhir_into_an_empty_database_is_the_same_record():
    world = world_make()
    patient, clinician = world.patient, world.users["clinician"]
    record_filled(patient, clinician)
    # The signed imaging report travels as a DiagnosticReport (skipped on import).
    StudyReport.objects.filter(study=world.objects["study"]).update(
        status=StudyReport.Status.SIGNED, signed_at=timezone.now(), signed_by=clinician
    )
    bundle = patient_everything(patient=patient)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert {"RiskAssessment", "DiagnosticReport"} <= set(kinds)
    before = snapshot(patient)
    counts = {model.__name__: len(before[model.__name__]) for model in KINDS}
    assert min(counts.values()) >= 2  # every kind, more than once

    Patient.objects.all().delete()  # an empty database (of patients)
    assert not Observation.objects.exists()
    team = world.objects["team_b"]
    other = world.users["other_team"]  # a clinician of team B imports it there
    data = json.dumps(bundle).encode()
    job = import_submit(by=other, care_team=team.public_id, upload=io.BytesIO(data))
    assert import_run(job_id=job.pk).outcome == "done"
    job.refresh_from_db()

    assert job.format == ImportJob.Format.FHIR_BUNDLE and job.rejected == 0
    assert job.patients_created == 1 and job.observations_imported == counts["Observation"]
    assert job.entries_imported == sum(counts.values()) - counts["Observation"]
    assert job.skipped == {"RiskAssessment": 1, "DiagnosticReport": 1}
    (imported,) = Patient.objects.all()
    assert imported.mrn == CANARY["mrn"] and team in imported.care_teams.all()
    after = snapshot(imported)
    for part, values in before.items():
        assert after[part] == values, part

    # And the same Bundle again: nothing new.
    again = import_submit(by=other, care_team=team.public_id, upload=io.BytesIO(data))
    import_run(job_id=again.pk)
    again.refresh_from_db()
    assert (again.patients_matched, again.observations_present) == (1, counts["Observation"])
    assert again.entries_present == job.entries_imported
    assert again.observations_imported == again.entries_imported == again.rejected == 0
    assert snapshot(imported) == after
