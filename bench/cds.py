"""Latency of the CDS Hooks patient-view service under concurrent load, through a real server.

Builds its own world under a temporary folder with the test settings (a fresh SQLite database and
migrations; the same settings file the test suite uses, so nothing touches db.sqlite3 or var/),
registers a CDS client with a freshly generated key (RS384 by default, ES384 with --alg ES384),
and starts the portal under gunicorn (sync workers, 2 x cores + 1 by default) on a free port of
127.0.0.1. Then, after a warm-up that reaches every worker, C client threads each send R hook calls
back to back: POST /cds-services/health-mentor-recommendations with the realistic prefetch of the
tests (a 62-year-old diabetic, hypertensive smoker with atrial fibrillation: 11 observations, 4
conditions, a medication, an allergy; 7 cards back), a fresh hookInstance and a fresh signed JWT
(unique jti) per call. Tokens and bodies are made before the timed phase, so the figures are the
server's: HTTP, JWT verification, FHIR intake, the rules, card rows, the audit event, JSON out.

A call counts as an error unless it answers 200 with at least one card. The last line printed is
one JSON object: p50_ms, p99_ms (client-side round trip), requests, concurrency, errors, and
throughput_rps, workers, alg, cards_per_response besides. The specification's goal is "on the
order of 500 ms" (p99 <= 500 ms).

    .venv/bin/python bench/cds.py [--concurrency 8] [--requests 200] [--workers N] [--alg RS384]
"""

import argparse
import http.client
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages, bench.stats included

from bench.servers import free_port, gunicorn_start, gunicorn_stop  # noqa: E402
from bench.stats import percentile  # noqa: E402

REQUEST_TIMEOUT_S = 30
PHASE_LIMIT_S = 90  # the timed phase stops sending after this, whatever is left


# --sqlite-wal: what SQLite can do for concurrent writers (WAL journal, a writer takes the lock
# at BEGIN instead of upgrading mid-transaction, which turns lock waits into sleep-and-retry).
_WAL_SETTINGS = """from healthmentor.test_settings import *  # noqa: F403
DATABASES["default"]["OPTIONS"].update(  # noqa: F405
    transaction_mode="IMMEDIATE",
    init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
)
"""


def _setup(folder: Path, *, database_url: str, sqlite_wal: bool) -> dict[str, str]:
    """Django on the test settings with this run's database; the environment for the server."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "healthmentor.test_settings"
    if sqlite_wal:
        (folder / "bench_cds_settings.py").write_text(_WAL_SETTINGS)
        sys.path.insert(0, str(folder))
        os.environ["PYTHONPATH"] = os.pathsep.join([str(folder), str(ROOT)])
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench_cds_settings"
    os.environ["HEALTHMENTOR_TEST_RUN_DIR"] = str(folder)
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return dict(os.environ)


def _calls(count: int, key: Any, url: str) -> list[tuple[bytes, str]]:
    """`count` (body, token) pairs: a fresh hookInstance and a fresh jti each."""
    from django.utils import timezone

    from tests.recommendations import cds_helpers as h

    prefetch = h.prefetch_diabetic_hypertensive_smoker_with_af(timezone.localdate())
    calls = []
    for _ in range(count):
        body = h.hook_request(prefetch)
        calls.append((json.dumps(body).encode(), h.signed_token(key, aud=url)))
    return calls


def _call(port: int, path: str, body: bytes, token: str) -> tuple[float, int, int]:
    """(seconds, status, cards) of one hook call; status 0 when the connection failed."""
    started = time.perf_counter()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        response = connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - started
        connection.close()
    except OSError:
        return time.perf_counter() - started, 0, 0
    try:
        cards = len(json.loads(payload)["cards"]) if response.status == 200 else 0
    except (ValueError, KeyError, TypeError):
        cards = 0
    return elapsed, response.status, cards


def _load(
    port: int, path: str, calls: list[tuple[bytes, str]], concurrency: int
) -> list[tuple[float, int, int]]:
    """Send `calls` from `concurrency` threads, each its share back to back."""
    results: list[tuple[float, int, int]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + PHASE_LIMIT_S

    def worker(share: list[tuple[bytes, str]]) -> None:
        mine = []
        for body, token in share:
            if time.monotonic() > stop_at:
                break
            mine.append(_call(port, path, body, token))
        with lock:
            results.extend(mine)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for index in range(concurrency):
            pool.submit(worker, calls[index::concurrency])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200, help="per client thread")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--alg", choices=("RS384", "ES384"), default="RS384")
    parser.add_argument(
        "--database-url", default="", help="default: a fresh SQLite file in the run folder"
    )
    parser.add_argument("--sqlite-wal", action="store_true", help="SQLite in WAL mode")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="healthmentor-bench-cds-"))
    server = None
    try:
        env = _setup(folder, database_url=args.database_url, sqlite_wal=args.sqlite_wal)
        from recommendations.models import CdsClient
        from tests.recommendations import cds_helpers as h

        key = h.rsa_key() if args.alg == "RS384" else h.ec_key()
        CdsClient.objects.create(
            name="Bench EHR", issuer=h.ISSUER, public_key_pem=h.public_pem(key)
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}{h.SERVICE_PATH}"
        server = gunicorn_start(
            env,
            port=port,
            workers=args.workers,
            log=folder / "gunicorn.log",
            ready_path="/cds-services",
            extra=("--preload",),
        )

        warmup = _load(port, h.SERVICE_PATH, _calls(4 * args.workers, key, url), args.workers)
        warm_errors = sum(1 for _, status, cards in warmup if status != 200 or not cards)
        if warm_errors:
            raise RuntimeError(f"{warm_errors} warm-up calls failed; see {folder}/gunicorn.log")

        total = args.concurrency * args.requests
        calls = _calls(total, key, url)
        started = time.perf_counter()
        results = _load(port, h.SERVICE_PATH, calls, args.concurrency)
        wall = time.perf_counter() - started

        times_ms = [seconds * 1000 for seconds, _, _ in results]
        ok = [(status, cards) for _, status, cards in results if status == 200 and cards]
        errors = len(results) - len(ok) + (total - len(results))
        import django
        import jwt

        print(
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, Django {django.get_version()}, PyJWT {jwt.__version__}"
        )
        print(
            f"gunicorn: {args.workers} sync workers; SQLite; {args.alg}; "
            f"{args.concurrency} threads x {args.requests} calls in {wall:.1f} s"
        )
        statuses: dict[int, int] = {}
        for _, status, _ in results:
            statuses[status] = statuses.get(status, 0) + 1
        print(f"statuses: {statuses}")
        summary = {
            "p50_ms": round(percentile(times_ms, 50), 2),
            "p99_ms": round(percentile(times_ms, 99), 2),
            "max_ms": round(max(times_ms), 2),
            "requests": len(results),
            "concurrency": args.concurrency,
            "errors": errors,
            "throughput_rps": round(len(results) / wall, 1),
            "workers": args.workers,
            "alg": args.alg,
            "cards_per_response": round(sum(c for _, c in ok) / max(1, len(ok)), 2),
        }
        print(json.dumps(summary))
    finally:
        gunicorn_stop(server)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
