"""Worker heartbeats (imaging.heartbeat): the rows' writes, the daemon thread, the Celery signal
receivers, and real worker processes that start, beat and shut down.

The thread writes through its own database connection, so these tests commit their rows
(transactional_db) where it, and a worker process, can see them.
"""

import datetime as dt
import signal
import time
from types import SimpleNamespace

import pytest
from django.db import connection
from django.utils import timezone

from imaging import heartbeat
from imaging.heartbeat import (
    Heartbeat,
    heartbeat_record_seen,
    heartbeat_record_start,
    heartbeat_record_stop,
)
from imaging.models import WorkerHeartbeat
from imaging.selectors import ops_workers
from tests import worker as workers


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} after {timeout} s")


# --- the writes ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_start_creates_or_resets_the_row_of_a_hostname():
    first = heartbeat_record_start(hostname="celery@a", pid=10, queues=["default"])
    heartbeat_record_stop(hostname="celery@a")
    again = heartbeat_record_start(hostname="celery@a", pid=11, queues=["default", "inference"])
    assert again.pk == first.pk
    row = WorkerHeartbeat.objects.get(hostname="celery@a")
    assert row.pid == 11
    assert row.queues == ["default", "inference"]
    assert row.stopped_at is None
    assert row.started_at >= first.started_at


@pytest.mark.django_db
def test_seen_moves_last_seen_and_brings_back_a_deleted_row():
    heartbeat_record_start(hostname="celery@b", pid=20, queues=["default"])
    WorkerHeartbeat.objects.filter(hostname="celery@b").update(
        last_seen_at=timezone.now() - dt.timedelta(minutes=5)
    )
    heartbeat_record_seen(hostname="celery@b", pid=20, queues=["default"])
    row = WorkerHeartbeat.objects.get(hostname="celery@b")
    assert timezone.now() - row.last_seen_at < dt.timedelta(seconds=5)
    WorkerHeartbeat.objects.filter(hostname="celery@b").delete()
    heartbeat_record_seen(hostname="celery@b", pid=20, queues=["default"])
    assert WorkerHeartbeat.objects.get(hostname="celery@b").queues == ["default"]


@pytest.mark.django_db
def test_stop_marks_the_worker_stopped_for_the_dashboard():
    heartbeat_record_start(hostname="celery@c", pid=30, queues=[])
    heartbeat_record_stop(hostname="celery@c")
    states = {w["hostname"]: w["state"] for w in ops_workers(now=timezone.now())}
    assert states["celery@c"] == "stopped"


# --- the thread and the signal receivers ----------------------------------------------------


def test_the_thread_beats_every_interval_and_stops(transactional_db):
    beat = Heartbeat(hostname="celery@thread", pid=40, queues=["default"], interval_s=0.1)
    beat.start()
    try:
        first = _wait_for(
            lambda: WorkerHeartbeat.objects.filter(hostname="celery@thread").first(),
            10,
            "no heartbeat row",
        )
        _wait_for(
            lambda: (
                WorkerHeartbeat.objects.get(hostname="celery@thread").last_seen_at
                > first.last_seen_at
            ),
            10,
            "last_seen_at did not move",
        )
    finally:
        beat.stop()
    assert not beat._thread.is_alive()
    assert beat._thread.daemon


def test_a_database_error_does_not_kill_the_thread(transactional_db, monkeypatch):
    from django.db import OperationalError

    calls = []

    def broken(**kwargs):
        calls.append(kwargs)
        raise OperationalError("database is locked")

    monkeypatch.setattr(heartbeat, "heartbeat_record_seen", broken)
    beat = Heartbeat(hostname="celery@flaky", pid=41, queues=[], interval_s=0.05)
    beat.start()
    try:
        _wait_for(lambda: len(calls) >= 3, 10, "the thread stopped beating")
        assert beat._thread.is_alive()
    finally:
        beat.stop()


def test_ready_starts_the_heartbeat_and_shutdown_records_the_stop(transactional_db, settings):
    settings.WORKER_HEARTBEAT_SECONDS = 0.1
    consumer = SimpleNamespace(
        hostname="celery@signals",
        task_consumer=SimpleNamespace(
            queues=[SimpleNamespace(name="inference"), SimpleNamespace(name="default")]
        ),
    )
    heartbeat._on_worker_ready(sender=consumer)
    try:
        row = _wait_for(
            lambda: WorkerHeartbeat.objects.filter(hostname="celery@signals").first(),
            10,
            "no heartbeat row",
        )
        assert row.queues == ["default", "inference"]
        heartbeat._on_worker_ready(sender=consumer)  # a consumer restart: still one thread
    finally:
        heartbeat._on_worker_shutdown(sender=None)
    assert heartbeat._running is None
    assert WorkerHeartbeat.objects.get(hostname="celery@signals").stopped_at is not None
    heartbeat._on_worker_shutdown(sender=None)  # a second shutdown is harmless


# --- real worker processes ------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.slow
def test_a_real_worker_beats_while_it_runs_and_says_when_it_stops(transactional_db, tmp_path):
    """A worker of its own, beating every half second, shut down warm (SIGTERM)."""
    worker = workers.worker_start(
        workers.test_database_url(), tmp_path, extra_env={"WORKER_HEARTBEAT_SECONDS": "0.5"}
    )
    try:
        row = _wait_for(
            lambda: WorkerHeartbeat.objects.filter(hostname=worker.nodename).first(),
            30,
            "the worker wrote no heartbeat",
        )
        assert row.pid == worker.process.pid  # the main process, not a pool child
        assert row.queues == ["default", "inference"]
        assert row.stopped_at is None
        _wait_for(
            lambda: WorkerHeartbeat.objects.get(pk=row.pk).last_seen_at > row.last_seen_at,
            10,
            "last_seen_at did not move",
        )
        states = {w["hostname"]: w["state"] for w in ops_workers(now=timezone.now())}
        assert states[worker.nodename] == "alive"
    finally:
        worker.process.send_signal(signal.SIGTERM)  # warm shutdown: worker_shutdown is sent
        try:
            worker.process.wait(timeout=30)
        finally:
            workers.worker_stop(worker)
    stopped = WorkerHeartbeat.objects.get(hostname=worker.nodename)
    assert stopped.stopped_at is not None, worker.output()
    states = {w["hostname"]: w["state"] for w in ops_workers(now=timezone.now())}
    assert states[worker.nodename] == "stopped"
    connection.close()


@pytest.mark.worker
@pytest.mark.slow
def test_the_session_worker_is_counted_alive_on_the_dashboard(live_worker, client):
    """The shared worker (default interval): its row is there, or back within one beat after an
    earlier test's flush."""
    from django.conf import settings

    from tests import factories

    row = _wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname=live_worker.nodename).first(),
        settings.WORKER_HEARTBEAT_SECONDS * 2 + 10,
        "the session worker wrote no heartbeat",
    )
    assert row.pid == live_worker.process.pid
    client.force_login(factories.RadiologistFactory())
    page = client.get("/dashboards/imaging/")
    assert page.status_code == 200
    assert live_worker.nodename in page.content.decode()
    assert page.context["workers_alive"] >= 1
