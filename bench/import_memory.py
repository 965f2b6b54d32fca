"""Peak memory of an import against the size of its file: a FHIR Bundle and a CSV file of 10,000
and of 100,000 observations, imported side by side in one run.

Each file is generated on disk (streamed: the generator holds one entry at a time), then imported
by interop.services (import_submit, then import_run: the worker's code, with the real database
writes through patients.services and their audit events) in a fresh child process, so that each
import's peak RSS is its own (resource.getrusage's ru_maxrss is a high-water mark per process).
The child first imports a small file to load every module and warm the connection, then reads
its baseline; `rss_growth_mb` is the peak after the import less that baseline. Bounded memory
means growth that does not follow the file: `growth_ratio` (100k over 10k) near 1 while
`file_ratio` is about 10.

    .venv/bin/python bench/import_memory.py                  # 10k and 100k, SQLite under /tmp
    .venv/bin/python bench/import_memory.py --sizes 2000,20000 --patients 100
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hm_bench .venv/bin/python bench/import_memory.py

The database is SQLite in the run's folder unless DATABASE_URL is set (it must exist and be
disposable: the bench migrates it and adds patients). The last line printed is one JSON object.
"""

import argparse
import csv
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Observation codes with a value inside their plausible range (canonical units).
CODES = (
    ("8480-6", 110.0, "mm[Hg]"),
    ("8462-4", 70.0, "mm[Hg]"),
    ("8867-4", 60.0, "/min"),
    ("2345-7", 5.0, "mmol/L"),
    ("29463-7", 60.0, "kg"),
)
START = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def _setup(folder: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "healthmentor.test_settings"
    os.environ["HEALTHMENTOR_TEST_RUN_DIR"] = str(folder)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder / 'bench.sqlite3'}")
    os.environ["RECOMMENDATIONS_AUTO_REFRESH"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _observation(n: int) -> tuple[str, float, str, str]:
    code, base, unit = CODES[n % len(CODES)]
    value = base + (n % 37) * 0.5
    return code, value, unit, (START + dt.timedelta(minutes=n)).isoformat()


def bundle_write(path: Path, *, observations: int, patients: int, prefix: str) -> None:
    """A collection Bundle: each patient, then their observations (patients in turn)."""
    per = max(1, observations // patients)
    with path.open("w") as out:
        out.write('{"resourceType": "Bundle", "type": "collection", "entry": [')
        first = True
        for p in range(patients):
            entries = [
                {
                    "fullUrl": f"urn:uuid:{prefix}-{p}",
                    "resource": {
                        "resourceType": "Patient",
                        "identifier": [
                            {"system": "urn:healthmentor:mrn", "value": f"{prefix}-{p}"}
                        ],
                        "name": [{"family": f"Bench{p}", "given": ["Memory"]}],
                        "gender": "female" if p % 2 else "male",
                        "birthDate": f"{1940 + p % 60}-0{1 + p % 9}-1{p % 9}",
                    },
                }
            ]
            for k in range(per if p < patients - 1 else observations - per * (patients - 1)):
                code, value, unit, at = _observation(p * per + k)
                entries.append(
                    {
                        "resource": {
                            "resourceType": "Observation",
                            "status": "final",
                            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                            "subject": {"reference": f"urn:uuid:{prefix}-{p}"},
                            "effectiveDateTime": at,
                            "valueQuantity": {
                                "value": value,
                                "unit": unit,
                                "system": "http://unitsofmeasure.org",
                                "code": unit,
                            },
                        }
                    }
                )
            for entry in entries:
                out.write(("" if first else ",") + json.dumps(entry))
                first = False
        out.write("]}")


def csv_write(path: Path, *, observations: int, patients: int, prefix: str) -> None:
    """The CSV template: one line per observation, the patient's columns repeated."""
    from interop.importing.tabular import TEMPLATE_COLUMNS

    per = max(1, observations // patients)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(TEMPLATE_COLUMNS)
        for n in range(observations):
            p = min(n // per, patients - 1)
            code, value, unit, at = _observation(n)
            born = f"{1940 + p % 60}-0{1 + p % 9}-1{p % 9}"
            sex = "female" if p % 2 else "male"
            writer.writerow(
                [
                    f"{prefix}-{p}",
                    "Memory",
                    f"Bench{p}",
                    born,
                    sex,
                    "",
                    "",
                    "",
                    code,
                    value,
                    unit,
                    at,
                ]
            )


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(folder: Path, path: Path, warmup: Path) -> dict[str, Any]:
    """In a fresh process: warm up on a small file, then import `path`; its figures."""
    _setup(folder)

    from accounts.models import Role, User
    from accounts.services import role_groups_ensure, user_set_role
    from interop.models import ImportJob
    from interop.services import import_run, import_submit
    from patients.models import CareTeam
    from patients.services import care_team_add_member, care_team_create

    role_groups_ensure()
    user = User.objects.filter(email="bench.importer@hospital.test").first()
    if user is None:
        user = User.objects.create_user(
            "bench.importer@hospital.test", "bench-password-not-used-1", full_name="Importer"
        )
        user_set_role(user=user, role=Role.CLINICIAN)
    team = CareTeam.objects.filter(name="Bench imports").first() or care_team_create(
        name="Bench imports"
    )
    care_team_add_member(team=team, user=user)

    def run(file: Path) -> ImportJob:
        with file.open("rb") as source:
            job = import_submit(by=user, care_team=team.public_id, upload=source)
        import_run(job_id=job.pk)
        job.refresh_from_db()
        return job

    run(warmup)
    baseline = _rss_mb()
    began = time.perf_counter()
    job = run(path)
    seconds = time.perf_counter() - began
    peak = _rss_mb()
    return {
        "state": job.state,
        "failure": job.failure_reason,
        "observations": job.observations_imported,
        "patients": job.patients_created,
        "rejected": job.rejected,
        "file_mb": round(path.stat().st_size / 2**20, 2),
        "seconds": round(seconds, 1),
        "rows_per_s": round((job.rows_total or 1) / seconds, 1),
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_mb": round(peak, 1),
        "rss_growth_mb": round(peak - baseline, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="two observation counts")
    parser.add_argument("--patients", type=int, default=1000, help="patients per file")
    parser.add_argument("--formats", default="fhir,csv")
    parser.add_argument(
        "--one", nargs=3, metavar=("FOLDER", "FILE", "WARMUP"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.one:
        print(json.dumps(child(Path(args.one[0]), Path(args.one[1]), Path(args.one[2]))))
        return

    small, large = (int(s) for s in args.sizes.split(","))
    folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
    _setup(folder)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import django

    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Django {django.get_version()}, {platform.platform()}",
        flush=True,
    )
    from django.db import connection

    print(f"database: {connection.vendor}; files under {folder}", flush=True)
    writers = {"fhir": (bundle_write, ".json"), "csv": (csv_write, ".csv")}
    results: dict[str, Any] = {}
    for fmt in args.formats.split(","):
        write, suffix = writers[fmt]
        warmup = folder / f"warmup-{fmt}{suffix}"
        write(warmup, observations=200, patients=10, prefix=f"W{fmt}{time.time_ns()}")
        figures = {}
        for size in (small, large):
            path = folder / f"{fmt}-{size}{suffix}"
            write(
                path,
                observations=size,
                patients=args.patients,
                prefix=f"{fmt}{size}-{time.time_ns()}",
            )
            # A fresh warm-up file each time (the same one again would all be "present").
            write(warmup, observations=200, patients=10, prefix=f"W{fmt}{size}{time.time_ns()}")
            done = subprocess.run(
                [sys.executable, __file__, "--one", str(folder), str(path), str(warmup)],
                capture_output=True,
                text=True,
                check=False,
                env=os.environ,
            )
            if done.returncode != 0:
                print(done.stdout, done.stderr, file=sys.stderr)
                raise SystemExit(f"the {fmt} import of {size} failed")
            figures[str(size)] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"  {fmt} {size:>7}: {figures[str(size)]}", flush=True)
        a, b = figures[str(small)], figures[str(large)]
        results[fmt] = {
            **figures,
            "file_ratio": round(b["file_mb"] / a["file_mb"], 2),
            "growth_ratio": round(b["rss_growth_mb"] / max(a["rss_growth_mb"], 1.0), 2),
            "peak_ratio": round(b["peak_rss_mb"] / a["peak_rss_mb"], 2),
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
