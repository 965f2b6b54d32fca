"""An authenticated, permission-filtered API list page against a bare Django JSON view doing the
same data work, under load.

All three targets are served by one gunicorn (sync workers, 127.0.0.1, a free port) on a
throwaway database (a PostgreSQL of this run's own, on a free port with its data under a
temporary folder, started with proof/drills/stack.py; SQLite under the temporary folder with
`--database sqlite` or where PostgreSQL's binaries are missing), analyzed after it is filled as
autovacuum would, and loaded side by side in one run:

  api     GET /api/v1/patients/ with `Authorization: Token ...` as a clinician of one care team,
          while another team's patients are in the database too: token authentication,
          throttling, the care-team permission filter, DRF's pagination (count + page), the
          serializer, the audit event of the read (hash-chained), DRF's JSON renderer.
  bare    GET /bench/bare/?team=...: a plain Django function view (bench/api_load_urls.py, a
          bench-only URLconf; never in the product's URLs) that reads the same page of the same
          patients (the team's, by a plain join) in the same order, with the same fields
          decrypted by the same encrypted model fields, the same count, the same creator and
          care-team lookups, and answers `JsonResponse`: no authentication, no permission
          filter, no DRF, no throttling, no audit. The run checks that its count and results
          equal the API's, field for field.
  static  GET /bench/static/: the API page's JSON bytes, read once from a file and answered
          again: no database, no decryption (informational: `ratio_vs_static`).

So throughput_ratio = req/s(api) / req/s(bare) measures what token authentication, the
care-team filter, DRF and the audit of the read cost on top of the data work itself; all three
go through the same middleware.

The load comes from this process: N connections (default 20) as asyncio tasks, each sending one
request per connection, back to back (gunicorn's sync workers close every connection). locust was
the alternative: it needs gevent's monkey-patching of the whole process, and its own CPU on a
2-core machine; a closed loop of raw HTTP/1.1 requests costs less and is the same for every
target. After a warm-up, the targets take turns for `--rounds` phases of `--seconds` each (api
and bare swap places every round, static comes third), so they see the same machine state.

The query count per request is measured in process (django.test.Client with the token, queries
captured) at page sizes 1, 25 and 100: `queries_flat` is true when it is the same at every size.

The last line printed is one JSON object: throughput_ratio = req/s(api) / req/s(bare) (goal
>= 0.5), p99_ms of the API at N connections (goal <= 250), queries_flat, ratio_vs_static, and
the detail.

    .venv/bin/python bench/api_load.py [--seconds 5] [--rounds 3] [--connections 20]
                                       [--workers CORES+1] [--patients 120] [--database sqlite]
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.servers import free_port, gunicorn_start, gunicorn_stop  # noqa: E402
from bench.stats import percentile  # noqa: E402
from proof.drills.stack import PG_BIN, Postgres  # noqa: E402  (Django-free)

API = "/api/v1/patients/"
BARE = "/bench/bare/"
STATIC = "/bench/static/"
PAGE_SIZES = (1, 25, 100)


def _setup(folder: Path, database_url: str) -> dict[str, str]:
    """Django on the bench settings with this run's own database and folders; the environment
    that the gunicorn process gets as well."""
    env = {
        "DJANGO_SETTINGS_MODULE": "bench.api_load_settings",
        "HEALTHMENTOR_TEST_RUN_DIR": str(folder),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "BENCH_BARE_BODY": str(folder / "bare.json"),
    }
    os.environ.update(env)
    import django

    django.setup()
    return env


def _world(visible: int, others: int) -> tuple[str, str]:
    """A clinician on a care team with `visible` patients, another team with `others` the
    clinician must not see; returns the clinician's API token and the public id of their team.
    The tables are then ANALYZEd, as autovacuum does soon after a load: without statistics
    PostgreSQL plans the permission filter as if the tables were empty (4 ms instead of 0.5)."""
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from accounts.models import Role, User
    from accounts.services import role_groups_ensure, user_set_role
    from patients.services import care_team_add_member, care_team_create, patient_create

    call_command("migrate", verbosity=0)
    role_groups_ensure()
    users = []
    for name in ("mine", "theirs"):
        user = User.objects.create_user(
            f"bench.{name}@hospital.test", "bench-password-not-used-1", full_name=f"Bench {name}"
        )
        user_set_role(user=user, role=Role.CLINICIAN)
        team = care_team_create(name=f"Bench team {name}")
        care_team_add_member(team=team, user=user)
        users.append((user, team))
    for n in range(visible + others):
        user, team = users[0] if n < visible else users[1]
        patient_create(
            by=user,
            care_teams=[team],
            mrn=f"BENCH-{n:05d}",
            given_name=f"Given{n}",
            family_name=f"Family{n}",
            date_of_birth=dt.date(1940, 1, 1) + dt.timedelta(days=97 * n),
            sex="female" if n % 2 else "male",
        )
    token = Token.objects.create(user=users[0][0]).key
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return token, str(users[0][1].public_id)


def _queries(token: str, team: str, visible: int) -> tuple[dict[int, int], int, bytes]:
    """SQL queries of one API request at each page size (after a warm-up request), those of the
    bare view, and the API's body of the default page (what the static view will answer).
    Checks that the bare view answers the same patients, field for field, as the API."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    counts = {}
    body = b""
    for size in PAGE_SIZES:
        client.get(API, {"page_size": size})
        with CaptureQueriesContext(connection) as captured:
            response = client.get(API, {"page_size": size})
        assert response.status_code == 200, response.status_code
        data = response.json()
        # The permission filter at work: the other team's patients are never counted.
        assert data["count"] == visible, data["count"]
        assert len(data["results"]) == min(size, visible)
        counts[size] = len(captured.captured_queries)
        if size == 25:
            body = response.content
    bare = Client().get(BARE, {"team": team})
    with CaptureQueriesContext(connection) as captured:
        bare = Client().get(BARE, {"team": team})
    assert bare.status_code == 200, bare.status_code
    api = json.loads(body)
    assert bare.json() == {"count": api["count"], "results": api["results"]}, "bare != api"
    return counts, len(captured.captured_queries), body


def _in_process_ms(token: str, team: str, rounds: int = 30) -> dict[str, float]:
    """Median cost of one request of each target, sequential and in process (no socket, no
    concurrency): where the difference under load comes from."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    medians = {}
    for name, path in (("api", API), ("bare", f"{BARE}?team={team}"), ("static", STATIC)):
        times = []
        for _ in range(rounds + 5):
            started = time.perf_counter()
            assert client.get(path).status_code == 200
            times.append(time.perf_counter() - started)
        medians[name] = round(percentile(times[5:], 50) * 1000, 2)
    return medians


def _cpu_seconds(roots: list[int]) -> float:
    """CPU time (user + system) of these processes and all their children so far."""
    import psutil

    total = 0.0
    for root in roots:
        try:
            parent = psutil.Process(root)
            for process in [parent, *parent.children(recursive=True)]:
                times = process.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


async def _load(
    port: int, path: str, headers: dict[str, str], connections: int, seconds: float
) -> dict[str, Any]:
    """`connections` clients, each one request per connection, back to back, for `seconds`."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}Connection: close\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request)
                await writer.drain()
                answer = await reader.read()
                writer.close()
                status = int(answer[9:12]) if answer.startswith(b"HTTP/1.") else 0
            except OSError:
                status = 0
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {"latencies": latencies, "statuses": statuses, "seconds": elapsed}


def _summary(phases: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [x for phase in phases for x in phase["latencies"]]
    statuses: dict[int, int] = {}
    for phase in phases:
        for code, count in phase["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    seconds = sum(phase["seconds"] for phase in phases)
    cpu = sum(phase["server_cpu_s"] for phase in phases)
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p95_ms": round(percentile(latencies, 95) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "server_cpu_ms_per_request": round(cpu * 1000 / len(latencies), 3),
        "errors": sum(count for code, count in statuses.items() if code != 200),
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per target, untimed")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument(
        "--workers",
        type=int,
        default=(os.cpu_count() or 1) + 1,
        help="gunicorn sync workers (default: cores + 1; the work is CPU-bound, and on 2 cores "
        "5 workers measured a p99 about 1.4x that of 3 for the same throughput)",
    )
    parser.add_argument("--patients", type=int, default=120, help="visible to the clinician")
    parser.add_argument("--others", type=int, default=40, help="on another care team")
    parser.add_argument(
        "--database",
        choices=["postgres", "sqlite"],
        default="postgres" if (PG_BIN / "initdb").exists() else "sqlite",
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="healthmentor-api-load-"))
    postgres: Postgres | None = None
    server: subprocess.Popen[bytes] | None = None
    try:
        if args.database == "postgres":
            # Its own top folder: the server runs as the postgres user, who cannot enter ours.
            postgres = Postgres(Path(tempfile.mkdtemp(prefix="healthmentor-api-load-pg-")))
            postgres.init()
            postgres.create_database("api_load")
            database_url = postgres.url("api_load")
        else:
            database_url = f"sqlite:///{folder / 'api_load.sqlite3'}"
        env = _setup(folder, database_url)
        import django
        import gunicorn

        started = time.perf_counter()
        token, team = _world(args.patients, args.others)
        queries, bare_queries, body = _queries(token, team, args.patients)
        (folder / "bare.json").write_bytes(body)
        in_process = _in_process_ms(token, team)
        from django.db import connections

        connections.close_all()
        print(
            f"world: {args.patients} visible + {args.others} other patients, "
            f"{time.perf_counter() - started:.1f} s; API queries per request by page size: "
            f"{queries}, bare view's: {bare_queries}; "
            f"one request in process, median ms: {in_process}",
            flush=True,
        )

        port = free_port()
        server = gunicorn_start(
            env,
            port=port,
            workers=args.workers,
            log=folder / "gunicorn.log",
            ready_path=STATIC,
            extra=("--backlog", "2048"),
        )
        # The server side's CPU (gunicorn, and PostgreSQL's processes) per request: unlike
        # throughput, it does not depend on what else the machine is running.
        servers = [server.pid]
        if postgres is not None:
            servers.append(int((postgres.data / "postmaster.pid").read_text().split()[0]))
        targets = {
            "api": (API, {"Authorization": f"Token {token}"}),
            "bare": (f"{BARE}?team={team}", {}),
            "static": (STATIC, {}),
        }
        for path, headers in targets.values():  # warm-up: imports, connections, caches
            asyncio.run(_load(port, path, headers, args.connections, args.warmup))
        phases: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for round_no in range(args.rounds):
            # The static target is informational: it runs after the two that are compared.
            pair = ["api", "bare"] if round_no % 2 == 0 else ["bare", "api"]
            order = [*pair, *(name for name in targets if name not in pair)]
            for name in order:
                path, headers = targets[name]
                cpu_before = _cpu_seconds(servers)
                phase = asyncio.run(_load(port, path, headers, args.connections, args.seconds))
                phase["server_cpu_s"] = _cpu_seconds(servers) - cpu_before
                phases[name].append(phase)
                rps = len(phase["latencies"]) / phase["seconds"]
                p99 = percentile(phase["latencies"], 99) * 1000
                print(
                    f"round {round_no + 1} {name:4s} {rps:8.1f} req/s  p99 {p99:7.1f} ms",
                    flush=True,
                )
        api, bare, static = (_summary(phases[name]) for name in ("api", "bare", "static"))
        ratios = [
            len(a["latencies"]) / a["seconds"] / (len(b["latencies"]) / b["seconds"])
            for a, b in zip(phases["api"], phases["bare"], strict=True)
        ]
        print(
            f"{'':6s}{'req/s':>9s}{'p50 ms':>9s}{'p95 ms':>9s}{'p99 ms':>9s}{'cpu ms':>9s}"
            f"{'errors':>8s}"
        )
        for name, row in (("api", api), ("bare", bare), ("static", static)):
            print(
                f"{name:6s}{row['rps']:9.1f}{row['p50_ms']:9.2f}{row['p95_ms']:9.2f}"
                f"{row['p99_ms']:9.2f}{row['server_cpu_ms_per_request']:9.3f}{row['errors']:8d}"
            )
        result = {
            "throughput_ratio": round(api["rps"] / bare["rps"], 3),
            "p99_ms": api["p99_ms"],
            "queries_flat": len(set(queries.values())) == 1,
            "goals": {"throughput_ratio": ">= 0.5", "p99_ms": "<= 250", "queries_flat": True},
            "connections": args.connections,
            "throughput_ratio_by_round": [round(r, 3) for r in ratios],
            "ratio_vs_static": round(api["rps"] / static["rps"], 3),
            "queries_by_page_size": {str(k): v for k, v in queries.items()},
            "bare_queries": bare_queries,
            "in_process_p50_ms": in_process,
            "server_cpu_ratio": round(
                bare["server_cpu_ms_per_request"] / api["server_cpu_ms_per_request"], 3
            ),
            "api": api,
            "bare": bare,
            "static": static,
            "machine": {
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "django": django.get_version(),
                "gunicorn": gunicorn.__version__,
                "gunicorn_workers": args.workers,
                "database": args.database,
            },
        }
        print(json.dumps(result))
    finally:
        gunicorn_stop(server)
        if postgres is not None:
            postgres.stop()
            shutil.rmtree(postgres.folder, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
