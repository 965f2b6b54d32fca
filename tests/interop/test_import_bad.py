"""Bad Bundles and files: rows rejected one by one with reasons (wrong resourceType, missing
fields, unknown units, 10 MB strings), and files that cannot be imported at all (not a Bundle,
NaN, JSON broken half-way, CSV not UTF-8) FAILED with a reason and nothing half-written."""

import csv
import io
import json
from typing import Any

import pytest

from interop import resources as emitted
from interop import services
from interop.importing import files
from interop.importing.tabular import TEMPLATE_COLUMNS
from interop.models import ImportJob
from interop.services import ImportRefused, import_run, import_submit
from patients.models import Observation, Patient

pytestmark = pytest.mark.django_db

TEN_MB = "Z" * (10 * 1024 * 1024)


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda job_id: None)


def patient_entry(n: int, **overrides: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Patient",
        "id": f"p{n}",
        "identifier": [{"system": emitted.MRN_SYSTEM, "value": f"BAD-{n}"}],
        "name": [{"family": f"Family{n}", "given": ["Given"]}],
        "gender": "male",
        "birthDate": "1970-01-01",
    }
    resource.update(overrides)
    return {"fullUrl": f"urn:uuid:p{n}", "resource": resource}


def observation_entry(
    n: int, *, value: Any = 120, unit: str = "mm[Hg]", **overrides: Any
) -> dict[str, Any]:
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": emitted.LOINC, "code": "8480-6"}]},
        "subject": {"reference": f"urn:uuid:p{n}"},
        "effectiveDateTime": "2024-03-01T08:00:00Z",
        "valueQuantity": {"value": value, "unit": unit},
    }
    resource.update(overrides)
    return {"resource": resource}


def bundle(*entries: dict[str, Any], kind: str = "transaction") -> bytes:
    return json.dumps({"resourceType": "Bundle", "type": kind, "entry": list(entries)}).encode()


def run(clinician: Any, team: Any, data: bytes) -> ImportJob:
    job = import_submit(by=clinician, care_team=team.public_id, upload=io.BytesIO(data))
    import_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def report(job: ImportJob) -> list[dict[str, str]]:
    text = b"".join(files.plain_chunks(job.report_name)).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_bad_rows_are_rejected_one_by_one_and_good_rows_land(clinician, team):
    data = bundle(
        patient_entry(1),
        observation_entry(1),
        {"resource": {"resourceType": "Encounter", "id": "e1"}},
        observation_entry(1, unit="furlongs", effectiveDateTime="2024-03-02T08:00:00Z"),
        observation_entry(1, value=None, effectiveDateTime="2024-03-03T08:00:00Z"),
        observation_entry(1, effectiveDateTime=None),
        observation_entry(1, code={"coding": [{"system": emitted.LOINC, "code": "0000-0"}]}),
        observation_entry(1, code={"text": TEN_MB}),
        patient_entry(2, birthDate=None),
        observation_entry(2),
        patient_entry(3, name=[{"family": TEN_MB, "given": ["Big"]}]),
        observation_entry(9),  # a patient not in the file
        {"resource": {"resourceType": "RiskAssessment", "id": "r1"}},
    )
    job = run(clinician, team, data)
    assert job.state == ImportJob.State.DONE, job.failure_reason
    assert (job.patients_created, job.observations_imported) == (1, 1)
    assert job.skipped == {"RiskAssessment": 1}
    rows = report(job)
    assert job.rejected == len(rows) == 10
    by_row = {int(r["row"]): r for r in rows}
    assert by_row[3]["field"] == "resourceType" and "Encounter" in by_row[3]["reason"]
    assert by_row[4]["field"] == "valueQuantity.unit" and by_row[4]["value"] == "furlongs"
    assert by_row[5]["field"] == "valueQuantity.value"
    assert by_row[6]["field"] == "effectiveDateTime" and "missing" in by_row[6]["reason"]
    assert by_row[7]["field"] == "code" and "0000-0" in by_row[7]["reason"]
    assert by_row[8]["field"] == "code.text" and "characters" in by_row[8]["reason"]
    assert by_row[9]["field"] == "birthDate"
    assert by_row[10]["reason"] == "Its patient (row 9) was rejected."
    assert by_row[11]["field"] == "name[0].family"
    assert "not in this file" in by_row[12]["reason"]
    # The 10 MB strings: refused by length, quoted by their first 200 characters at most.
    assert max(len(r["value"]) for r in rows) <= 201
    assert not Patient.objects.filter(family_name_index="").exists()
    assert Patient.objects.filter(created_by=clinician).count() == 1


def many(n: int = 300) -> list[dict[str, Any]]:
    """Patients and observations past the first 64 KiB of the file (what the upload looks at)."""
    return [e for k in range(n) for e in (patient_entry(k), observation_entry(k))]


def entries_first(**top: Any) -> bytes:
    """A Bundle whose `entry` comes before its resourceType and type (JSON does not order keys)."""
    return json.dumps({"entry": many(), **top}).encode()


# Damage past the first 64 KiB: the upload is accepted, the run finds it.
def test_two_patients_with_one_id_place_no_entry_by_it(clinician, team):
    first, second = patient_entry(1), patient_entry(2)
    second["fullUrl"] = first["fullUrl"]  # the same name for two patients
    by_mrn = observation_entry(1, effectiveDateTime="2024-03-09T08:00:00Z")
    by_mrn["resource"]["subject"] = {"identifier": {"system": emitted.MRN_SYSTEM, "value": "BAD-1"}}
    job = run(clinician, team, bundle(first, second, observation_entry(1), by_mrn))
    assert (job.patients_created, job.observations_imported) == (1, 1)
    rows = {int(r["row"]): r for r in report(job)}
    assert rows[2]["field"] == "id" and "same id or fullUrl" in rows[2]["reason"]
    assert "ambiguous" in rows[3]["reason"]
    assert Observation.objects.get().patient.mrn == "BAD-1"  # named by its MRN: placed


LATE = [
    (entries_first(resourceType="Patient", type="collection"), "not_a_bundle"),
    (entries_first(resourceType="Bundle", type="document"), "bundle_type"),
    (b'"value": NaN'.join(bundle(*many()).rsplit(b'"value": 120', 1)), "invalid_json"),
    (b'"value": Infinity'.join(bundle(*many()).rsplit(b'"value": 120', 1)), "invalid_json"),
    (bundle(*many())[:-150], "invalid_json"),
]
# What the first bytes show already: refused at the upload, nothing stored.
EARLY = [
    (json.dumps({"resourceType": "Patient", "id": "x"}).encode(), "not_a_bundle"),
    (bundle(patient_entry(1), kind="document"), "bundle_type"),
    (bundle(patient_entry(1), observation_entry(1)).replace(b": 120", b": NaN"), "invalid_json"),
    (bundle(patient_entry(1), observation_entry(1))[:-20], "invalid_json"),
]


@pytest.mark.parametrize(("data", "code"), LATE)
def test_a_file_that_cannot_be_imported_fails_with_a_reason_and_writes_nothing(
    clinician, team, data, code
):
    assert len(data) > files.HEAD_BYTES
    before = (Patient.objects.count(), Observation.objects.count())
    job = run(clinician, team, data)
    assert job.state == ImportJob.State.FAILED and job.failure_code == code
    assert job.failure_reason and "BAD-1" not in job.failure_reason
    assert (Patient.objects.count(), Observation.objects.count()) == before
    assert job.report_name == ""


@pytest.mark.parametrize(("data", "code"), EARLY)
def test_what_the_first_bytes_show_is_refused_at_the_upload(clinician, team, data, code):
    with pytest.raises(ImportRefused) as refused:
        import_submit(by=clinician, care_team=team.public_id, upload=io.BytesIO(data))
    assert refused.value.code == code
    assert not ImportJob.objects.exists()


def test_a_csv_that_stops_being_utf8_half_way_fails_and_writes_nothing(clinician, team):
    header = ",".join(TEMPLATE_COLUMNS)
    good = "U-1,Ada,Byron,1960-01-01,female,,,,8480-6,120,mm[Hg],2024-01-01T00:00:00Z"
    # Past the first 64 KiB (from which the upload's format is decided).
    data = (header + "\n" + (good + "\n") * 1000).encode() + b"U-2,\xff\xfe,x\n"
    assert len(data) > files.HEAD_BYTES
    job = run(clinician, team, data)
    assert job.state == ImportJob.State.FAILED and job.failure_code == "encoding"
    assert not Patient.objects.filter(created_by=clinician).exists()


def test_a_stored_file_altered_on_disk_fails_and_writes_nothing(clinician, team):
    job = import_submit(
        by=clinician, care_team=team.public_id, upload=io.BytesIO(bundle(patient_entry(1)))
    )
    path = files.path_of(job.file_name)
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0x01
    path.write_bytes(bytes(raw))
    import_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED and job.failure_code == "file_corrupt"
    assert not Patient.objects.filter(created_by=clinician).exists()
