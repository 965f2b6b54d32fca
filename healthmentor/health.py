"""Liveness and readiness probes. They report components and timings, never data."""

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

Check = Callable[[], None]


class NotApplicable(Exception):
    """Raised by a check with nothing to check (no model active, say): left out of the answer."""


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _broker() -> None:
    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=2,
    ) as conn:
        # One retry at once: kombu's default 2 s pause would outlast a probe's own timeout.
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)


def _media_storage() -> None:
    root = Path(settings.MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    probe = root / f".ready-{uuid.uuid4().hex}"
    probe.write_bytes(b"ok")
    probe.unlink()


READINESS_CHECKS: dict[str, Check] = {
    "database": _database,
    "broker": _broker,
    "media_storage": _media_storage,
}


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """The process answers HTTP."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Every dependency a request needs answers; 503 naming the failed component otherwise."""
    checks: dict[str, dict[str, object]] = {}
    for name, check in READINESS_CHECKS.items():
        started = time.perf_counter()
        try:
            check()
            outcome: dict[str, object] = {"ok": True}
        except NotApplicable:
            continue
        except Exception as exc:  # any failure means not ready; the class name carries no data
            outcome = {"ok": False, "error": type(exc).__name__}
        outcome["ms"] = round((time.perf_counter() - started) * 1000, 1)
        checks[name] = outcome
    healthy = all(c["ok"] for c in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
