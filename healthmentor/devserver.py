"""The laptop portal: web server, a real Celery worker and beat, stopped together.

    python -m healthmentor.devserver --port 8000

The broker is chosen once, here, and handed to all three processes (CELERY_BROKER_URL) so they
agree: the one set in the environment; else Redis on 127.0.0.1:6379 if it answers; else the embedded
filesystem broker under var/. Ctrl-C or SIGTERM stops all three; if one dies the others are stopped
and this exits non-zero.
"""

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

from kombu.utils.url import maybe_sanitize_url

from healthmentor.broker import redis_answers

ROOT = Path(__file__).resolve().parent.parent
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
EMBEDDED_BROKER_URL = "filesystem://"
STOP_GRACE_S = 10.0
_OUTPUT = threading.Lock()  # whole lines from the children's relays and from us


def broker_choose(environ: Mapping[str, str]) -> tuple[str, str]:
    """(broker URL, why it was chosen). Decided once so that web, worker and beat agree."""
    configured = environ.get("CELERY_BROKER_URL", "")
    if configured:
        return configured, "CELERY_BROKER_URL"
    if redis_answers():
        return LOCAL_REDIS_URL, "Redis answers on 127.0.0.1:6379"
    return EMBEDDED_BROKER_URL, "no Redis on 127.0.0.1:6379: embedded filesystem broker under var/"


def commands(*, port: int, reload: bool) -> dict[str, list[str]]:
    python = sys.executable
    web = [python, "manage.py", "runserver", f"127.0.0.1:{port}"]
    if not reload:
        web.append("--noreload")
    celery = [python, "-m", "celery", "-A", "healthmentor"]
    return {
        "web": web,
        "worker": [
            *celery,
            *("worker", "--queues", "default,inference", "--concurrency", "2"),
            *("--loglevel", "INFO"),
        ],
        # The schedule file is CELERY_BEAT_SCHEDULE_FILENAME (under var/).
        "beat": [*celery, "beat", "--loglevel", "INFO"],
    }


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    relay: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.relay = threading.Thread(target=self._relay, daemon=True)
        self.relay.start()

    def _relay(self) -> None:
        """Copies the child's output to ours, each line tagged with the child's name."""
        assert self.process.stdout is not None
        prefix = f"{self.name:>6} | ".encode()
        out: IO[bytes] = sys.stdout.buffer
        for line in iter(self.process.stdout.readline, b""):
            with _OUTPUT:
                out.write(prefix + line)
                out.flush()

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)  # the runserver reloader and the worker's pool too


def start(name: str, argv: Sequence[str], env: dict[str, str]) -> Child:
    process = subprocess.Popen(  # noqa: S603  (our own fixed commands)
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        # Its own process group: the terminal's Ctrl-C reaches only us, and we stop children in
        # order, each with everything it forked.
        start_new_session=True,
    )
    return Child(name=name, process=process)


def stop_all(children: Sequence[Child], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to every process group, wait up to `grace_s`, then SIGKILL what is left."""
    for child in children:
        if child.process.poll() is None:
            child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say(f"{child.name} still running after {grace_s:.0f} s, killing it")
        # Kill the group even after a clean exit: a pool child or reloader may have outlived it.
        child.signal_group(signal.SIGKILL)
        child.process.wait()
    for child in children:
        child.relay.join(timeout=1)


def _say(message: str) -> None:
    with _OUTPUT:
        sys.stdout.write(f"devserver: {message}\n")
        sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m healthmentor.devserver", description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--noreload", action="store_true", help="web server without code reloading")
    args = parser.parse_args(argv)

    # var/ holds beat's schedule (and the embedded broker); a fresh clone does not have it yet.
    (ROOT / "var").mkdir(exist_ok=True)
    broker_url, reason = broker_choose(os.environ)
    env = {**os.environ, "CELERY_BROKER_URL": broker_url, "PYTHONUNBUFFERED": "1"}
    env.setdefault("DJANGO_SETTINGS_MODULE", "healthmentor.settings")
    _say(f"broker {maybe_sanitize_url(broker_url)} ({reason})")

    stop_requested: list[str] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop_requested.append(signal.Signals(signum).name)

    # Signals only set a flag: no child is ever left half-started or unrecorded.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    children: list[Child] = []
    try:
        for name, command in commands(port=args.port, reload=not args.noreload).items():
            children.append(start(name, command, env))
            _say(f"{name} started, pid {children[-1].process.pid}")
        _say(f"open http://127.0.0.1:{args.port}/ (Ctrl-C stops everything)")
        while not stop_requested:
            for child in children:
                code = child.process.poll()
                if code is not None:
                    _say(f"{child.name} exited with {code}; stopping the others")
                    return code if code > 0 else 1
            time.sleep(0.2)
        _say(f"{stop_requested[0]}, stopping")
        return 0
    finally:
        stop_all(children)
        _say("stopped")


if __name__ == "__main__":
    sys.exit(main())
