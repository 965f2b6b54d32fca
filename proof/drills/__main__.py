"""`python -m proof.drills [names...]`: start a PostgreSQL and a Redis of our own, migrate, copy
(or train) an imaging bundle, run the drills (all, in the issue's order, unless named), print a
line per drill and, last, a JSON object {"drills": {name: {"ok", "seconds", "details"}},
"all_ok"}. Exit status 0 when every drill passed."""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from proof.drills.stack import Postgres, Redis
from proof.models import imaging_bundle_install

ROOT = Path(__file__).resolve().parents[2]
# Short deadlines, so that a drill's recovery takes seconds, not the production minutes.
DRILL_ENV = {
    "IMAGING_QUEUE_DEADLINE_S": "6",
    "IMAGING_TASK_TIME_LIMIT_S": "20",
    "IMAGING_RUN_LEASE_S": "10",
    "IMAGING_SWEEP_INTERVAL_S": "1",
    "RECOMMENDATIONS_AUTO_REFRESH": "false",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proof.drills", description=__doc__)
    parser.add_argument("names", nargs="*", help="drills to run (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="hm-drills-"))
    root.chmod(0o755)  # our PostgreSQL runs as the postgres user
    pg = Postgres(root / "pg")
    redis = Redis(root / "redis")
    results: dict[str, dict[str, Any]] = {}
    try:
        pg.init()
        pg.create_database()
        redis.start()
        run_dir = root / "run"
        run_dir.mkdir()
        os.environ.update(
            DJANGO_SETTINGS_MODULE="healthmentor.test_settings",
            HEALTHMENTOR_TEST_RUN_DIR=str(run_dir),
            DATABASE_URL=pg.url(),
            CELERY_BROKER_URL=redis.url(0),
            MEDIA_ROOT=str(run_dir / "media"),
            IMAGING_MODEL_ROOT=str(run_dir / "models" / "imaging"),
            **DRILL_ENV,
        )
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from imaging.loading import imaging_model_root
        from imaging.services import imaging_model_register
        from proof.drills import scenarios

        names = args.names or list(scenarios.DRILLS)
        unknown = [n for n in names if n not in scenarios.DRILLS]
        if unknown:
            parser.error(f"unknown drills {unknown}; known: {', '.join(scenarios.DRILLS)}")
        folder = imaging_bundle_install(imaging_model_root(), name="drill-phantom-cnn")
        ctx = scenarios.Context(root=root, pg=pg, redis=redis, database_url=pg.url())
        ctx.version = imaging_model_register(folder=folder, activate=True)
        for name in names:
            started = time.monotonic()
            try:
                ok, details = scenarios.DRILLS[name](ctx)
            except Exception as error:
                ok, details = False, {"error": f"{type(error).__name__}: {error}"}
                traceback.print_exc()
            finally:
                ctx.workers_stop()
            seconds = round(time.monotonic() - started, 1)
            results[name] = {"ok": ok, "seconds": seconds, "details": details}
            short = {k: v for k, v in details.items() if k not in ("problems",)}
            print(f"{'PASS' if ok else 'FAIL'} {name} {seconds} s {short}", flush=True)
            if details.get("problems"):
                print(f"     problems: {details['problems']}", flush=True)
    finally:
        redis.stop()
        pg.stop("immediate")
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    all_ok = bool(results) and all(r["ok"] for r in results.values())
    print(json.dumps({"drills": results, "all_ok": all_ok}, default=str))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
