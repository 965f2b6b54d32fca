"""Worker heartbeats: each Celery worker's main process says, every WORKER_HEARTBEAT_SECONDS, that
it is still there (a WorkerHeartbeat row), so that the imaging operations dashboard can count the
workers alive without asking the broker.

On `worker_ready` (sent in the main process once the consumer runs) a daemon thread starts: it
writes the row at once, then `last_seen_at` every interval, and closes its database connection
after each write, so that it holds none between beats and no pool child forked later inherits
one. On `worker_shutdown` (a warm shutdown) the thread stops and `stopped_at` is written. A worker
killed outright sends nothing: it stops beating and counts as silent after ALIVE_INTERVALS.
The receivers are connected in ImagingConfig.ready(); the web process never receives these
signals.
"""

import logging
import os
import socket
import threading
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone

from imaging.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

# Alive = not stopped and seen within this many intervals (a beat may be late by a busy database).
ALIVE_INTERVALS = 3
STOP_JOIN_S = 5.0


def heartbeat_interval_s() -> float:
    return max(0.1, float(settings.WORKER_HEARTBEAT_SECONDS))


def heartbeat_record_start(*, hostname: str, pid: int, queues: list[str]) -> WorkerHeartbeat:
    """The worker `hostname` has started: its row, created or reset (a restarted node keeps its
    name, so its row is reused; `stopped_at` is cleared)."""
    now = timezone.now()
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        hostname=hostname,
        defaults={
            "pid": pid,
            "queues": queues,
            "started_at": now,
            "last_seen_at": now,
            "stopped_at": None,
        },
    )
    return beat


def heartbeat_record_seen(*, hostname: str, pid: int, queues: list[str]) -> None:
    """`last_seen_at` = now; the row is written again if someone deleted it meanwhile."""
    now = timezone.now()
    if not WorkerHeartbeat.objects.filter(hostname=hostname).update(last_seen_at=now, pid=pid):
        heartbeat_record_start(hostname=hostname, pid=pid, queues=queues)


def heartbeat_record_stop(*, hostname: str) -> None:
    """The worker `hostname` shut down cleanly."""
    now = timezone.now()
    WorkerHeartbeat.objects.filter(hostname=hostname).update(stopped_at=now, last_seen_at=now)


class Heartbeat:
    """The daemon thread of one worker process: a first write, then one every `interval_s`."""

    def __init__(self, *, hostname: str, pid: int, queues: list[str], interval_s: float) -> None:
        self.hostname = hostname
        self.pid = pid
        self.queues = queues
        self.interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=STOP_JOIN_S)

    def _run(self) -> None:
        self._write(first=True)
        while not self._stopping.wait(self.interval_s):
            self._write(first=False)

    def _write(self, *, first: bool) -> None:
        try:
            if first:
                heartbeat_record_start(hostname=self.hostname, pid=self.pid, queues=self.queues)
            else:
                heartbeat_record_seen(hostname=self.hostname, pid=self.pid, queues=self.queues)
        except DatabaseError:
            # A database that is down or locked must not take the worker with it: the next beat
            # tries again, and the dashboard shows the worker silent meanwhile.
            logger.warning("worker heartbeat %s: write failed", self.hostname, exc_info=True)
        finally:
            connections.close_all()  # this thread's connections only


_running: Heartbeat | None = None


def _queues_of(consumer: Any) -> list[str]:
    task_consumer = getattr(consumer, "task_consumer", None)
    names = [queue.name for queue in getattr(task_consumer, "queues", None) or ()]
    if not names and getattr(consumer, "app", None) is not None:
        queues = consumer.app.amqp.queues
        names = list(queues.consume_from or queues)
    return sorted(set(names))


def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    global _running
    if _running is not None:  # a consumer restart (broker reconnect) sends it again
        return
    hostname = str(getattr(sender, "hostname", "") or socket.gethostname())
    _running = Heartbeat(
        hostname=hostname,
        pid=os.getpid(),
        queues=_queues_of(sender),
        interval_s=heartbeat_interval_s(),
    )
    _running.start()
    logger.info("worker heartbeat %s: every %s s", hostname, _running.interval_s)


def _on_worker_shutdown(sender: Any = None, **_: Any) -> None:
    global _running
    running, _running = _running, None
    if running is None:
        return
    running.stop()
    try:
        heartbeat_record_stop(hostname=running.hostname)
    except DatabaseError:
        logger.warning("worker heartbeat %s: stop not recorded", running.hostname, exc_info=True)
    finally:
        connections.close_all()


def heartbeat_signals_connect() -> None:
    """Connect the receivers (ImagingConfig.ready); connecting twice is harmless."""
    worker_ready.connect(_on_worker_ready, dispatch_uid="imaging.heartbeat.ready")
    worker_shutdown.connect(_on_worker_shutdown, dispatch_uid="imaging.heartbeat.shutdown")
