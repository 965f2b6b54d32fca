"""A real Celery worker process for integration tests.

The worker is `celery -A healthmentor worker` in a subprocess, with the test settings, the test
run's broker (its folder for the embedded broker, its key prefix on Redis) and the TEST database, so
a task it runs reads and writes the rows a test made. Use it in tests marked `worker` and `slow`:

    @pytest.mark.worker
    @pytest.mark.slow
    def test_something(live_worker): ...

`live_worker` brings `transactional_db`: rows must be committed for the worker to see them. The
worker process is started once per test session, on first use.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from pytest_django import DjangoDbBlocker

from healthmentor.celery import app

READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class WorkerProcess:
    nodename: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def test_database_url() -> str:
    """DATABASE_URL of the test database this process is using (after pytest-django set it up)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        name = str(db["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("A worker process cannot share an in-memory SQLite test database.")
        return f"sqlite:///{Path(name).resolve()}"
    if db["ENGINE"].endswith("postgresql"):
        configured = os.environ.get("DATABASE_URL", "")
        if configured.startswith(("postgres://", "postgresql://")):
            # Keep every connection option of the configured URL; swap in the test database.
            parts = urlsplit(configured)
            return urlunsplit(parts._replace(path="/" + quote(str(db["NAME"]))))
        auth = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
        return f"postgres://{auth}@{host}/{quote(str(db['NAME']))}"
    raise RuntimeError(f"No worker DATABASE_URL for engine {db['ENGINE']}")


def worker_env(database_url: str) -> dict[str, str]:
    """The test process's environment (test_settings put its defaults there) for a child."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="healthmentor.test_settings",
        DATABASE_URL=database_url,
        # Same broker URL, broker folder (filesystem) or key prefix (Redis), and media folder.
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        HEALTHMENTOR_TEST_RUN_DIR=str(settings.TEST_RUN_DIR),
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        IMAGING_MODEL_ROOT=str(settings.IMAGING_MODEL_ROOT),
        PYTHONUNBUFFERED="1",
    )
    return env


def broker_keys_delete(broker_url: str, prefix: str) -> None:
    """Removes a test's Redis keys (queue bindings outlive the queues); no-op for other brokers."""
    if not broker_url.startswith("redis") or not prefix:
        return
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
    finally:
        client.close()


def _wait_until_ready(worker: WorkerProcess) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(
                f"Celery worker exited with {worker.process.returncode}:\n{worker.output()}"
            )
        if app.control.ping(destination=[worker.nodename], timeout=0.5):
            return
    raise RuntimeError(f"Celery worker not ready after {READY_TIMEOUT_S} s:\n{worker.output()}")


def _stop(worker: WorkerProcess) -> None:
    if worker.process.poll() is None:
        # Cold shutdown: a test is over, nothing it waits for is still running.
        worker.process.send_signal(signal.SIGQUIT)
        try:
            worker.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=STOP_TIMEOUT_S)


def worker_start(
    database_url: str,
    folder: Path,
    *,
    concurrency: int = 1,
    extra_env: dict[str, str] | None = None,
) -> WorkerProcess:
    """Start a worker on `default,inference` and wait until it answers a ping."""
    nodename = f"hm-test-{uuid.uuid4().hex[:8]}@pytest"
    log = folder / f"worker-{nodename.split('@')[0]}.log"
    env = {**worker_env(database_url), **(extra_env or {})}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "healthmentor", "worker"),
                *("--queues", "default,inference", "--concurrency", str(concurrency)),
                *("--pool", "prefork", "--hostname", nodename, "--loglevel", "INFO"),
                # Nothing to gain from other nodes, and each costs start-up seconds.
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                # Test-only task hooks (the database is flushed under this worker).
                *("--include", "tests.worker_hooks"),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so its pool children go with it
        )
    worker = WorkerProcess(nodename=nodename, process=process, log=log)
    try:
        _wait_until_ready(worker)
    except BaseException:
        _stop(worker)
        raise
    return worker


def worker_stop(worker: WorkerProcess) -> None:
    _stop(worker)


def worker_children(worker: WorkerProcess) -> list[int]:
    """PIDs of the worker's pool children (Linux /proc)."""
    children = Path(f"/proc/{worker.process.pid}/task/{worker.process.pid}/children")
    try:
        return [int(pid) for pid in children.read_text().split()]
    except OSError:
        return []


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: None,
    django_db_blocker: DjangoDbBlocker,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WorkerProcess]:
    """One real worker for the session, consuming the `default` and `inference` queues.

    Started after the test database exists and stopped before it is dropped.
    """
    with django_db_blocker.unblock():
        database_url = test_database_url()
    worker = worker_start(database_url, tmp_path_factory.mktemp("celery-worker"))
    try:
        yield worker
    finally:
        _stop(worker)
        prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "")
        broker_keys_delete(settings.CELERY_BROKER_URL, prefix)


@pytest.fixture
def live_worker(celery_worker_process: WorkerProcess, transactional_db: None) -> WorkerProcess:
    """The session's worker, for a test whose rows are committed where the worker can read them."""
    if celery_worker_process.process.poll() is not None:
        pytest.fail(f"The Celery worker died:\n{celery_worker_process.output()}")
    return celery_worker_process
