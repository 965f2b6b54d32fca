"""An import end to end with a real Celery worker: uploaded through the API (202 and a status
URL), run by the worker from the queue, polled until DONE, its counts right and its report
downloadable; the job page's status follows it."""

import csv
import io
import time

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from interop.importing.tabular import TEMPLATE_COLUMNS
from patients.models import Observation, Patient
from tests import factories

pytestmark = [pytest.mark.worker, pytest.mark.slow]

DEADLINE_S = 90


def test_an_import_uploaded_through_the_api_is_run_by_the_worker(live_worker, client):
    clinician = factories.ClinicianFactory()
    team = factories.care_team_make(members=[clinician])
    token = Token.objects.create(user=clinician)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    lines = io.StringIO()
    writer = csv.writer(lines)
    writer.writerow(TEMPLATE_COLUMNS)
    for value, at in (
        ("128", "2024-05-01T09:30:00Z"),
        ("131", "2024-05-02T09:30:00Z"),
        ("999", "2024-05-03T09:30:00Z"),  # outside the plausible range: rejected
    ):
        writer.writerow(
            [
                "WRK-1",
                "Ada",
                "Worker",
                "1960-02-02",
                "female",
                "",
                "",
                "",
                "8480-6",
                value,
                "mm[Hg]",
                at,
            ]
        )
    upload = io.BytesIO(lines.getvalue().encode())
    upload.name = "patients.csv"

    response = api.post(
        "/api/v1/imports/", {"file": upload, "care_team": str(team.public_id)}, format="multipart"
    )
    assert response.status_code == 202, response.content
    status_url = response.json()["status_url"]

    deadline = time.monotonic() + DEADLINE_S
    body = api.get(status_url).json()
    while body["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        body = api.get(status_url).json()
    assert body["state"] == "done", (body, live_worker.output()[-3000:])
    assert body["counts"]["patients_created"] == 1
    assert body["counts"]["observations_imported"] == 2
    assert body["counts"]["rejected"] == 1
    assert body["progress"]["percent"] == 100

    (patient,) = Patient.objects.filter(created_by=clinician)
    assert team in patient.care_teams.all()
    assert Observation.objects.filter(patient=patient).count() == 2

    report = api.get(body["report_url"])
    assert report.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert len(rows) == 1 and rows[0]["field"] == "observation_value" and rows[0]["row"] == "4"

    client.force_login(clinician)
    page_status = client.get(f"/interop/imports/{body['id']}/status/").json()
    assert page_status["state"] == "done" and page_status["report_url"]
