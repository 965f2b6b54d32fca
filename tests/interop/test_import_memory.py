"""An import's memory does not grow with its file: the Python heap's peak (tracemalloc) while a
file of 10,000 rows is imported stays within a small margin of the peak for 1,000 rows, in both
formats. (bench/import_memory.py measures the process's RSS on 10,000 and 100,000 observations,
every one written.)

What an import holds is a window of its file: one sealed chunk (1 MiB) decrypted, one read of the
JSON parser. Here the window is made small (16 KiB chunks and reads) so that both files span
many windows; with the production sizes a file under 1 MiB would simply be a smaller window.

To keep the test fast, both files hold the same 200 distinct observations of 20 patients (written
through the services) and fill the rest with repeats of them, which go through everything that
could hold the file (the streamed parse, the staging area, the grouping by patient, the duplicate
index, the report) but not the database writes, whose cost per row does not depend on the file.
"""

import csv
import datetime as dt
import gc
import io
import json
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from interop import resources as emitted
from interop import services
from interop.importing import fhir, files
from interop.importing.tabular import TEMPLATE_COLUMNS
from interop.models import ImportJob
from interop.services import import_run, import_submit

pytestmark = pytest.mark.django_db

PATIENTS = 20
DISTINCT = 200
START = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda job_id: None)


@pytest.fixture(autouse=True)
def small_windows(monkeypatch):
    monkeypatch.setattr(files, "SEAL_CHUNK_BYTES", 16 * 1024)
    monkeypatch.setattr(fhir, "READ_BYTES", 16 * 1024)


def _observation(n: int) -> tuple[int, float, str]:
    k = n % DISTINCT  # rows past DISTINCT repeat earlier ones
    return k % PATIENTS, 100.0 + k % 50, (START + dt.timedelta(hours=k)).isoformat()


def csv_data(rows: int, prefix: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(TEMPLATE_COLUMNS)
    for n in range(rows):
        p, value, at = _observation(n)
        writer.writerow(
            [
                f"{prefix}{p}",
                "Mem",
                f"Fam{p}",
                "1970-01-01",
                "male",
                "",
                "",
                "",
                "8480-6",
                value,
                "mm[Hg]",
                at,
            ]
        )
    return out.getvalue().encode()


def bundle_data(rows: int, prefix: str) -> bytes:
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"urn:uuid:{prefix}{p}",
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": emitted.MRN_SYSTEM, "value": f"{prefix}{p}"}],
                "name": [{"family": f"Fam{p}", "given": ["Mem"]}],
                "gender": "male",
                "birthDate": "1970-01-01",
            },
        }
        for p in range(PATIENTS)
    ]
    for n in range(rows - PATIENTS):
        p, value, at = _observation(n)
        entries.append(
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": emitted.LOINC, "code": "8480-6"}]},
                    "subject": {"reference": f"urn:uuid:{prefix}{p}"},
                    "effectiveDateTime": at,
                    "valueQuantity": {"value": value, "unit": "mm[Hg]"},
                }
            }
        )
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}).encode()


def heap_peak(user: Any, team: Any, data: bytes) -> tuple[int, ImportJob]:
    """The Python heap's peak above its level before the run, while the import runs."""
    job = import_submit(by=user, care_team=team.public_id, upload=io.BytesIO(data))
    del data
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        import_run(job_id=job.pk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    job.refresh_from_db()
    return peak - before, job


@pytest.mark.parametrize("make", [csv_data, bundle_data], ids=["csv", "fhir"])
def test_the_heap_does_not_grow_with_the_file(clinician, team, make: Callable[[int, str], bytes]):
    heap_peak(clinician, team, make(300, "W"))  # warm-up: modules, caches, the connection
    small_data, large_data = make(1_000, "S"), make(10_000, "L")
    assert len(large_data) > 9 * len(small_data)
    small, small_job = heap_peak(clinician, team, small_data)
    large, large_job = heap_peak(clinician, team, large_data)
    assert len(small_data) > 4 * files.SEAL_CHUNK_BYTES
    for job, rows in ((small_job, 1_000), (large_job, 10_000)):
        assert job.state == ImportJob.State.DONE, job.failure_reason
        assert (job.patients_created, job.observations_imported) == (PATIENTS, DISTINCT)
        assert job.rejected == rows - DISTINCT - (PATIENTS if make is bundle_data else 0)
    # Ten times the rows, the same heap (a margin for the allocator's noise).
    assert large < small * 1.5 + 512 * 1024, (small, large)
    assert large < 4 * 2**20, large
