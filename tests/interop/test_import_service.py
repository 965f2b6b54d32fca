"""Imports through the services, on the database: patients join the chosen care team, one
transaction per patient, re-imports that create nothing, duplicates by MRN (the user's own, and
another team's, which is rejected without a word about it), duplicates within the file, the
rejected-rows report (sealed at rest, escaped against formula injection), and the job's life:
claim, redelivery, sweeper. The pages and the API: who may import, who sees which job."""

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditAction, AuditEvent
from imaging.filecrypt import MAGIC
from interop import services
from interop.importing import files
from interop.importing.tabular import TEMPLATE_COLUMNS
from interop.models import ImportJob
from interop.services import ImportRefused, import_run, import_submit, imports_sweep
from patients.models import Observation, Patient, Source
from patients.selectors import patients_visible_to
from patients.services import care_team_add_member
from tests import factories

pytestmark = pytest.mark.django_db

HEADER = ",".join(TEMPLATE_COLUMNS)


def csv_line(
    mrn: str = "IMP-1",
    given: str = "Grace",
    family: str = "Hopper",
    born: str = "1956-12-09",
    code: str = "8480-6",
    value: str = "128",
    unit: str = "mm[Hg]",
    at: str = "2024-05-01T09:30:00Z",
    sex: str = "female",
) -> str:
    cells = [mrn, given, family, born, sex, "", "", "", code, value, unit, at]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(cells)
    return out.getvalue()


def csv_file(*lines: str) -> bytes:
    return (HEADER + "\n" + "".join(lines)).encode()


def run(user: Any, team: Any, data: bytes) -> ImportJob:
    """Submit `data` and run its import here (the worker's code, in the test's transaction)."""
    job = import_submit(by=user, care_team=team.public_id, upload=io.BytesIO(data))
    import_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def report_of(job: ImportJob) -> list[dict[str, str]]:
    text = b"".join(files.plain_chunks(job.report_name)).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Tasks published here would wait in the test broker: record them instead."""
    published: list[int] = []
    monkeypatch.setattr(services, "_enqueue", published.append)
    return published


@pytest.fixture
def teammate(team):
    """A nurse on `team`: sees what the team sees, imports nothing."""
    user = factories.NurseFactory()
    care_team_add_member(team=team, user=user)
    return user


# --- what lands ----------------------------------------------------------------------------------


def test_a_csv_import_creates_patients_in_the_chosen_team_only(
    clinician, team, teammate, other_clinician
):
    job = run(
        clinician,
        team,
        csv_file(
            csv_line(),
            csv_line(value="131", at="2024-05-02T09:30:00Z"),
            csv_line(mrn="IMP-2", given="Alan", family="Turing", born="1954-06-23", sex="male"),
        ),
    )
    assert job.state == ImportJob.State.DONE, job.failure_reason
    assert (job.patients_created, job.observations_imported, job.rejected) == (2, 3, 0)
    assert job.rows_total == job.rows_done == 5 and job.percent == 100
    imported = Patient.objects.filter(created_by=clinician)
    assert imported.count() == 2
    for patient in imported:
        assert patients_visible_to(user=teammate).filter(pk=patient.pk).exists()
        assert not patients_visible_to(user=other_clinician).filter(pk=patient.pk).exists()
    observations = Observation.objects.filter(patient__in=imported)
    assert {o.source for o in observations} == {Source.IMPORT}
    assert sorted(o.value for o in observations) == [128.0, 128.0, 131.0]
    assert report_of(job) == []


def test_re_importing_the_same_file_creates_nothing(clinician, team):
    data = csv_file(csv_line(), csv_line(value="131", at="2024-05-02T09:30:00Z"))
    first = run(clinician, team, data)
    counts = (Patient.objects.count(), Observation.objects.count())
    again = run(clinician, team, data)
    assert (Patient.objects.count(), Observation.objects.count()) == counts
    assert (first.patients_created, first.observations_imported) == (1, 2)
    assert (again.patients_created, again.patients_matched) == (0, 1)
    assert (again.observations_imported, again.observations_present, again.rejected) == (0, 2, 0)
    assert again.sha256 == first.sha256


def test_an_observation_in_another_unit_is_the_same_observation(clinician, team):
    run(clinician, team, csv_file(csv_line(code="2345-7", value="99.088", unit="mg/dL")))
    again = run(clinician, team, csv_file(csv_line(code="2345-7", value="5.5", unit="mmol/L")))
    assert (again.observations_present, again.observations_imported) == (1, 0)


def test_a_duplicate_row_within_the_file_is_rejected_naming_the_first(clinician, team):
    job = run(clinician, team, csv_file(csv_line(), csv_line(), csv_line(value="130")))
    assert (job.observations_imported, job.rejected) == (2, 1)
    (row,) = report_of(job)
    assert row["row"] == "3" and row["reason"] == "Duplicate of row 2 in this file."


def test_a_line_whose_patient_columns_differ_is_rejected_with_its_observation(clinician, team):
    job = run(clinician, team, csv_file(csv_line(), csv_line(born="1956-12-10", value="130")))
    assert (job.patients_created, job.observations_imported, job.rejected) == (1, 1, 2)
    first, second = report_of(job)
    assert first["field"] == "birth_date" and "same MRN as row 2" in first["reason"]
    assert second["row"] == "3" and second["field"] == "mrn"


def test_an_existing_patient_the_user_sees_is_matched_not_duplicated(clinician, team, patient):
    line = csv_line(
        mrn=patient.mrn,
        given=patient.given_name,
        family=patient.family_name,
        born=patient.date_of_birth.isoformat(),
        sex=patient.sex,
    )
    job = run(clinician, team, csv_file(line))
    assert (job.patients_created, job.patients_matched, job.observations_imported) == (0, 1, 1)
    assert patient.observations.count() == 1
    # The match does not change the record's demographics.
    renamed = line.replace(patient.given_name, "Renamed")
    job = run(clinician, team, csv_file(renamed))
    patient.refresh_from_db()
    assert job.patients_matched == 1 and patient.given_name != "Renamed"


def test_an_mrn_of_the_users_patient_with_another_birth_date_is_rejected(clinician, team, patient):
    job = run(clinician, team, csv_file(csv_line(mrn=patient.mrn, born="1901-01-01")))
    assert (job.patients_matched, job.observations_imported, job.rejected) == (0, 0, 2)
    patient_row, observation_row = report_of(job)
    assert patient_row["field"] == "birth_date" and "another birth date" in patient_row["reason"]
    assert observation_row["reason"] == "Its patient (row 2) was rejected."


def test_an_mrn_of_another_teams_patient_is_rejected_revealing_nothing(
    clinician, team, other_clinician
):
    theirs = factories.patient_make(
        team=other_clinician.groups.get(name__startswith="team:").care_team,
        given_name="Secretname",
        family_name="Otherteam",
    )
    job = run(clinician, team, csv_file(csv_line(mrn=theirs.mrn)))
    assert (job.patients_created, job.patients_matched, job.observations_imported) == (0, 0, 0)
    patient_row, observation_row = report_of(job)
    assert patient_row["reason"] == "MRN belongs to a patient outside your care teams."
    assert observation_row["reason"] == "Its patient (row 2) was rejected."
    report_text = json.dumps(report_of(job))
    assert "Secretname" not in report_text and "Otherteam" not in report_text
    assert theirs.observations.count() == 0


def test_an_admin_imports_into_any_team_and_matches_any_patient(admin_user, team, patient):
    line = csv_line(
        mrn=patient.mrn,
        given=patient.given_name,
        family=patient.family_name,
        born=patient.date_of_birth.isoformat(),
        sex=patient.sex,
    )
    job = run(admin_user, team, csv_file(line, csv_line(mrn="ADM-1")))
    assert (job.patients_created, job.patients_matched, job.observations_imported) == (1, 1, 2)


# --- one transaction per patient -----------------------------------------------------------------


def test_a_failure_inside_a_patient_leaves_none_of_that_patient_and_a_retry_completes(
    clinician, team, monkeypatch
):
    data = csv_file(
        csv_line(mrn="TX-1"),
        csv_line(mrn="TX-2", value="140"),
        csv_line(mrn="TX-2", value="141", at="2024-05-03T09:30:00Z"),
    )
    job = import_submit(by=clinician, care_team=team.public_id, upload=io.BytesIO(data))
    from interop.importing import apply

    real = apply.WRITERS["observation"]

    def flaky(**kwargs: Any) -> Any:
        if kwargs["value"] == 141.0:
            raise RuntimeError("the database went away")
        return real(**kwargs)

    monkeypatch.setitem(apply.WRITERS, "observation", flaky)
    with pytest.raises(services.TransientImportError):
        import_run(job_id=job.pk)
    # TX-1 committed; TX-2 (its patient and first observation) rolled back with its transaction.
    assert Patient.objects.filter(created_by=clinician).count() == 1
    assert Observation.objects.count() == 1
    job.refresh_from_db()
    assert job.state == ImportJob.State.QUEUED  # given back for the retry

    monkeypatch.setitem(apply.WRITERS, "observation", real)
    assert import_run(job_id=job.pk).outcome == "done"
    job.refresh_from_db()
    assert (job.patients_created, job.patients_matched) == (1, 1)
    assert (job.observations_imported, job.observations_present) == (2, 1)
    assert Observation.objects.count() == 3


def test_a_rejected_entry_does_not_stop_its_patients_other_rows(clinician, team):
    job = run(
        clinician,
        team,
        csv_file(
            csv_line(),
            csv_line(value="999"),  # outside the plausible range
            csv_line(value="125", at=(timezone.now() + dt.timedelta(days=2)).isoformat()),  # future
            csv_line(value="126", at="2024-05-04T09:30:00Z"),
        ),
    )
    assert (job.patients_created, job.observations_imported, job.rejected) == (1, 2, 2)
    plausible, future = report_of(job)
    assert plausible["field"] == "observation_value" and "plausible" in plausible["reason"]
    assert future["field"] == "observation_time" and "future" in future["reason"]


# --- the report ----------------------------------------------------------------------------------


def test_the_report_is_sealed_and_escaped_against_formula_injection(clinician, team):
    job = run(clinician, team, csv_file(csv_line(mrn="=HYPERLINK(1)", value="=1+2")))
    raw = files.path_of(job.report_name).read_bytes()
    assert raw.startswith(MAGIC) and b"HYPERLINK" not in raw
    assert files.path_of(job.file_name).read_bytes().startswith(MAGIC)
    text = b"".join(files.plain_chunks(job.report_name)).decode()
    (row,) = report_of(job)
    assert row["value"] == "'=1+2" and row["mrn"] == "'=HYPERLINK(1)"
    assert '"=' not in text  # no cell starts with a formula


# --- refusals at upload --------------------------------------------------------------------------


def stored_files() -> list[Path]:
    root = Path(str(settings.MEDIA_ROOT)) / files.FOLDER
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "unknown_format"),
        (b"name,birth\nAda,1961\n", "csv_header"),
        (b"", "empty_file"),
        (b"[]", "not_a_bundle"),
    ],
)
def test_a_file_refused_by_content_leaves_nothing(clinician, team, data, code):
    before = stored_files()
    with pytest.raises(ImportRefused) as refused:
        import_submit(by=clinician, care_team=team.public_id, upload=io.BytesIO(data))
    assert refused.value.code == code
    assert stored_files() == before and not ImportJob.objects.exists()


def test_a_file_over_the_limit_is_refused_while_received(clinician, team, settings):
    settings.INTEROP_IMPORT_MAX_BYTES = 100 * 1024
    before = stored_files()
    data = csv_file(
        *[
            csv_line(value=str(100 + n % 50), at=f"2024-01-01T00:{n % 60:02d}:{n // 60 % 60:02d}Z")
            for n in range(3000)
        ]
    )
    assert len(data) > settings.INTEROP_IMPORT_MAX_BYTES
    with pytest.raises(ImportRefused) as refused:
        import_submit(by=clinician, care_team=team.public_id, upload=io.BytesIO(data))
    assert refused.value.code == "too_large"
    assert stored_files() == before


def test_only_clinicians_and_admins_import_and_only_into_their_teams(
    clinician, team, other_clinician
):
    nurse = factories.NurseFactory()
    with pytest.raises(PermissionDenied):
        import_submit(by=nurse, care_team=team.public_id, upload=io.BytesIO(csv_file()))
    with pytest.raises(ValidationError):
        import_submit(by=other_clinician, care_team=team.public_id, upload=io.BytesIO(csv_file()))
    assert not ImportJob.objects.exists()


# --- the job's life ------------------------------------------------------------------------------


def test_a_submit_enqueues_after_commit_and_a_redelivery_claims_nothing(
    clinician, team, no_broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = import_submit(
            by=clinician, care_team=team.public_id, upload=io.BytesIO(csv_file(csv_line()))
        )
    assert no_broker == [job.pk]
    assert import_run(job_id=job.pk).outcome == "done"
    assert import_run(job_id=job.pk).outcome == "not_claimed"
    job.refresh_from_db()
    assert (job.attempts, job.observations_imported) == (1, 1)
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_type="interop.importjob"
    ).exists()


def test_the_sweeper_requeues_lost_jobs_and_fails_exhausted_ones(clinician, team, no_broker):
    lost = import_submit(by=clinician, care_team=team.public_id, upload=io.BytesIO(csv_file()))
    dead = import_submit(by=clinician, care_team=team.public_id, upload=io.BytesIO(csv_file()))
    spent = import_submit(by=clinician, care_team=team.public_id, upload=io.BytesIO(csv_file()))
    long_ago = timezone.now() - dt.timedelta(hours=1)
    ImportJob.objects.filter(pk=lost.pk).update(enqueued_at=long_ago)
    ImportJob.objects.filter(pk=dead.pk).update(
        state=ImportJob.State.RUNNING, lease_expires_at=long_ago, attempts=1
    )
    ImportJob.objects.filter(pk=spent.pk).update(
        state=ImportJob.State.RUNNING,
        lease_expires_at=long_ago,
        attempts=settings.INTEROP_IMPORT_MAX_ATTEMPTS,
    )
    report = imports_sweep()
    assert sorted(report.requeued) == sorted([lost.pk, dead.pk]) and report.failed == [spent.pk]
    assert sorted(no_broker) == sorted([lost.pk, dead.pk])
    spent.refresh_from_db()
    assert spent.state == ImportJob.State.FAILED and spent.failure_code == "gave_up"
    assert "importing the same file again" in spent.failure_reason
    assert imports_sweep().requeued == []  # the deadlines start again


def test_a_run_whose_claim_was_taken_stops_writing(clinician, team, monkeypatch):
    job = import_submit(
        by=clinician,
        care_team=team.public_id,
        upload=io.BytesIO(csv_file(csv_line(mrn="A-1"), csv_line(mrn="A-2"))),
    )
    from interop.importing import apply

    real = apply.Importer._patient_group

    def taken_after_first(self: Any, row: Any, entries: Any) -> None:
        real(self, row, entries)
        ImportJob.objects.filter(pk=job.pk).update(claim_token=None)  # another worker's now

    monkeypatch.setattr(apply.Importer, "_patient_group", taken_after_first)
    assert import_run(job_id=job.pk).outcome == "lost_claim"
    assert Patient.objects.filter(created_by=clinician).count() == 1


# --- the pages -----------------------------------------------------------------------------------


def test_the_import_page_uploads_and_the_job_page_shows_progress(client, clinician, team):
    client.force_login(clinician)
    assert client.get("/interop/imports/").status_code == 200
    upload = io.BytesIO(csv_file(csv_line()))
    upload.name = "patients.csv"
    response = client.post("/interop/imports/", {"file": upload, "care_team": str(team.public_id)})
    job = ImportJob.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/interop/imports/{job.public_id}/"
    )
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"data-import-status" in page.content
    status = client.get(f"/interop/imports/{job.public_id}/status/").json()
    assert status["state"] == "queued" and status["pending"] and status["report_url"] == ""
    import_run(job_id=job.pk)
    status = client.get(f"/interop/imports/{job.public_id}/status/").json()
    assert status["state"] == "done" and status["percent"] == 100
    assert status["counts"]["observations_imported"] == 1
    report = client.get(status["report_url"])
    assert report.status_code == 200 and report["Content-Type"].startswith("text/csv")
    assert AuditEvent.objects.filter(
        action=AuditAction.EXPORT, object_type="interop.importjob"
    ).exists()


def test_a_refused_upload_is_a_400_with_the_reason_and_keeps_nothing(client, clinician, team):
    client.force_login(clinician)
    upload = io.BytesIO(b"GIF89a" + bytes(50))
    upload.name = "patients.json"  # the name does not decide
    response = client.post("/interop/imports/", {"file": upload, "care_team": str(team.public_id)})
    assert response.status_code == 400 and b"neither a FHIR Bundle" in response.content
    assert not ImportJob.objects.exists()


def test_the_template_downloads_and_imports_as_an_empty_file(client, clinician, team):
    client.force_login(clinician)
    template = client.get("/interop/imports/template.csv")
    assert template.status_code == 200
    assert next(csv.reader(io.StringIO(template.content.decode()))) == list(TEMPLATE_COLUMNS)
    job = run(clinician, team, template.content)
    assert job.state == ImportJob.State.DONE and job.rows_total == 0


def test_who_may_see_a_job(client, clinician, team, other_clinician, admin_user):
    job = run(clinician, team, csv_file(csv_line()))
    nurse = factories.NurseFactory()
    for user, expected in ((other_clinician, 404), (nurse, 404), (clinician, 200)):
        client.force_login(user)
        for suffix in ("", "status/", "report.csv"):
            assert client.get(f"/interop/imports/{job.public_id}/{suffix}").status_code == expected
    client.force_login(nurse)
    assert client.get("/interop/imports/").status_code == 403
    assert client.get("/interop/imports/template.csv").status_code == 403


# --- the API -------------------------------------------------------------------------------------


def api_client(user: Any) -> APIClient:
    api = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


def test_the_api_accepts_a_file_with_202_and_a_status_url(clinician, team):
    api = api_client(clinician)
    upload = io.BytesIO(csv_file(csv_line()))
    upload.name = "x.csv"
    response = api.post(
        "/api/v1/imports/", {"file": upload, "care_team": str(team.public_id)}, format="multipart"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == body["status_url"] and body["format"] == "csv"
    job = ImportJob.objects.get(public_id=body["id"])
    import_run(job_id=job.pk)
    detail = api.get(body["status_url"]).json()
    assert detail["state"] == "done" and detail["counts"]["observations_imported"] == 1
    assert detail["failure"] is None and detail["report_url"].endswith("/report.csv")
    assert api.get(detail["report_url"]).status_code == 200
    assert api.get("/api/v1/imports/").json()["count"] == 1


def test_the_api_refuses_by_content_role_and_owner(clinician, team, other_clinician):
    api = api_client(clinician)
    upload = io.BytesIO(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj")
    upload.name = "x.csv"
    response = api.post(
        "/api/v1/imports/", {"file": upload, "care_team": str(team.public_id)}, format="multipart"
    )
    assert response.status_code == 400 and response.json()["code"] == "unknown_format"
    nurse = factories.NurseFactory()
    upload = io.BytesIO(csv_file())
    upload.name = "x.csv"
    response = api_client(nurse).post(
        "/api/v1/imports/", {"file": upload, "care_team": str(team.public_id)}, format="multipart"
    )
    assert response.status_code == 403
    job = run(clinician, team, csv_file(csv_line()))
    assert api_client(other_clinician).get(f"/api/v1/imports/{job.public_id}/").status_code == 404
    assert api_client(other_clinician).get("/api/v1/imports/").json()["count"] == 0
