"""Backup and restore drill: `pg_dump` + a media archive, restored into a fresh database.

    .venv/bin/python -m proof.backup_drill [--patients 200] [--studies 20] [--keep]

On a PostgreSQL of its own (free port, data folder under a temporary folder; never the shared
one), with fresh secrets written to an escrow file as an operator would keep them:

1. seed: migrate, then patients (PHI encrypted), observations, conditions, imaging studies with
   their originals stored encrypted as uploads are, under a media folder of its own, audit events
   on the way;
2. census of the source: rows per table, sha256 of every media file, every patient decrypted
   (a digest of the plaintext, never the plaintext) with each blind index recomputed, and every
   study's original decrypted and checked against the study's sha256;
3. backup: `pg_dump --format=custom` and a tar.gz of the media folder;
4. restore: `pg_restore` into a new, empty database and the archive into a new media folder;
5. census of the restored copy in a process that reads the keys from the escrow file only, plus
   `audit_verify`, and a control run with a wrong key, which must fail to decrypt every patient.

Prints one line per step, then a JSON line: counts, sizes, timings, `ok`. Exit status 0 when ok.
Phases run in child processes (`--phase seed|census`) because settings read the database URL,
the media folder and the keys from the environment once, at start-up.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from proof.drills.stack import Postgres

ROOT = Path(__file__).resolve().parent.parent
PG_DUMP = os.environ.get("PROOF_PG_DUMP", shutil.which("pg_dump") or "/usr/bin/pg_dump")
PG_RESTORE = os.environ.get("PROOF_PG_RESTORE", shutil.which("pg_restore") or "/usr/bin/pg_restore")


# --- phases (child processes, Django configured from the environment) ---------------------------


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "healthmentor.settings")
    import django

    django.setup()


def phase_seed(patients: int, studies: int) -> dict[str, Any]:
    import datetime as dt
    import io

    import numpy as np
    from django.core.management import call_command
    from django.utils import timezone
    from PIL import Image

    _django()
    call_command("migrate", verbosity=0, interactive=False)
    from accounts.models import Role, User
    from imaging import storage
    from imaging.models import Study
    from patients.services import (
        care_team_add_member,
        care_team_create,
        condition_add,
        observation_record,
        patient_create,
    )

    team = care_team_create(name="Backup drill team")
    user = User.objects.create_user("drill@example.org", secrets.token_urlsafe(16),
                                    full_name="Drill Clinician", role=Role.CLINICIAN)  # fmt: skip
    care_team_add_member(team=team, user=user)
    made = []
    now = timezone.now()
    for n in range(patients):
        patient = patient_create(
            by=None,
            mrn=f"BKP{n:06d}",
            given_name=f"Givenbkp{n}",
            family_name=f"Familybkp{n}",
            date_of_birth=dt.date(1930, 1, 1) + dt.timedelta(days=97 * n % 30000),
            sex="female" if n % 2 else "male",
            phone=f"+1 555 01{n:04d}",
            email=f"bkp{n}@example.org",
            address=f"{n} Drill Street",
            care_teams=[team],
            is_synthetic=True,
        )
        observation_record(by=None, patient=patient, code="8480-6", value=110 + n % 50,
                           unit="mm[Hg]", effective_at=now - dt.timedelta(days=n))  # fmt: skip
        condition_add(by=None, patient=patient, code="I10", display="Hypertension",
                      onset_date=dt.date(2015, 1, 1) + dt.timedelta(days=n))  # fmt: skip
        made.append(patient)
    rng = np.random.default_rng(7)
    for n in range(studies):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(buffer, "PNG")
        data = buffer.getvalue()
        Study.objects.create(
            patient=made[n % len(made)], uploaded_by=user, kind=Study.Kind.PNG,
            file_name=storage.store(storage.receive([data], max_bytes=len(data)).path, ".png"),
            original_name=f"scan-of-{n}.png",
            size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), modality="DX",
            rows=64, columns=64, dicom_phi={"patient_name": f"Familybkp{n}"},
        )  # fmt: skip
    return {"patients": patients, "studies": studies}


def phase_census(media_root: str) -> dict[str, Any]:
    _django()
    from django.db import connection

    from accounts.audit import audit_verify
    from imaging import storage
    from imaging.models import Study
    from patients.crypto import PhiDecryptionError, blind_index
    from patients.models import Patient

    with connection.cursor() as cursor:
        tables = sorted(connection.introspection.table_names(cursor))
        rows = {}
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 (names from the catalog)
            rows[table] = cursor.fetchone()[0]
    files = {}
    root = Path(media_root)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        files[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    plaintext = hashlib.sha256()
    decrypted = failed = index_ok = 0
    for pk in Patient.objects.order_by("pk").values_list("pk", flat=True):
        try:
            p = Patient.objects.get(pk=pk)
            fields = [p.mrn, p.given_name, p.family_name, p.date_of_birth.isoformat(), p.sex,
                      p.phone, p.email, p.address]  # fmt: skip
        except PhiDecryptionError:
            failed += 1
            continue
        decrypted += 1
        plaintext.update(json.dumps([pk, *fields]).encode())
        index_ok += p.mrn_index == blind_index(p.mrn, purpose="mrn")
    originals_ok = originals_failed = 0
    for name, sha256 in Study.objects.values_list("file_name", "sha256"):
        try:
            digest = hashlib.sha256(storage.original_read_bytes(name)).hexdigest()
        except (storage.StoredFileCorrupt, OSError):
            originals_failed += 1
            continue
        originals_ok += digest == sha256
    chain = audit_verify()
    return {
        "rows": rows,
        "files": files,
        "decrypted": decrypted,
        "decrypt_failed": failed,
        "blind_index_ok": index_ok,
        "plaintext_sha256": plaintext.hexdigest(),
        "originals_ok": originals_ok,
        "originals_failed": originals_failed,
        "audit_chain_ok": chain.ok,
        "audit_events": chain.checked,
    }


# --- orchestration --------------------------------------------------------------------------------


def _fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _phase(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "proof.backup_drill", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"phase {args} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _env(*, database_url: str, media_root: Path, escrow: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHI_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="healthmentor.settings",
        DJANGO_DEBUG="false",
        DATABASE_URL=database_url,
        MEDIA_ROOT=str(media_root),
        CELERY_BROKER_URL="memory://",  # never the shared Redis: the drill enqueues nothing real
        RECOMMENDATIONS_AUTO_REFRESH="false",
        LOG_LEVEL="WARNING",
        **escrow,
    )
    return env


def _step(name: str, started: float, **figures: Any) -> float:
    now = time.monotonic()
    extra = " ".join(f"{k}={v}" for k, v in figures.items())
    print(f"{name:<10} {now - started:7.2f} s  {extra}", flush=True)
    return now


def _compare(source: dict[str, Any], restored: dict[str, Any]) -> list[str]:
    problems = []
    for table, count in source["rows"].items():
        if restored["rows"].get(table) != count:
            problems.append(f"rows of {table}: {count} -> {restored['rows'].get(table)}")
    if set(restored["rows"]) != set(source["rows"]):
        problems.append("the restored database has other tables")
    if restored["files"] != source["files"]:
        problems.append("media files differ (names or sha256)")
    for key in ("decrypted", "plaintext_sha256", "blind_index_ok", "originals_ok"):
        if restored[key] != source[key]:
            problems.append(f"{key} differs")
    if restored["decrypt_failed"] or not restored["audit_chain_ok"]:
        problems.append("restored PHI failed to decrypt or the audit chain is broken")
    return problems


def drill(patients: int, studies: int, keep: bool) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="hm-backup-drill-"))
    os.chmod(work, 0o755)  # noqa: S103 (the PostgreSQL server runs as its own user)
    pg = Postgres(work / "pg")
    result: dict[str, Any] = {"patients": patients, "studies": studies, "ok": False}
    try:
        t = time.monotonic()
        pg.init()
        pg.create_database("source")
        pg.create_database("restored")
        escrow = {
            "PHI_ENCRYPTION_KEYS": _fernet_key(),
            "PHI_BLIND_INDEX_KEY": secrets.token_urlsafe(32),
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        }
        escrow_file = work / "escrow.json"  # what operators keep apart from the backups
        escrow_file.write_text(json.dumps(escrow))
        escrow_file.chmod(0o600)
        media_a, media_b = work / "media-source", work / "media-restored"
        t = _step("postgres", t, port=pg.port)

        env_a = _env(database_url=pg.url("source"), media_root=media_a, escrow=escrow)
        _phase(["--phase", "seed", "--patients", str(patients), "--studies", str(studies)], env_a)
        t = _step("seed", t, patients=patients, studies=studies)
        source = _phase(["--phase", "census", "--media", str(media_a)], env_a)
        t = _step("census", t, tables=len(source["rows"]), files=len(source["files"]))

        dump, archive = work / "backup.dump", work / "media.tar.gz"
        subprocess.run([PG_DUMP, "--format=custom", "--no-owner", "-d", pg.url("source"),
                        "-f", str(dump)], check=True, capture_output=True)  # fmt: skip
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(media_a, arcname="media")
        t = _step("backup", t, dump_bytes=dump.stat().st_size, media_bytes=archive.stat().st_size)

        subprocess.run([PG_RESTORE, "--no-owner", "--exit-on-error", "-d", pg.url("restored"),
                        str(dump)], check=True, capture_output=True)  # fmt: skip
        media_b.mkdir()
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(media_b, filter="data")
        (media_b / "media").rename(media_b / "_m")
        for child in (media_b / "_m").iterdir():
            child.rename(media_b / child.name)
        (media_b / "_m").rmdir()
        t = _step("restore", t)

        keys = json.loads(escrow_file.read_text())  # the restore knows only what was escrowed
        env_b = _env(database_url=pg.url("restored"), media_root=media_b, escrow=keys)
        restored = _phase(["--phase", "census", "--media", str(media_b)], env_b)
        wrong = dict(keys, PHI_ENCRYPTION_KEYS=_fernet_key())
        env_wrong = _env(database_url=pg.url("restored"), media_root=media_b, escrow=wrong)
        control = _phase(["--phase", "census", "--media", str(media_b)], env_wrong)
        t = _step(
            "verify", t, decrypted=restored["decrypted"], control_failed=control["decrypt_failed"]
        )

        problems = _compare(source, restored)
        if source["decrypted"] != patients or source["blind_index_ok"] != patients:
            problems.append("the source did not decrypt or index every patient")
        if control["decrypt_failed"] != patients:
            problems.append("a wrong key decrypted PHI: the decryption check proves nothing")
        if source["originals_ok"] != studies or control["originals_failed"] != studies:
            problems.append("imaging originals: not all decrypted, or a wrong key opened one")
        result.update(
            ok=not problems,
            problems=problems,
            tables=len(source["rows"]),
            rows=sum(source["rows"].values()),
            rows_restored=sum(restored["rows"].values()),
            files=len(source["files"]),
            files_matched=sum(restored["files"].get(k) == v for k, v in source["files"].items()),
            decrypted_with_escrowed_keys=restored["decrypted"],
            blind_indexes_ok=restored["blind_index_ok"],
            wrong_key_decrypt_failures=control["decrypt_failed"],
            originals_decrypted=restored["originals_ok"],
            wrong_key_original_failures=control["originals_failed"],
            audit_events=restored["audit_events"],
            audit_chain_ok=restored["audit_chain_ok"],
            dump_bytes=dump.stat().st_size,
            media_archive_bytes=archive.stat().st_size,
        )
    finally:
        pg.stop()
        if keep:
            print(f"kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--studies", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--phase", choices=["seed", "census"], help=argparse.SUPPRESS)
    parser.add_argument("--media", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase == "seed":
        print(json.dumps(phase_seed(args.patients, args.studies)))
        return 0
    if args.phase == "census":
        print(json.dumps(phase_census(args.media)))
        return 0
    started = time.monotonic()
    result = drill(max(args.patients, 1), max(min(args.studies, args.patients * 10), 0), args.keep)
    result["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
