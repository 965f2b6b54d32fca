"""Latency and query count of every dashboard chart endpoint, at two population sizes.

Builds a throwaway database with the test settings (a fresh SQLite file under a temporary folder;
a fresh PostgreSQL test database, created and dropped here, when DATABASE_URL is set), fills it
with a synthetic world (bench/dashboards_world.py: 20 care teams with a clinician each, an admin,
a researcher; per patient ~10 observations, latest and older risk assessments for 3 diseases
with 30 % outcomes, recommendations with decisions; 1 imaging study per 10 patients), first to
the smaller size, then grown to the larger one, and at each size requests every chart endpoint
(dashboards:data_*) through django.test.Client as the user who sees the most (an admin; a
clinician for the home and patient charts; the researcher too for the population charts), with
the chart cache disabled: W warm-up then R timed requests each, p50/p95 in ms and the queries
one request makes (CaptureQueriesContext: the middleware's session and user reads included).
At the larger size it also times each endpoint with the cache on (warm) for contrast, and the
dashboard pages themselves (fewer requests; not part of the goal).

An endpoint whose URL name does not resolve yet is skipped and listed. The last line printed is
one JSON object: {"patients", "endpoints": {name: {"p95_ms", "p95_ms_1k", "queries",
"queries_1k", "cached_p95_ms", ...}}, "p95_ms_max", "queries_max", "flat": {...}, "goal"}; the
"_1k" figures are those of the smaller size (1,000 patients unless --patients says otherwise).

    .venv/bin/python bench/dashboards.py [--patients 1000,10000] [--quick] [--requests 30]
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages, bench.stats included

from bench.stats import percentile  # noqa: E402

GOAL_P95_MS = 300
GOAL_QUERIES = 10
ENDPOINT_LIMIT_S = 30  # timing of one endpoint stops after this, whatever is left
PAGE_QUERIES = 25  # the clinician home's bound; pages are not in the goal


@dataclass
class Endpoint:
    """One chart (or page) to measure: its URL name, arguments, query string and user."""

    label: str
    name: str
    user: str  # "admin", "clinician" or "researcher"
    kwargs: Callable[[Any], dict[str, Any]] = lambda world: {}
    query: str = ""


@dataclass
class Measure:
    status: int = 0
    queries: int = 0
    queries_min: int = 0
    view_queries: int = 0  # less the middleware's (see _is_middleware)
    sql_ms: float = 0.0  # median time spent in the database per request
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    empty: bool | None = None
    error: str = ""
    samples: list[float] = field(default_factory=list)


def _patient(world: Any) -> dict[str, Any]:
    return {"patient_id": world.focus_patient.public_id}


def _version(world: Any) -> dict[str, Any]:
    return {"version_id": world.versions["diabetes"].public_id}


def _fixed(**kwargs: Any) -> Callable[[Any], dict[str, Any]]:
    return lambda world: dict(kwargs)


def _with_version(**kwargs: Any) -> Callable[[Any], dict[str, Any]]:
    return lambda world: {**_version(world), **kwargs}


def chart_endpoints() -> list[Endpoint]:
    charts = [
        Endpoint("data_home_risk_bands", "data_home_risk_bands", "clinician"),
        Endpoint("data_home_studies", "data_home_studies", "clinician"),
        Endpoint(
            "data_patient_observation",
            "data_patient_observation",
            "clinician",
            lambda w: {**_patient(w), "code": "8480-6"},
        ),
        Endpoint("data_patient_risk", "data_patient_risk", "clinician", _patient),
        Endpoint("data_patient_imaging", "data_patient_imaging", "clinician", _patient),
    ]
    for by in ("histogram", "age", "sex"):
        for user in ("admin", "researcher"):
            charts.append(
                Endpoint(
                    f"data_population[{by}]" + ("@researcher" if user == "researcher" else ""),
                    "data_population",
                    user,
                    _fixed(disease="diabetes", by=by),
                )
            )
    charts.append(Endpoint("data_acceptance", "data_acceptance", "admin", query="days=365"))
    charts.append(
        Endpoint("data_acceptance@researcher", "data_acceptance", "researcher", query="days=all")
    )
    for kind in ("roc", "calibration", "confusion", "subgroups", "drift"):
        charts.append(
            Endpoint(
                f"data_model_{kind}",
                f"data_model_{kind}",
                "admin",
                _with_version(kind=kind),
            )
        )
    for kind in ("throughput", "latency", "failures"):
        charts.append(Endpoint(f"data_imaging_{kind}", f"data_imaging_{kind}", "admin"))
    return charts


def page_endpoints() -> list[Endpoint]:
    return [
        Endpoint("home", "home", "clinician"),
        Endpoint("patient", "patient", "clinician", _patient),
        Endpoint("population", "population", "admin"),
        Endpoint("population@researcher", "population", "researcher"),
        Endpoint("models", "models", "admin"),
        Endpoint("model_quality", "model_quality", "admin", _version),
        Endpoint("imaging_ops", "imaging_ops", "admin"),
        Endpoint("acceptance", "acceptance", "admin"),
    ]


def _setup(folder: Path) -> Callable[[], None]:
    """Django on the test settings with a fresh test database; returns its teardown."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "healthmentor.test_settings"
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ["HEALTHMENTOR_TEST_RUN_DIR"] = str(folder)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder / 'unused.sqlite3'}")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    original = connection.settings_dict["NAME"]
    if connection.vendor != "sqlite":
        # Never the test suite's test database (test_<NAME>): a test run may be using it.
        connection.settings_dict.setdefault("TEST", {})["NAME"] = (
            f"test_{original}_bench_dashboards_{os.getpid()}"
        )
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)

    def teardown() -> None:
        connection.creation.destroy_test_db(original, verbosity=0)

    return teardown


def _clients(world: Any) -> dict[str, Any]:
    from django.test import Client

    from tests.accounts.helpers import login_verified

    clients = {}
    for key, user in (
        ("admin", world.admin),
        ("clinician", world.clinicians[0]),
        ("researcher", world.researcher),
    ):
        client = Client()
        login_verified(client, user)  # an admin's session must be 2FA-verified
        clients[key] = client
    return clients


def _url(endpoint: Endpoint, world: Any) -> str | None:
    from django.urls import NoReverseMatch, reverse

    kwargs = endpoint.kwargs(world)
    # The model-quality charts may take their kind as an argument or in their fixed path.
    tries = (
        [kwargs, {k: v for k, v in kwargs.items() if k != "kind"}] if "kind" in kwargs else [kwargs]
    )
    for attempt in tries:
        try:
            url = reverse(f"dashboards:{endpoint.name}", kwargs=attempt)
            break
        except NoReverseMatch:
            continue
    else:
        return None
    return f"{url}?{endpoint.query}" if endpoint.query else url


def _is_middleware(index: int, sql: str) -> bool:
    """A query every signed-in request makes whatever the view: the session read and its save
    (SESSION_SAVE_EVERY_REQUEST; on SQLite inside a counted BEGIN IMMEDIATE ... COMMIT), the
    user and the 2FA device (django-otp)."""
    head = sql.lstrip().upper()
    return (
        head.startswith(("BEGIN", "COMMIT"))
        or '"django_session"' in sql
        or '"otp_' in sql
        or (index < 3 and 'FROM "accounts_user"' in sql)
    )


def _measure(client: Any, url: str, *, warmup: int, timed: int, is_json: bool) -> Measure:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    result = Measure()
    try:
        for _ in range(warmup):
            response = client.get(url)
        times: list[float] = []
        counts: list[int] = []
        sql: list[float] = []
        stop_at = time.monotonic() + ENDPOINT_LIMIT_S
        for _ in range(timed):
            if times and time.monotonic() > stop_at:
                break
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            counts.append(len(queries.captured_queries))
            sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
        view_queries = sum(
            1
            for index, query in enumerate(queries.captured_queries)
            if not _is_middleware(index, query["sql"])
        )
    except Exception as exc:  # an endpoint being written may crash: report it, go on
        result.error = f"{type(exc).__name__}: {exc}"[:200]
        return result
    result.status = response.status_code
    result.queries, result.queries_min = max(counts), min(counts)
    result.view_queries = view_queries
    result.sql_ms = round(statistics.median(sql), 1)
    result.p50_ms = round(statistics.median(times), 1)
    result.p95_ms = round(percentile(times, 95), 1)
    result.samples = times
    if result.status != 200:
        result.error = response.content.decode(errors="replace")[:200]
    elif is_json:
        result.empty = bool(json.loads(response.content).get("empty"))
    return result


def _run(
    endpoints: list[Endpoint],
    world: Any,
    clients: dict[str, Any],
    *,
    warmup: int,
    timed: int,
    cached: bool,
    is_json: bool = True,
) -> dict[str, Measure]:
    from django.test import override_settings

    if cached:
        overrides: dict[str, Any] = {"DASHBOARD_CACHE_SECONDS": 600}
    else:
        # Both: a view with its own cache_seconds (imaging operations) ignores the setting.
        overrides = {
            "DASHBOARD_CACHE_SECONDS": 0,
            "CACHES": {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
        }
    results: dict[str, Measure] = {}
    with override_settings(**overrides):
        from django.core.cache import cache

        cache.clear()
        for endpoint in endpoints:
            url = _url(endpoint, world)
            if url is None:
                continue
            results[endpoint.label] = _measure(
                clients[endpoint.user], url, warmup=warmup, timed=timed, is_json=is_json
            )
    return results


def _unlisted(endpoints: list[Endpoint]) -> list[str]:
    """dashboards:data_* names this bench does not know (a helper added one): say so."""
    from django.urls import URLPattern, URLResolver, get_resolver

    known = {e.name for e in endpoints}
    names: set[str] = set()
    for resolver in get_resolver().url_patterns:
        if isinstance(resolver, URLResolver) and resolver.namespace == "dashboards":
            names |= {p.name for p in resolver.url_patterns if isinstance(p, URLPattern) and p.name}
    return sorted(n for n in names if n.startswith("data_") and n not in known)


def _table(
    title: str,
    sizes: list[int],
    runs: dict[int, dict[str, Measure]],
    cached: dict[str, Measure],
    labels: list[str],
    skipped: list[str],
    goal_queries: int = GOAL_QUERIES,
) -> None:
    small, large = sizes[0], sizes[-1]
    print(f"\n{title}")
    head = (
        f"{'endpoint':40} {'st':>3} {'q':>4} {'q':>4} {'vq':>3} {'p50':>7} {'p95':>7} "
        f"{'p50':>7} {'p95':>7} {'sql':>6} {'x':>5} {'cached':>7}  note"
    )
    print(
        f"{'':40} {'':>3} {small:>4} {large:>4} {'':>3} {small:>7} {small:>7} {large:>7} {large:>7}"
    )
    print(head)
    for label in labels:
        if label in skipped:
            print(f"{label:40} skipped: the URL name does not resolve yet")
            continue
        a, b = runs[small].get(label), runs[large].get(label)
        if a is None or b is None:
            continue
        ratio = b.p95_ms / a.p95_ms if a.p95_ms else 0
        warm = cached.get(label)
        notes = []
        if b.error:
            notes.append(b.error.replace("\n", " ")[:80])
        if b.empty:
            notes.append("empty chart")
        if b.queries > goal_queries:
            notes.append(f"> {goal_queries} queries")
        if b.p95_ms > GOAL_P95_MS:
            notes.append(f"> {GOAL_P95_MS} ms")
        if b.queries != a.queries:
            notes.append("queries grow with patients")
        print(
            f"{label:40} {b.status:>3} {a.queries:>4} {b.queries:>4} {b.view_queries:>3} "
            f"{a.p50_ms:>7.1f} "
            f"{a.p95_ms:>7.1f} {b.p50_ms:>7.1f} {b.p95_ms:>7.1f} {b.sql_ms:>6.1f} {ratio:>5.2f} "
            f"{(f'{warm.p50_ms:.1f}' if warm else '-'):>7}  {'; '.join(notes)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", default="1000,10000", help="sizes, comma-separated")
    parser.add_argument("--quick", action="store_true", help="a 200,2000 smoke run")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per endpoint")
    parser.add_argument("--no-pages", action="store_true", help="skip timing the HTML pages")
    args = parser.parse_args()
    sizes = sorted({int(n) for n in ("200,2000" if args.quick else args.patients).split(",")})
    if len(sizes) < 2:
        parser.error("--patients needs two sizes or more (flatness compares them)")

    folder = Path(tempfile.mkdtemp(prefix="healthmentor-bench-dashboards-"))
    teardown: Callable[[], None] | None = None
    try:
        teardown = _setup(folder)
        import django
        from django.db import connection

        from bench.dashboards_world import world_check, world_create, world_grow

        charts, pages = chart_endpoints(), page_endpoints()
        world = world_create()
        clients = _clients(world)
        skipped: list[str] = []
        runs: dict[int, dict[str, Measure]] = {}
        page_runs: dict[int, dict[str, Measure]] = {}
        built = {}
        for size in sizes:
            started = time.perf_counter()
            world_grow(world, to=size)
            built[size] = time.perf_counter() - started
            world_check(world)
            print(f"world: {size} patients (+{built[size]:.1f} s to build)", flush=True)
            skipped = [e.label for e in charts if _url(e, world) is None]
            runs[size] = _run(
                charts, world, clients, warmup=args.warmup, timed=args.requests, cached=False
            )
            if not args.no_pages:
                page_runs[size] = _run(
                    pages, world, clients, warmup=2, timed=5, cached=False, is_json=False
                )
        cached = _run(charts, world, clients, warmup=1, timed=args.requests, cached=True)

        print(
            f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, Django {django.get_version()}, "
            f"{connection.vendor}; {args.warmup} warm-up + {args.requests} timed requests per "
            "endpoint through django.test.Client, chart cache disabled (cached: on, warm)"
        )
        labels = [e.label for e in charts]
        middleware = max(
            (m.queries - m.view_queries for m in runs[sizes[-1]].values() if m.status == 200),
            default=0,
        )
        _table("chart endpoints (q: queries per request; ms)", sizes, runs, cached, labels, skipped)
        if page_runs:
            page_labels = [e.label for e in pages]
            page_skipped = [e.label for e in pages if _url(e, world) is None]
            _table(
                f"pages (not in the goal; flagged above {PAGE_QUERIES} queries)",
                sizes,
                page_runs,
                {},
                page_labels,
                page_skipped,
                goal_queries=PAGE_QUERIES,
            )
        print(
            "\nq: queries of one request; vq: those of the view alone, without the "
            f"middleware's {middleware} (session read and save with its BEGIN/COMMIT where the "
            "backend counts them, user, 2FA device); sql: median ms in the database at the "
            "larger size; x: p95 ratio larger/smaller size; cached: p50 ms with the cache on, warm"
        )
        unlisted = _unlisted(charts)
        if unlisted:
            print(f"\ndata_* URL names this bench does not request: {', '.join(unlisted)}")

        small, large = sizes[0], sizes[-1]
        endpoints: dict[str, Any] = {}
        for label in labels:
            if label in skipped:
                continue
            a, b = runs[small][label], runs[large][label]
            entry: dict[str, Any] = {
                "p95_ms": b.p95_ms,
                "p95_ms_1k": a.p95_ms,
                "p50_ms": b.p50_ms,
                "queries": b.queries,
                "queries_1k": a.queries,
                "view_queries": b.view_queries,
                "sql_ms": b.sql_ms,
                "cached_p95_ms": cached[label].p95_ms if label in cached else None,
                "cached_p50_ms": cached[label].p50_ms if label in cached else None,
                "status": b.status,
            }
            if b.error:
                entry["error"] = b.error[:120]
            if b.empty:
                entry["empty"] = True
            endpoints[label] = entry
        measured = [e for e in endpoints.values() if e["status"] == 200]
        ratios = [e["p95_ms"] / e["p95_ms_1k"] for e in measured if e["p95_ms_1k"]]
        summary = {
            "patients": sizes,
            "endpoints": endpoints,
            "p95_ms_max": max((e["p95_ms"] for e in measured), default=None),
            "queries_max": max((e["queries"] for e in measured), default=None),
            "flat": {
                "p95_ratio_10k_1k_max": round(max(ratios), 2) if ratios else None,
                "queries_equal": all(e["queries"] == e["queries_1k"] for e in measured),
            },
            "goal": {"p95_ms": GOAL_P95_MS, "queries": GOAL_QUERIES},
            "skipped": skipped,
            "failed": sorted(k for k, e in endpoints.items() if e["status"] != 200),
            "pages": {
                label: {"p95_ms": m.p95_ms, "queries": m.queries, "status": m.status}
                for label, m in page_runs.get(large, {}).items()
            },
            "build_s": {str(n): round(s, 1) for n, s in built.items()},
            "database": connection.vendor,
            "middleware_queries": middleware,
        }
        print(json.dumps(summary))
    finally:
        if teardown is not None:
            teardown()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
