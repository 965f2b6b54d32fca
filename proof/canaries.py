"""PHI canaries: seed patients whose PHI holds unique marker strings, run the portal end to end,
then look for the markers everywhere they must not be.

    .venv/bin/python -m proof.canaries [--keep]

On a PostgreSQL and a Redis of its own (proof.drills.stack; never the shared ones), a child
process (`--phase run`, stdout and stderr captured as the web log, at LOG_LEVEL=DEBUG) does a full
run through the Django test client with the production middleware: a real login, patients
registered through the API with canary names, MRN, email, phone, address and date of birth,
searched for and read on the web and the API, an observation added, error pages (another care
team's 404, a researcher's refusal, an invalid search, an unknown URL holding an MRN), a DICOM
study uploaded with canaries in its header and its file name and analysed by a real Celery worker
(Redis snapshotted while the message waits in the queue, before the worker starts), the
recommendations refreshed by the worker, a risk assessment, and the researchers' de-identified
export. Then the parent greps, case-insensitively:

- logs: the web process's, the worker's, PostgreSQL's server log;
- Redis: every key and value of every database, in the queued snapshot and at the end;
- the Celery result table (django_celery_results), row by row;
- error pages: the body of every response with status >= 400;
- `pg_dump` of the database (plain SQL): PHI lives there only as Fernet ciphertext;
- the de-identified export (CSV and FHIR);
- every file under MEDIA_ROOT: the original upload is stored encrypted (imaging.filecrypt), so its
  DICOM header must not be found in clear, nor in the images derived from it.

Last line: JSON {"sources": {name: {"bytes", "hits", "examples"}}, "run": {...}, "ok"}.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from proof.drills.stack import Postgres, Redis

ROOT = Path(__file__).resolve().parent.parent
PG_DUMP = os.environ.get("PROOF_PG_DUMP", shutil.which("pg_dump") or "/usr/bin/pg_dump")
STUDY_TIMEOUT_S = 180


def markers_make() -> dict[str, str]:
    """Unique strings, one per PHI field; letters and digits only, so no escaping hides them."""
    tag = secrets.token_hex(4).upper()
    return {
        "mrn": f"CNRYMRN{tag}",
        "given_name": f"Cnrygiven{tag}",
        "family_name": f"Cnryfamily{tag}",
        "email_local": f"cnrymail{tag.lower()}",
        "phone": f"5550{int(tag, 16) % 10**6:06d}",
        "address": f"Cnrystreet{tag}",
        "dicom_name": f"Cnrydicom{tag}",
        "dicom_id": f"CNRYDCMID{tag}",
        "dicom_institution": f"Cnryhospital{tag}",
        "file_name": f"cnryfile{tag.lower()}",
    }


# --- the run (child process) ----------------------------------------------------------------------


def _install_models(run: dict[str, Any]) -> None:
    """The imaging bundle and the diabetes model, registered and active: what `make run` trained,
    else small ones trained now, so the study ends DONE (heatmap, mask, draft report) and the
    assessment runs: every place a result could carry PHI is written."""
    from django.conf import settings

    from imaging.services import imaging_model_register
    from prediction.services import model_version_activate, model_version_register
    from proof.models import imaging_bundle_install, risk_model_install

    folder = imaging_bundle_install(Path(settings.IMAGING_MODEL_ROOT), name="canary-phantom-cnn")
    imaging_model_register(folder=folder, activate=True)
    run["imaging_model"] = True
    version = model_version_register(
        folder=risk_model_install(Path(settings.RISK_MODEL_ROOT), "diabetes")
    )
    model_version_activate(by=None, version=version)
    run["risk_model"] = True


def phase_run(out: Path, markers: dict[str, str]) -> dict[str, Any]:
    import datetime as dt

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0)
    from imaging.models import Study
    from prediction.ml.diseases import DISEASES
    from tests import factories
    from tests import worker as workers
    from tests.imaging.intake.builders import ct_slice, dicom_bytes

    run: dict[str, Any] = {"imaging_model": False, "risk_model": False, "statuses": {}}
    _install_models(run)
    errors = out / "error_pages"
    errors.mkdir()

    def record(label: str, response: Any) -> Any:
        run["statuses"][label] = response.status_code
        if response.status_code >= 400:
            body = b"".join(response.streaming_content) if response.streaming else response.content
            (errors / f"{label}.html").write_bytes(body)
        return response

    team = factories.care_team_make()
    clinician: Any = factories.ClinicianFactory()
    from patients.services import care_team_add_member

    care_team_add_member(team=team, user=clinician)
    other: Any = factories.ClinicianFactory()
    factories.care_team_make(members=[other])
    researcher: Any = factories.ResearcherFactory()

    web = Client()
    record("login", web.post("/accounts/login/", {"username": clinician.email,
                                                  "password": factories.PASSWORD}))  # fmt: skip
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=clinician)[0].key}")
    created = record("api_create", api.post("/api/v1/patients/", {
        "mrn": markers["mrn"], "given_name": markers["given_name"],
        "family_name": markers["family_name"], "date_of_birth": "1931-02-03", "sex": "female",
        "phone": f"+1 {markers['phone']}", "email": f"{markers['email_local']}@example.org",
        "address": f"17 {markers['address']}, Springfield", "care_teams": [str(team.public_id)],
    }, content_type="application/json"))  # fmt: skip
    public_id = created.json()["public_id"]
    patient_url = f"/patients/{public_id}/"
    record("search_mrn", web.post("/patients/", {"q": markers["mrn"]}))
    record("search_name", web.post("/patients/", {"q": markers["family_name"]}))
    record("detail", web.get(patient_url))
    record("api_detail", api.get(f"/api/v1/patients/{public_id}/"))
    record("api_search", api.get("/api/v1/patients/", {"mrn": markers["mrn"]}))
    record("observation_add", web.post(f"{patient_url}observations/new/", {
        "code": "8480-6", "value": "131", "unit": "mm[Hg]",
        "effective_at": (dt.datetime.now() - dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M"),
    }))  # fmt: skip
    record("timeline", api.get(f"/api/v1/patients/{public_id}/timeline/"))

    # Error pages and refusals.
    intruder = Client()
    intruder.force_login(other)
    record("err_other_team", intruder.get(patient_url))
    record("err_other_team_api", intruder.get(f"/api/v1/patients/{public_id}/"))
    nosy = Client()
    nosy.force_login(researcher)
    record("err_researcher", nosy.get(patient_url))
    record("err_unknown_url", web.get(f"/patients/{markers['mrn']}/"))
    record("err_bad_search", web.post("/patients/", {"q": "x" * 5000}))
    record("err_bad_api", api.post("/api/v1/patients/", {"mrn": markers["mrn"]},
                                   content_type="application/json"))  # fmt: skip
    record("err_anonymous", Client().get(f"/api/v1/patients/{public_id}/"))

    # Imaging: queued while no worker runs, so Redis can be read with the message in it.
    ds = ct_slice(rows=64, columns=64)
    ds.PatientName = f"{markers['dicom_name']}^{markers['given_name']}"
    ds.PatientID = markers["dicom_id"]
    ds.InstitutionName = markers["dicom_institution"]
    ds.PatientBirthDate = "19310203"
    upload = dicom_bytes(ds)
    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile(f"{markers['file_name']}.dcm", upload, "application/dicom")
    record("upload", api.post("/api/v1/imaging/studies/", {"patient": public_id, "image": file}))
    (out / "redis_queued.flag").write_text("1")
    _wait_for_file(out / "redis_queued.done", 60)

    folder = out / "workers"
    folder.mkdir()
    worker = workers.worker_start(str(os.environ["DATABASE_URL"]), folder, concurrency=1)
    try:
        deadline = time.monotonic() + STUDY_TIMEOUT_S
        while time.monotonic() < deadline:
            if not Study.objects.exclude(state__in=["done", "failed"]).exists():
                break
            time.sleep(0.5)
        run["studies"] = dict(Study.objects.values_list("public_id", "state").order_by())
        run["studies"] = {str(k): v for k, v in run["studies"].items()}
        study = Study.objects.first()
        if study is not None:
            record("study_api", api.get(f"/api/v1/imaging/studies/{study.public_id}/"))
            record("study_page", web.get(f"/imaging/studies/{study.public_id}/"))
        if run["risk_model"]:
            values = {s.name: _plausible(s) for s in DISEASES["diabetes"].features}
            record("risk", api.post("/api/v1/risk-assessments/", {
                "patient": public_id, "disease": "diabetes", "overrides": values,
            }, content_type="application/json"))  # fmt: skip
        time.sleep(3)  # let the recommendation refreshes the changes enqueued run
    finally:
        workers.worker_stop(worker)

    export = Client()
    export.force_login(researcher)
    exports = {"csv": "/patients/export/deid.csv", "fhir": "/patients/export/deid.fhir.json"}
    for fmt, url in exports.items():
        response = record(f"export_{fmt}", export.get(url))
        body = b"".join(response.streaming_content) if response.streaming else response.content
        (out / f"export.{fmt}").write_bytes(body)

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM django_celery_results_taskresult")
        names = [c.name for c in cursor.description]
        rows = [dict(zip(names, map(str, row), strict=True)) for row in cursor.fetchall()]
    (out / "celery_results.json").write_text(json.dumps(rows))
    run["celery_results"] = len(rows)
    return run


def _plausible(spec: Any) -> float:
    if spec.kind == "binary":
        return 0.0
    middle = (spec.low + spec.high) / 2
    return float(round(middle)) if spec.kind == "integer" else float(middle)


def _wait_for_file(path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


# --- the search (parent) --------------------------------------------------------------------------


def redis_snapshot(url: str) -> bytes:
    """Every key and value of every database of our Redis, as one blob to grep."""
    import redis

    parts: list[bytes] = []
    for db in range(16):
        client: Any = redis.Redis.from_url(url.rsplit("/", 1)[0] + f"/{db}")
        try:
            for key in client.scan_iter(count=1000):
                kind = client.type(key)
                parts.append(b"KEY " + key)
                if kind == b"string":
                    parts.append(client.get(key) or b"")
                elif kind == b"list":
                    parts.extend(client.lrange(key, 0, -1))
                elif kind == b"hash":
                    for field, value in client.hgetall(key).items():
                        parts += [field, value]
                elif kind == b"set":
                    parts.extend(client.smembers(key))
                elif kind == b"zset":
                    parts.extend(member for member, _ in client.zrange(key, 0, -1, withscores=True))
        finally:
            client.close()
    return b"\n".join(parts)


def search(blob: bytes, markers: dict[str, str]) -> tuple[int, list[str]]:
    """Hits of any marker (case-insensitive), with a little context for the report."""
    text = blob.decode("utf-8", errors="replace")
    pattern = re.compile("|".join(re.escape(m) for m in markers.values()), re.IGNORECASE)
    hits = list(pattern.finditer(text))
    examples = [text[max(m.start() - 60, 0) : m.end() + 60].replace("\n", " ") for m in hits[:3]]
    return len(hits), examples


def _files(folder: Path, pattern: str = "*") -> bytes:
    if not folder.exists():
        return b""
    return b"\n".join(p.read_bytes() for p in sorted(folder.rglob(pattern)) if p.is_file())


def proof(keep: bool) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="hm-canaries-"))
    root.chmod(0o755)  # our PostgreSQL runs as the postgres user
    pg, redis_server = Postgres(root / "pg"), Redis(root / "redis")
    out = root / "out"
    out.mkdir()
    markers = markers_make()
    result: dict[str, Any] = {"markers": len(markers), "ok": False}
    try:
        pg.init()
        pg.create_database("canaries")
        redis_server.start()
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE=os.environ.get(
                "PROOF_SETTINGS_MODULE", "healthmentor.test_settings"
            ),
            HEALTHMENTOR_TEST_RUN_DIR=str(root / "run"),
            DATABASE_URL=pg.url("canaries"),
            CELERY_BROKER_URL=redis_server.url(0),
            REDIS_CACHE_URL=redis_server.url(1),
            MEDIA_ROOT=str(root / "run" / "media"),
            IMAGING_MODEL_ROOT=str(root / "run" / "models" / "imaging"),
            RISK_MODEL_ROOT=str(root / "run" / "models" / "risk"),
            RECOMMENDATIONS_AUTO_REFRESH="true",
            LOG_LEVEL="DEBUG",
            PYTHONUNBUFFERED="1",
        )
        (root / "run").mkdir()
        log = (out / "web.log").open("wb")
        child = subprocess.Popen(
            [sys.executable, "-m", "proof.canaries", "--phase", "run", "--out", str(out),
             "--markers", json.dumps(markers)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        _wait_for_file(out / "redis_queued.flag", 300)
        queued = redis_snapshot(redis_server.url(0))
        (out / "redis_queued.done").write_text("1")
        child.wait(timeout=900)
        log.close()
        run_file = out / "run.json"
        run = json.loads(run_file.read_text()) if run_file.exists() else {}
        result["run"] = run
        result["child_exit"] = child.returncode
        end = redis_snapshot(redis_server.url(0))
        dump = subprocess.run([PG_DUMP, "--format=plain", "-d", pg.url("canaries")],
                              check=True, capture_output=True).stdout  # fmt: skip
        sources = {
            "web_log": (out / "web.log").read_bytes(),
            "worker_log": _files(out / "workers", "*.log"),
            "postgres_log": (pg.folder / "postgres.log").read_bytes(),
            "redis_queued": queued,
            "redis_end": end,
            "celery_results": (out / "celery_results.json").read_bytes()
            if (out / "celery_results.json").exists()
            else b"",
            "error_pages": _files(out / "error_pages"),
            "pg_dump": dump,
            "deid_export": _files(out, "export.*"),
            "media": _files(root / "run" / "media"),
        }
        report = {}
        for name, blob in sources.items():
            hits, examples = search(blob, markers)
            report[name] = {"bytes": len(blob), "hits": hits, "examples": examples}
        result["sources"] = report
        result["redis_queued_had_messages"] = b"KEY " in queued
        statuses = run.get("statuses", {})
        problems = [f"{n}: {r['hits']} hits" for n, r in report.items() if r["hits"]]
        if child.returncode != 0:
            problems.append(f"the run failed (exit {child.returncode}); see web.log")
        if any(code >= 500 for code in statuses.values()):
            problems.append("a 5xx during the run")
        if not all(report[n]["bytes"] for n in ("web_log", "worker_log", "pg_dump", "media")):
            problems.append("a source to search was empty: the run did not do what it should")
        result["problems"] = problems
        result["ok"] = not problems
    finally:
        redis_server.stop()
        pg.stop("immediate")
        if keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m proof.canaries")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--phase", choices=["run"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--markers", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase == "run":
        out = Path(args.out)
        run = phase_run(out, json.loads(args.markers))
        (out / "run.json").write_text(json.dumps(run, default=str))
        return 0
    started = time.monotonic()
    result = proof(args.keep)
    result["seconds"] = round(time.monotonic() - started, 1)
    for name, found in result.get("sources", {}).items():
        print(f"{'PASS' if not found['hits'] else 'FAIL'} {name:<15} {found['bytes']:>10} bytes "
              f"{found['hits']} hits")  # fmt: skip
    print(json.dumps(result, default=str))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
