"""Latency of a risk assessment through the REST API against the bare model, side by side.

Builds a small world in its own SQLite database under a temporary folder (the test settings, so
nothing touches db.sqlite3 or var/): migrations, every disease model trained into the folder (or
reused from --models, a RISK_MODEL_ROOT that already holds artifacts), registered and activated;
a clinician with an API token on a care team, and a patient whose record has recent observations.

Then, per disease, after a warm-up, N rounds of, in this order:
  api      POST /api/v1/risk-assessments/ through DRF's APIClient, in process (WSGI handler,
           middleware, token auth, throttling, validation, access checks, features from the
           record, the model with its explanation, the row and its audit event, JSON out). No
           socket: a live server would add the HTTP stack and thread hand-offs, which vary from
           run to run and are the same for every endpoint; the in-process client is stable.
  service  prediction.services.risk_assess on the same patient and values (no HTTP, no auth).
  predict  RiskModel.predict on the final values (probability + exact contributions).
  raw      RiskModel.predict_proba_raw on the same features as a 1 x k array (the estimator).
The four are interleaved, so every figure sees the same machine state. The last line printed is
one JSON object: p50_ms and p99_ms of `api` over all diseases and rounds, and ratio_vs_raw =
p50(api) / p50(raw) over the same rounds; per-disease figures and the other paths besides.

    .venv/bin/python bench/risk.py [--n 300] [--warmup 30] [--models DIR] [--diseases a,b]
                                   [--db-dir /dev/shm]
"""

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the project's packages, bench.stats included

from bench.stats import percentile  # noqa: E402


def _setup(folder: Path, models: Path | None) -> None:
    """Django on the test settings, with a database and a model root of this run's own."""
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "healthmentor.test_settings"
    os.environ["HEALTHMENTOR_TEST_RUN_DIR"] = str(folder)
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'bench.sqlite3'}"
    os.environ["RISK_MODEL_ROOT"] = str(models or folder / "models")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 50) * 1000, 4),
        "p99_ms": round(percentile(samples, 99) * 1000, 4),
        "mean_ms": round(statistics.fmean(samples) * 1000, 4),
    }


def _models(root: Path, diseases: list[str]) -> dict[str, Any]:
    """{disease: active ModelVersion}: trained into `root` unless an artifact is there already."""
    from prediction.ml.training import save_trained, train_disease
    from prediction.services import model_version_activate, model_version_register

    versions = {}
    for key in diseases:
        existing = sorted((root / key).glob("*/manifest.json")) if (root / key).exists() else []
        if existing:
            folder = existing[-1].parent
        else:
            began = time.perf_counter()
            folder = Path(save_trained(train_disease(key), root))
            print(f"  trained {key} in {time.perf_counter() - began:.1f} s", flush=True)
        versions[key] = model_version_activate(
            by=None, version=model_version_register(folder=folder)
        )
    return versions


def _world() -> tuple[Any, Any, str]:
    """A clinician on a care team, their token, and a patient with a recent record."""
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from accounts.models import Role, User
    from accounts.services import role_groups_ensure, user_set_role
    from patients.services import (
        care_team_add_member,
        care_team_create,
        observation_record,
        patient_create,
    )
    from prediction.ml.diseases import DISEASES

    role_groups_ensure()
    clinician = User.objects.create_user(
        "bench.clinician@hospital.test", "bench-password-not-used-1", full_name="Bench Clinician"
    )
    user_set_role(user=clinician, role=Role.CLINICIAN)
    team = care_team_create(name="Bench team")
    care_team_add_member(team=team, user=clinician)
    patient = patient_create(
        by=clinician,
        care_teams=[team],
        mrn="BENCH-0001",
        given_name="Bench",
        family_name="Patient",
        date_of_birth=dt.date(1962, 5, 17),
        sex="female",
    )
    # Every observation a model reads, recent, at the middle of its range: the API and the service
    # then read these from the record rather than from overrides.
    seen: set[str] = set()
    for disease in DISEASES.values():
        for spec in disease.features:
            code = str(spec.source.get("code", ""))
            if spec.source.get("type") != "observation" or code in seen:
                continue
            seen.add(code)
            observation_record(
                by=clinician,
                patient=patient,
                code=code,
                value=(spec.low + spec.high) / 2,
                unit=spec.unit,
                effective_at=timezone.now() - dt.timedelta(days=2),
            )
    token, _ = Token.objects.get_or_create(user=clinician)
    return clinician, patient, token.key


def _entered(disease: str, patient: Any) -> dict[str, float]:
    """Values for the features the record does not give (what a client would send)."""
    from prediction.features import features_for_patient

    values = {}
    for fv in features_for_patient(patient=patient, disease=disease):
        if fv.value is None or fv.stale:
            spec = fv.spec
            middle = 1.0 if spec.kind == "binary" else (spec.low + spec.high) / 2
            values[spec.name] = float(round(middle)) if spec.kind == "integer" else middle
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="timed rounds per disease")
    parser.add_argument("--warmup", type=int, default=30, help="untimed rounds per disease")
    parser.add_argument("--models", type=Path, help="a RISK_MODEL_ROOT with trained artifacts")
    parser.add_argument("--diseases", default="", help="comma-separated keys (default: all)")
    parser.add_argument(
        "--db-dir",
        type=Path,
        help="where the run's SQLite database lives (default: the system's temporary folder; "
        "/dev/shm takes the disk's fsync out of the figures)",
    )
    args = parser.parse_args()
    n = max(1, min(args.n, 100_000))

    with tempfile.TemporaryDirectory(prefix="bench-risk-", dir=args.db_dir) as tmp:
        folder = Path(tmp)
        _setup(folder, args.models.resolve() if args.models else None)
        import numpy as np
        import sklearn
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from rest_framework.test import APIClient

        from prediction.loading import risk_model_get
        from prediction.ml.diseases import DISEASES
        from prediction.services import risk_assess

        diseases = [d for d in args.diseases.split(",") if d] or list(DISEASES)
        print(
            f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python "
            f"{platform.python_version()}, numpy {np.__version__}, scikit-learn "
            f"{sklearn.__version__}, database {connection.vendor}",
            flush=True,
        )
        call_command("migrate", verbosity=0)
        versions = _models(Path(str(settings.RISK_MODEL_ROOT)), diseases)
        clinician, patient, token = _world()
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        shap_before = "shap" in sys.modules

        samples: dict[str, dict[str, list[float]]] = {}
        queries: dict[str, int] = {}
        algorithms: dict[str, str] = {}
        deadline = time.monotonic() + 600
        for disease in diseases:
            model = risk_model_get(versions[disease])
            algorithms[disease] = str(model.manifest.get("algorithm", ""))
            overrides = _entered(disease, patient)
            body = {"patient": str(patient.public_id), "disease": disease, "overrides": overrides}
            first = api.post("/api/v1/risk-assessments/", body, format="json")
            if first.status_code != 201:
                raise SystemExit(f"{disease}: {first.status_code} {first.content[:500]!r}")
            final = {name: item["value"] for name, item in first.json()["inputs"].items()}
            row = np.array([[final[name] for name in model.feature_names]], dtype=float)
            with CaptureQueriesContext(connection) as captured:
                api.post("/api/v1/risk-assessments/", body, format="json")
            queries[disease] = len(captured.captured_queries)

            paths: dict[str, list[float]] = {"api": [], "service": [], "predict": [], "raw": []}
            gc.collect()
            for i in range(args.warmup + n):
                t0 = time.perf_counter()
                response = api.post("/api/v1/risk-assessments/", body, format="json")
                t1 = time.perf_counter()
                risk_assess(by=clinician, patient=patient, disease=disease, overrides=overrides)
                t2 = time.perf_counter()
                model.predict(final)
                t3 = time.perf_counter()
                model.predict_proba_raw(row)
                t4 = time.perf_counter()
                if response.status_code != 201:
                    raise SystemExit(
                        f"{disease}: {response.status_code} {response.content[:300]!r}"
                    )
                if i >= args.warmup:
                    paths["api"].append(t1 - t0)
                    paths["service"].append(t2 - t1)
                    paths["predict"].append(t3 - t2)
                    paths["raw"].append(t4 - t3)
                if time.monotonic() > deadline:
                    print("time limit reached: fewer rounds than asked", flush=True)
                    break
            samples[disease] = paths
            line = {path: _summary(values) for path, values in paths.items()}
            print(
                f"{disease:16s} {algorithms[disease]:24s} api p50 {line['api']['p50_ms']:7.2f} ms "
                f"p99 {line['api']['p99_ms']:7.2f} · service p50 {line['service']['p50_ms']:6.2f}"
                f" · predict p50 {line['predict']['p50_ms']:6.3f} · raw p50 "
                f"{line['raw']['p50_ms']:6.3f} ms · {queries[disease]} queries/request",
                flush=True,
            )

        pooled = {
            path: [t for disease in diseases for t in samples[disease][path]]
            for path in ("api", "service", "predict", "raw")
        }
        api_summary = _summary(pooled["api"])
        raw_p50 = percentile(pooled["raw"], 50)
        result: dict[str, Any] = {
            **{k: api_summary[k] for k in ("p50_ms", "p99_ms")},
            "ratio_vs_raw": round(percentile(pooled["api"], 50) / raw_p50, 2),
            "raw_p50_ms": round(raw_p50 * 1000, 4),
            "raw_p99_ms": _summary(pooled["raw"])["p99_ms"],
            "predict_p50_ms": _summary(pooled["predict"])["p50_ms"],
            "service_p50_ms": _summary(pooled["service"])["p50_ms"],
            "n_per_disease": n,
            "transport": "in-process DRF APIClient (no socket)",
            "database": f"{connection.vendor} in {folder.parent}",
            "shap_loaded_before_first_request": shap_before,
            "per_disease": {
                disease: {
                    "algorithm": algorithms[disease],
                    "queries_per_request": queries[disease],
                    **{
                        f"{path}_{key}": value
                        for path, values in samples[disease].items()
                        for key, value in _summary(values).items()
                        if key != "mean_ms"
                    },
                    "ratio_vs_raw": round(
                        percentile(samples[disease]["api"], 50)
                        / percentile(samples[disease]["raw"], 50),
                        2,
                    ),
                }
                for disease in diseases
            },
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
