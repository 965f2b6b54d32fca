"""A real task through the configured broker to a real worker process, its result read from the
database.

Runs on the embedded filesystem broker (CELERY_BROKER_URL unset) and on Redis, with SQLite or
PostgreSQL, whichever the environment configures.
"""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_celery_results.models import TaskResult

from accounts.tasks import sessions_clear_expired_task
from healthmentor.celery import app

ROOT = Path(__file__).resolve().parent.parent.parent


def _session(*, expires_in: timedelta) -> str:
    store = SessionStore()
    store["marker"] = "x"
    store.create()
    Session.objects.filter(pk=store.session_key).update(expire_date=timezone.now() + expires_in)
    return str(store.session_key)


@pytest.mark.worker
@pytest.mark.slow
def test_a_task_round_trips_through_the_broker_and_the_result_is_stored_in_the_database(
    live_worker,
):
    expired = _session(expires_in=-timedelta(minutes=1))
    current = _session(expires_in=timedelta(minutes=30))

    result = sessions_clear_expired_task.delay()
    try:
        deleted = result.get(timeout=30)
    except Exception as exc:  # the worker's log says why; pytest alone would not show it
        pytest.fail(f"{exc!r}; worker log:\n{live_worker.output()}")

    assert deleted == 1
    assert not Session.objects.filter(pk=expired).exists()  # the worker saw the test's rows
    assert Session.objects.filter(pk=current).exists()
    stored = TaskResult.objects.get(task_id=result.id)
    assert stored.status == "SUCCESS"
    assert stored.result == "1"
    assert stored.task_name == "accounts.tasks.sessions_clear_expired_task"
    ran_on = TaskResult.objects.filter(task_id=result.id).values_list("worker", flat=True).get()
    assert ran_on == live_worker.nodename


@pytest.mark.worker
@pytest.mark.slow
def test_the_worker_consumes_the_default_and_inference_queues(live_worker):
    active = app.control.inspect(destination=[live_worker.nodename], timeout=5).active_queues()

    assert active is not None, live_worker.output()
    assert {q["name"] for q in active[live_worker.nodename]} == {"default", "inference"}


def test_celery_is_configured_for_safe_delivery():
    conf = app.conf

    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert list(conf.result_accept_content) == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.result_backend == "django-db"
    assert type(app.backend).__name__ == "DatabaseBackend"
    assert conf.task_default_queue == "default"
    assert conf.task_routes["imaging.tasks.*"] == {"queue": "inference"}


def test_redis_redelivers_a_task_only_after_its_hard_time_limit():
    """A task still running must not be handed to a second worker by Redis's visibility timeout."""
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_DEBUG": "true",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",  # read, never connected to
    }
    code = (
        "import json; from healthmentor import settings as s; "
        "print(json.dumps([s.CELERY_BROKER_TRANSPORT_OPTIONS, s.CELERY_TASK_TIME_LIMIT]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    options, hard_limit = json.loads(done.stdout)

    assert options["visibility_timeout"] > hard_limit
    if settings.CELERY_BROKER_URL.startswith("redis"):  # this run's own options too
        assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > hard_limit
