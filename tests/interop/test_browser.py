"""In chromium, with a real worker: a clinician opens Imports from the navigation, downloads the
CSV template, fills it in, uploads it; the job page follows the worker to DONE without a reload,
shows the counts and offers the rejected rows as a CSV; the same file imported again adds
nothing. Screenshots: interop-import-*."""

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from interop.importing.tabular import TEMPLATE_COLUMNS
from patients.models import Observation, Patient
from tests import factories
from tests.interop.test_import_service import csv_file, csv_line

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.slow]

EMAIL = "dr.import@hospital.test"
ROWS = (  # (MRN, systolic mmHg, time): the 400 is outside the plausible range
    ("BRW-1", "128", "2024-05-01T09:30:00Z"),
    ("BRW-1", "133", "2024-05-02T09:30:00Z"),
    ("BRW-2", "400", "2024-05-02T10:00:00Z"),
)


@pytest.fixture
def world(live_worker) -> dict[str, Any]:
    """Built before the page fixture, so no query runs while chromium holds the server."""
    clinician: Any = factories.ClinicianFactory(email=EMAIL, tours_seen=["clinician"])
    team = factories.care_team_make(name="Cardiology clinic", members=[clinician])
    return {"clinician": clinician, "team": team}


def upload_and_wait(page: Any, path: Path, team: Any) -> None:
    page.goto("/interop/imports/")
    page.set_input_files("#id_file", str(path))
    page.select_option("#id_care_team", str(team.public_id))
    page.click("form.upload-form button[type=submit]")
    page.wait_for_url("**/interop/imports/*/")
    page.evaluate("window.__marker = 1")
    page.wait_for_selector("#import-status[data-state=done]", timeout=90_000)
    assert page.evaluate("window.__marker") == 1, "the page reloaded"


def count(page: Any, name: str) -> str:
    return page.inner_text(f"#import-status [data-count={name}]").strip()


def test_a_clinician_imports_a_csv_made_from_the_template(world, page, screenshot, tmp_path):
    page.goto("/accounts/login/")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/patients/")
    page.click("header >> text=Imports")
    page.wait_for_url("**/interop/imports/")

    with page.expect_download() as got:
        page.click("text=Download the CSV template")
    template = Path(got.value.path()).read_text(encoding="utf-8")
    assert next(csv.reader(io.StringIO(template))) == list(TEMPLATE_COLUMNS)
    screenshot("interop-import-page")

    # The template's header and one line per reading (the service tests' rows).
    path = tmp_path / "clinic-export.csv"
    path.write_bytes(
        csv_file(
            *(
                csv_line(mrn=mrn, given="Brow", family="Ser", born="1961-04-04", value=value, at=at)
                for mrn, value, at in ROWS
            )
        )
    )
    upload_and_wait(page, path, world["team"])
    assert page.inner_text("[data-import-percent]").strip() == "100 %"
    # BRW-2 is created: only its reading is refused.
    assert (count(page, "patients_created"), count(page, "observations_imported")) == ("2", "2")
    assert count(page, "rejected") == "1"
    screenshot("interop-import-done")

    with page.expect_download() as got:
        page.click("text=Download the rejected rows (CSV)")
    rejected = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text("utf-8"))))
    assert [(r["row"], r["field"]) for r in rejected] == [("4", "observation_value")]
    assert "BRW-1" not in str(rejected)

    patients = Patient.objects.filter(created_by=world["clinician"])
    assert patients.count() == 2
    assert Observation.objects.filter(patient__in=patients).count() == 2

    # The same file again: everything is already there, nothing is added twice.
    upload_and_wait(page, path, world["team"])
    assert (count(page, "patients_created"), count(page, "patients_matched")) == ("0", "2")
    assert (count(page, "observations_imported"), count(page, "observations_present")) == (
        "0",
        "2",
    )
    assert Observation.objects.filter(patient__in=patients).count() == 2
    page.goto("/interop/imports/")
    assert page.locator("section[aria-labelledby=jobs-h] tbody tr").count() == 2
    screenshot("interop-import-list")
    assert page.console_errors == []
