"""The portal under gunicorn for the benchmarks: started on a free port of 127.0.0.1, waited for
until a path answers 200, stopped. Django-free, like the rest of the bench harness."""

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from proof.drills.stack import free_port

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 60

__all__ = ["free_port", "gunicorn_start", "gunicorn_stop"]


def gunicorn_start(
    env: dict[str, str],
    *,
    port: int,
    workers: int,
    log: Path,
    ready_path: str,
    extra: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """gunicorn (sync workers) serving the portal with `env` over this process's environment;
    returns once `ready_path` answers 200. RuntimeError (with the log's tail) when it exits or
    does not answer within READY_TIMEOUT_S."""
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "healthmentor.wsgi:application"),
            *("--bind", f"127.0.0.1:{port}", "--workers", str(workers)),
            *("--worker-class", "sync", "--timeout", "60", "--log-level", "warning"),
            *extra,
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", ready_path)
            if connection.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    gunicorn_stop(server)
    raise RuntimeError(f"gunicorn did not answer within {READY_TIMEOUT_S} s; see {log}")


def gunicorn_stop(server: subprocess.Popen[bytes] | None, timeout_s: float = 30) -> None:
    """SIGTERM (a graceful stop), then SIGKILL after `timeout_s`."""
    if server is None or server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
