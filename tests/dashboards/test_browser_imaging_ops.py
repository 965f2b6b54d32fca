"""The imaging operations dashboard in chromium: a radiologist opens it on a seeded day of the
queue; every chart draws, each has its table, the workers table shows who is alive, and no
patient is named. Screenshots: test-artifacts/screenshots/dashboards-imaging-ops*.png."""

import datetime as dt

import pytest
from django.utils import timezone

from imaging.models import Study, WorkerHeartbeat
from tests import factories
from tests.dashboards.browser import assert_charts_drawn, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EMAIL = "dr.ines.radiology@hospital.test"
FAILURES = (
    ("undecodable_pixels", "The pixels of this image cannot be decoded.", 4),
    ("gave_up", "The analysis did not complete after 3 attempts. Upload the image again.", 2),
    ("no_model", "No imaging model is active: an administrator must activate one.", 1),
)


def _study(patient, by, state, uploaded, *, took_s=0.0, **more):
    fields = {
        "patient": patient,
        "uploaded_by": by,
        "kind": Study.Kind.PNG,
        "file_name": "imaging/none.png",
        "size_bytes": 1000,
        "sha256": "0" * 64,
        "modality": "DX",
        "rows": 64,
        "columns": 64,
        "state": state,
        "uploaded_at": uploaded,
        "enqueued_at": uploaded,
    }
    if state in (Study.State.DONE, Study.State.FAILED):
        fields["finished_at"] = uploaded + dt.timedelta(seconds=took_s)
    fields.update(more)
    return Study.objects.create(**fields)


@pytest.fixture
def world(transactional_db):
    """A day of the queue, built before the page fixture: studies every hour (busier in the
    day), a few failures, work waiting now, one worker alive and one gone silent."""
    radiologist = factories.RadiologistFactory(email=EMAIL, full_name="Dr Inès Radiology")
    team = factories.care_team_make(name="Radiology", members=[radiologist])
    patient = factories.patient_make(
        team=team, by=None, given_name="Vasquez", family_name="Hollowell", mrn="MRN-5521"
    )
    now = timezone.now()
    for hour in range(24):
        start = now - dt.timedelta(hours=hour, minutes=50)
        for i in range(2 + (hour * 7) % 5):
            took = 6 + ((hour * 13 + i * 7) % 11) + (25 if i == 0 and hour % 4 == 0 else 0)
            _study(
                patient,
                radiologist,
                Study.State.DONE,
                start + dt.timedelta(minutes=4 * i),
                took_s=took,
                predicted_class="normal",
                abnormal_probability=0.1,
            )
    for n, (code, reason, count) in enumerate(FAILURES):
        for i in range(count):
            _study(
                patient,
                radiologist,
                Study.State.FAILED,
                now - dt.timedelta(hours=3 + 9 * n + i),
                took_s=2,
                failure_code=code,
                failure_reason=reason,
            )
    for minutes in (2, 9, 17):
        _study(patient, radiologist, Study.State.QUEUED, now - dt.timedelta(minutes=minutes))
    _study(patient, radiologist, Study.State.RUNNING, now - dt.timedelta(minutes=1))
    WorkerHeartbeat.objects.all().delete()  # only this world's workers
    WorkerHeartbeat.objects.create(
        hostname="celery@imaging-worker-1",
        pid=4242,
        queues=["default", "inference"],
        started_at=now - dt.timedelta(hours=6),
        last_seen_at=now,
    )
    WorkerHeartbeat.objects.create(
        hostname="celery@imaging-worker-2",
        pid=4343,
        queues=["inference"],
        started_at=now - dt.timedelta(days=1),
        last_seen_at=now - dt.timedelta(hours=2),
    )
    return {"radiologist": radiologist, "patient": patient}


def test_a_radiologist_sees_the_queue_throughput_latency_failures_and_workers(
    world, page, screenshot
):
    sign_in(page, EMAIL, "/dashboards/imaging/")
    page.wait_for_selector("#ops-tiles")
    inked = assert_charts_drawn(page)
    assert set(inked) == {"ops-throughput", "ops-latency", "ops-failures"}
    assert page.locator("#tile-queued").inner_text() == "3"
    assert page.locator("#tile-running").inner_text() == "1"
    assert page.locator("#tile-oldest").inner_text() == "17 min"
    # A real worker that another test of the run started may be beating too: the two rows of
    # this world are found by host name, and the tile counts them with any such worker.
    rows = page.locator("#workers-table tbody tr")
    others_alive = sum(
        1
        for i in range(rows.count())
        if "imaging-worker-" not in rows.nth(i).inner_text() and "Alive" in rows.nth(i).inner_text()
    )
    assert page.locator("#tile-workers").inner_text() == str(1 + others_alive)
    assert "Alive" in rows.filter(has_text="imaging-worker-1").inner_text()
    assert "Silent" in rows.filter(has_text="imaging-worker-2").inner_text()
    # The failures table names the reasons, and nothing on the page names the patient.
    failures = page.locator("#ops-failures")
    failures.locator("summary").click()
    assert "Undecodable pixels" in failures.locator("table").inner_text()
    text = page.locator("main").inner_text()
    for identifier in ("Vasquez", "Hollowell", "MRN-5521", str(world["patient"].public_id)):
        assert identifier not in text
    screenshot("dashboards-imaging-ops")


def test_a_quiet_portal_says_there_is_nothing_yet(transactional_db, page, screenshot):
    factories.RadiologistFactory(email=EMAIL)
    WorkerHeartbeat.objects.all().delete()
    sign_in(page, EMAIL, "/dashboards/imaging/")
    page.wait_for_selector("#ops-tiles")
    empty = frozenset({"ops-throughput", "ops-latency", "ops-failures"})
    assert assert_charts_drawn(page, allow_empty=empty) == {}
    # Unless a real worker of this test run has beaten again since the rows were deleted.
    assert page.locator("#workers-none").is_visible() or WorkerHeartbeat.objects.exists()
    assert "No study failed" in page.locator("#ops-failures .chart-empty").inner_text()
    screenshot("dashboards-imaging-ops-empty")
