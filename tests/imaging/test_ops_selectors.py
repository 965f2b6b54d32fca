"""The imaging operations aggregates (imaging.selectors, "dashboards: operations"): counts per
state, per hour, per failure code, upload-to-result percentiles computed in SQL, and the
workers' heartbeat states."""

import datetime as dt

import pytest
from django.utils import timezone

from imaging.models import Study, WorkerHeartbeat
from imaging.selectors import (
    ops_failures_by_code,
    ops_hours,
    ops_latency_by_hour,
    ops_queue_summary,
    ops_throughput_by_hour,
    ops_workers,
)
from tests.imaging.conftest import study_make

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 12, 30, tzinfo=dt.UTC)


def _study(patient, by, state, *, uploaded, finished=None, **more):
    return study_make(
        patient=patient, by=by, state=state, uploaded_at=uploaded, finished_at=finished, **more
    )


def test_queue_summary_counts_states_and_the_oldest_wait(patient, clinician):
    _study(patient, clinician, Study.State.QUEUED, uploaded=NOW - dt.timedelta(minutes=42))
    _study(patient, clinician, Study.State.QUEUED, uploaded=NOW - dt.timedelta(minutes=3))
    _study(patient, clinician, Study.State.RUNNING, uploaded=NOW - dt.timedelta(minutes=90))
    _study(
        patient,
        clinician,
        Study.State.FAILED,
        uploaded=NOW - dt.timedelta(hours=2),
        finished=NOW - dt.timedelta(hours=1),
    )
    _study(
        patient,
        clinician,
        Study.State.FAILED,
        uploaded=NOW - dt.timedelta(days=3),
        finished=NOW - dt.timedelta(days=3),
    )
    summary = ops_queue_summary(now=NOW)
    assert summary["queued"] == 2
    assert summary["running"] == 1
    assert summary["failed_24h"] == 1
    assert summary["oldest_waiting_at"] == NOW - dt.timedelta(minutes=42)


def test_queue_summary_of_an_empty_portal(db):
    summary = ops_queue_summary(now=NOW)
    assert summary == {"queued": 0, "running": 0, "oldest_waiting_at": None, "failed_24h": 0}


def test_hours_are_the_last_24_whole_hours():
    hours = ops_hours(now=NOW)
    assert len(hours) == 24
    assert hours[-1] == dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
    assert hours[0] == dt.datetime(2026, 3, 9, 13, tzinfo=dt.UTC)


def test_throughput_counts_submissions_by_upload_hour_and_results_by_finish_hour(
    patient, clinician
):
    h10 = dt.datetime(2026, 3, 10, 10, tzinfo=dt.UTC)
    _study(patient, clinician, Study.State.QUEUED, uploaded=h10 + dt.timedelta(minutes=5))
    _study(
        patient,
        clinician,
        Study.State.DONE,
        uploaded=h10 + dt.timedelta(minutes=50),
        finished=h10 + dt.timedelta(minutes=70),
    )
    _study(
        patient,
        clinician,
        Study.State.FAILED,
        uploaded=h10 + dt.timedelta(minutes=55),
        finished=h10 + dt.timedelta(minutes=56),
    )
    _study(patient, clinician, Study.State.QUEUED, uploaded=NOW - dt.timedelta(days=2))
    counts = ops_throughput_by_hour(since=NOW - dt.timedelta(hours=24))
    assert counts["submitted"] == {h10: 3}
    assert counts["done"] == {h10 + dt.timedelta(hours=1): 1}
    assert counts["failed"] == {h10: 1}


def test_latency_percentiles_per_hour_are_nearest_rank_in_sql(
    patient, clinician, django_assert_num_queries
):
    h9 = dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC)
    # 20 studies finished in the 9 o'clock hour, waits of 1..20 seconds.
    for seconds in range(20, 0, -1):
        finished = h9 + dt.timedelta(minutes=30)
        _study(
            patient,
            clinician,
            Study.State.DONE,
            uploaded=finished - dt.timedelta(seconds=seconds),
            finished=finished,
        )
    # One at 11 o'clock: p50 = p95 = its own wait.
    _study(
        patient,
        clinician,
        Study.State.DONE,
        uploaded=dt.datetime(2026, 3, 10, 11, 0, tzinfo=dt.UTC),
        finished=dt.datetime(2026, 3, 10, 11, 2, tzinfo=dt.UTC),
    )
    # Failed studies do not count.
    _study(
        patient,
        clinician,
        Study.State.FAILED,
        uploaded=h9,
        finished=h9 + dt.timedelta(hours=0, minutes=59),
    )
    with django_assert_num_queries(1):
        latency = ops_latency_by_hour(since=NOW - dt.timedelta(hours=24))
    assert latency[h9] == {"n": 20, "p50": 10.0, "p95": 19.0}
    assert latency[dt.datetime(2026, 3, 10, 11, tzinfo=dt.UTC)] == {
        "n": 1,
        "p50": 120.0,
        "p95": 120.0,
    }


def test_failures_by_code_most_frequent_first_with_a_title_and_a_reason(patient, clinician):
    for _ in range(3):
        _study(
            patient,
            clinician,
            Study.State.FAILED,
            uploaded=NOW - dt.timedelta(hours=5),
            finished=NOW - dt.timedelta(hours=5),
        )
    _study(
        patient,
        clinician,
        Study.State.FAILED,
        uploaded=NOW - dt.timedelta(hours=2),
        finished=NOW - dt.timedelta(hours=2),
        failure_code="gave_up",
        failure_reason="The analysis did not complete after 3 attempts.",
    )
    _study(
        patient,
        clinician,
        Study.State.FAILED,
        uploaded=NOW - dt.timedelta(days=9),
        finished=NOW - dt.timedelta(days=9),
        failure_code="no_model",
        failure_reason="No imaging model is active.",
    )
    failures = ops_failures_by_code(since=NOW - dt.timedelta(days=7))
    assert [(f["code"], f["n"]) for f in failures] == [("undecodable_pixels", 3), ("gave_up", 1)]
    assert failures[0]["title"] == "Undecodable pixels"
    assert failures[0]["reason"] == "The pixels are broken."
    assert failures[1]["title"] == "Gave up after repeated attempts"
    assert failures[1]["last_at"] == NOW - dt.timedelta(hours=2)


def test_workers_are_alive_stopped_or_silent(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 10
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        hostname="celery@old", pid=1, queues=["default"], last_seen_at=now - dt.timedelta(hours=2)
    )
    WorkerHeartbeat.objects.create(
        hostname="celery@fresh",
        pid=2,
        queues=["default", "inference"],
        last_seen_at=now - dt.timedelta(seconds=25),
    )
    WorkerHeartbeat.objects.create(
        hostname="celery@late", pid=3, queues=[], last_seen_at=now - dt.timedelta(seconds=31)
    )
    WorkerHeartbeat.objects.create(
        hostname="celery@gone", pid=4, queues=[], last_seen_at=now, stopped_at=now
    )
    states = {w["hostname"]: w["state"] for w in ops_workers(now=now)}
    assert states["celery@fresh"] == "alive"
    assert states["celery@late"] == "silent"
    assert states["celery@old"] == "silent"
    assert states["celery@gone"] == "stopped"
    mine = [w for w in ops_workers(now=now) if w["hostname"].startswith("celery@")]
    assert mine[0]["hostname"] == "celery@fresh"
    assert mine[0]["queues"] == ["default", "inference"]
