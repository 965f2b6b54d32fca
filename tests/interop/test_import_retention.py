"""An import's files (the upload and the rejected-rows report, both PHI, sealed at rest) are
removed by the sweeper INTEROP_IMPORT_KEEP_DAYS after the job ended; the job keeps its counts,
and the page, the report download and the API say when and why the files went."""

import datetime as dt
import io

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from interop import services
from interop.importing import files
from interop.models import ImportJob
from interop.services import import_submit, imports_sweep
from tests.interop.test_import_service import csv_file, csv_line, run

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda job_id: None)


def ended(clinician, team, *, days_ago: float) -> ImportJob:
    """A done import with one rejected row (so a report), ended `days_ago` days ago."""
    job = run(clinician, team, csv_file(csv_line(), csv_line(mrn="BAD-1", value="999")))
    assert job.state == ImportJob.State.DONE and job.rejected == 1 and job.report_name
    job.finished_at = timezone.now() - dt.timedelta(days=days_ago)
    job.save(update_fields=["finished_at"])
    return job


def test_files_of_imports_past_their_keep_days_are_removed_once(clinician, team, settings):
    settings.INTEROP_IMPORT_KEEP_DAYS = 30
    old = ended(clinician, team, days_ago=31)
    recent = ended(clinician, team, days_ago=29)
    pending = import_submit(
        by=clinician, care_team=team.public_id, upload=io.BytesIO(csv_file(csv_line()))
    )
    for job in (old, recent):
        assert files.path_of(job.file_name).exists() and files.path_of(job.report_name).exists()

    report = imports_sweep()

    assert report.files_removed == [old.pk]
    old.refresh_from_db()
    assert old.files_removed_at is not None
    assert not files.path_of(old.file_name).exists()
    assert not files.path_of(old.report_name).exists()
    assert (old.patients_created, old.observations_imported, old.rejected) == (2, 1, 1)
    for job in (recent, pending):
        job.refresh_from_db()
        assert job.files_removed_at is None and files.path_of(job.file_name).exists()
    assert imports_sweep().files_removed == []


def test_the_page_the_download_and_the_api_say_the_files_went(clinician, team, client):
    job = ended(clinician, team, days_ago=400)
    imports_sweep()
    client.force_login(clinician)

    page = client.get(f"/interop/imports/{job.public_id}/").content.decode()
    assert "were removed on" in page and "kept 30 days after it ends" in page
    assert "Download the rejected rows" in page  # the button is there, hidden: no report URL
    assert f"/interop/imports/{job.public_id}/report.csv" not in page

    download = client.get(f"/interop/imports/{job.public_id}/report.csv")
    assert download.status_code == 410
    assert "kept 30 days" in download.content.decode()
    status = client.get(f"/interop/imports/{job.public_id}/status/").json()
    assert status["report_url"] == "" and status["counts"]["rejected"] == 1

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=clinician).key}")
    detail = api.get(f"/api/v1/imports/{job.public_id}/").json()
    assert detail["report_url"] is None and detail["files_removed_at"]
    gone = api.get(f"/api/v1/imports/{job.public_id}/report.csv")
    assert gone.status_code == 410 and "kept 30 days" in gone.json()["detail"]


def test_the_api_answers_each_refusal_of_the_report_with_its_status_and_words(clinician, team):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=clinician).key}")
    pending = import_submit(
        by=clinician, care_team=team.public_id, upload=io.BytesIO(csv_file(csv_line()))
    )
    waiting = api.get(f"/api/v1/imports/{pending.public_id}/report.csv")
    assert waiting.status_code == 404
    assert waiting.json()["detail"] == "The report is written when the import is done."

    damaged = ended(clinician, team, days_ago=1)
    path = files.path_of(damaged.report_name)
    sealed = bytearray(path.read_bytes())
    sealed[-1] ^= 1
    path.write_bytes(bytes(sealed))
    refused = api.get(f"/api/v1/imports/{damaged.public_id}/report.csv")
    assert refused.status_code == 409 and "integrity check" in refused.json()["detail"]

    path.unlink()
    missing = api.get(f"/api/v1/imports/{damaged.public_id}/report.csv")
    assert missing.status_code == 404 and "missing" in missing.json()["detail"]
