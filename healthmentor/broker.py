"""Which Celery broker a process uses when CELERY_BROKER_URL is not set.

Order: Redis on localhost:6379 if it answers, else an embedded kombu filesystem broker under var/.
The database stays the source of truth for every job, so a task lost by any broker is re-enqueued
by a sweeper; the embedded broker is a convenience for laptops, not a durability promise.
"""

import socket
from pathlib import Path
from typing import Any

FILESYSTEM_POLLING_INTERVAL_S = 0.01  # kombu's default of 1 s makes every round trip ~1 s


def redis_answers(host: str = "127.0.0.1", port: int = 6379, timeout_s: float = 0.3) -> bool:
    """True when something speaking Redis answers PING on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def filesystem_transport_options(var_dir: Path) -> dict[str, Any]:
    """kombu's filesystem transport: producers and consumers share one folder."""
    folder = var_dir / "broker"
    (folder / "processed").mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "processed_folder": str(folder / "processed"),
        # The exchange table; kombu's default is ./control, relative to wherever a process runs.
        "control_folder": str(folder / "control"),
        "store_processed": False,
        "polling_interval": FILESYSTEM_POLLING_INTERVAL_S,
    }


def default_broker_url() -> str:
    return "redis://127.0.0.1:6379/0" if redis_answers() else "filesystem://"
