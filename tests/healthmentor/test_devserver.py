"""`python -m healthmentor.devserver`: one broker for three processes, stopped together."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from healthmentor import devserver
from tests.worker import broker_keys_delete

ROOT = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT_S = 60


def test_the_configured_broker_wins(monkeypatch):
    monkeypatch.setattr(devserver, "redis_answers", lambda: True)

    url, _ = devserver.broker_choose({"CELERY_BROKER_URL": "redis://cache.internal:6379/3"})

    assert url == "redis://cache.internal:6379/3"


def test_local_redis_when_it_answers(monkeypatch):
    monkeypatch.setattr(devserver, "redis_answers", lambda: True)

    assert devserver.broker_choose({})[0] == "redis://127.0.0.1:6379/0"


def test_the_embedded_broker_without_redis(monkeypatch):
    monkeypatch.setattr(devserver, "redis_answers", lambda: False)

    assert devserver.broker_choose({"CELERY_BROKER_URL": ""})[0] == "filesystem://"


def test_worker_consumes_both_queues_and_beat_keeps_its_schedule_where_settings_say():
    commands = devserver.commands(port=8123, reload=True)

    assert commands["web"][-1] == "127.0.0.1:8123"
    worker = commands["worker"]
    assert worker[worker.index("--queues") + 1] == "default,inference"
    assert worker[worker.index("--concurrency") + 1] == "2"
    assert "beat" in commands["beat"]
    assert "--noreload" in devserver.commands(port=8123, reload=False)["web"]


class Running:
    """A devserver process in a test's own folders, its output in a file."""

    def __init__(self, tmp_path: Path, port: int) -> None:
        self.port = port
        self.run_dir = tmp_path
        self.log = tmp_path / "devserver.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "healthmentor.test_settings",
            "HEALTHMENTOR_TEST_RUN_DIR": str(tmp_path),  # broker folder or key prefix, beat file
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "MEDIA_ROOT": str(tmp_path / "media"),
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "healthmentor.devserver", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> dict[str, int]:
        started = re.findall(r"devserver: (\w+) started, pid (\d+)", self.output())
        return {name: int(pid) for name, pid in started}

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            if " ready." in self.output() and "beat: Starting" in self.output():
                try:
                    url = f"http://127.0.0.1:{self.port}/health/live"
                    with urllib.request.urlopen(url, timeout=2) as response:
                        if response.status == 200:
                            return
                except OSError:
                    pass
            time.sleep(0.2)
        raise AssertionError(f"devserver not serving after {START_TIMEOUT_S} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for pgid in self.children().values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        # test_settings derives the Redis key prefix from the run folder's name.
        broker_keys_delete(os.environ["CELERY_BROKER_URL"], f"{self.run_dir.name}-")


def _alive_in_groups(pgids: set[int]) -> list[int]:
    """Processes (not zombies) still running in any of these process groups."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp in pgids and state != "Z":
            alive.append(int(entry.name))
    return alive


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def running(tmp_path, free_port):
    server = Running(tmp_path, free_port)
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.worker
def test_ctrl_c_stops_web_worker_and_beat(running):
    running.wait_until_serving()
    children = running.children()
    assert set(children) == {"web", "worker", "beat"}
    assert "devserver: broker " in running.output()
    assert f"http://127.0.0.1:{running.port}/" in running.output()

    os.kill(running.process.pid, signal.SIGINT)

    assert running.process.wait(timeout=30) == 0, running.output()
    assert _alive_in_groups(set(children.values())) == [], running.output()


@pytest.mark.slow
@pytest.mark.worker
def test_when_one_process_dies_the_others_are_stopped_and_it_fails(running):
    running.wait_until_serving()
    children = running.children()

    os.killpg(children["worker"], signal.SIGKILL)

    assert running.process.wait(timeout=30) != 0
    assert "worker exited" in running.output()
    assert _alive_in_groups(set(children.values())) == [], running.output()
